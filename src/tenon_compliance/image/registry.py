"""Source: an OCI distribution registry (``registry:HOST[:PORT]/REPO@sha256:HEX``).

HTTPS, except for loopback hosts, where plain HTTP is used (a test or a local
mirror). Anonymous access, or a bearer token obtained by following the
registry's ``WWW-Authenticate: Bearer realm=...`` challenge (the token endpoint
must be HTTPS too unless it is on loopback). Only digest references are
accepted: a tag can move, a digest cannot.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO, Any

from tenon_compliance.errors import ImageError
from tenon_compliance.image.blobs import JSON_LIMIT, BlobSource, check_digest
from tenon_compliance.image.model import INDEX_TYPES, MANIFEST_TYPES, Descriptor

_log = logging.getLogger(__name__)

REFERENCE = re.compile(
    r"^(?P<host>[A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])(?::(?P<port>\d{1,5}))?"
    r"/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)@(?P<digest>sha256:[0-9a-f]{64})$"
)
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
ACCEPT = ", ".join(MANIFEST_TYPES + INDEX_TYPES)
TIMEOUT = 30.0


@dataclass(frozen=True)
class RegistryReference:
    """A parsed ``HOST[:PORT]/REPO@sha256:HEX``."""

    host: str
    port: int | None
    repository: str
    digest: str

    @property
    def base(self) -> str:
        scheme = "http" if self.host in LOOPBACK else "https"
        netloc = f"{self.host}:{self.port}" if self.port else self.host
        return f"{scheme}://{netloc}/v2/{self.repository}"


def parse_reference(text: str) -> RegistryReference:
    """Parse a registry reference. Raises ImageError when it is not one."""
    match = REFERENCE.match(text)
    if not match:
        raise ImageError(
            f"registry:{text}: not HOST[:PORT]/REPOSITORY@sha256:<64 hex> "
            "(tags are not accepted, only digests)"
        )
    port = int(match["port"]) if match["port"] else None
    return RegistryReference(match["host"], port, match["repository"], match["digest"])


class RegistrySource(BlobSource):
    """Blobs and manifests fetched over the OCI distribution API."""

    def __init__(
        self, reference: RegistryReference, context: ssl.SSLContext | None = None
    ) -> None:
        self.reference = reference
        self.name = f"registry:{reference.base}"
        self._context = context or ssl.create_default_context()
        self._token: str | None = None

    def open_manifest(self, digest: str) -> IO[bytes]:
        check_digest(digest, self.name)
        response = self._get(f"{self.reference.base}/manifests/{digest}", digest)
        with response:
            data = response.read(JSON_LIMIT + 1)
        return io.BytesIO(data)

    def open_blob(self, digest: str) -> IO[bytes]:
        check_digest(digest, self.name)
        return self._get(f"{self.reference.base}/blobs/{digest}", digest)

    def root(self) -> Descriptor:
        """The descriptor of the referenced manifest or index, read from the registry.

        Raises ImageError when it cannot be fetched or its type is unknown.
        """
        digest = self.reference.digest
        url = f"{self.reference.base}/manifests/{digest}"
        with self._get(url, digest) as response:
            media_type = response.headers.get_content_type()
            data = response.read(JSON_LIMIT + 1)
        if media_type not in MANIFEST_TYPES + INDEX_TYPES:
            media_type = _declared_type(data, self.name)
        return Descriptor(media_type, digest, len(data))

    # -- HTTP ----------------------------------------------------------------

    def _get(self, url: str, what: str) -> http.client.HTTPResponse:
        try:
            return self._send(url)
        except urllib.error.HTTPError as error:
            if error.code == 401 and self._token is None:
                self._token = self._authenticate(error.headers.get("WWW-Authenticate"))
                return self._get(url, what)
            if error.code == 404:
                raise ImageError(
                    f"{self.name}: {what} is missing (HTTP 404)"
                ) from error
            raise ImageError(
                f"{self.name}: fetching {what} failed (HTTP {error.code})"
            ) from error
        except (urllib.error.URLError, OSError) as error:
            raise ImageError(
                f"{self.name}: fetching {what} failed ({error})"
            ) from error

    def _send(self, url: str) -> http.client.HTTPResponse:
        request = urllib.request.Request(url, headers={"Accept": ACCEPT})  # noqa: S310
        if self._token:
            request.add_header("Authorization", f"Bearer {self._token}")
        _log.debug("GET %s", url)
        opener = urllib.request.build_opener(
            urllib.request.HTTPSHandler(context=self._context),
            RegistryRedirectHandler(),
        )
        response: http.client.HTTPResponse = opener.open(request, timeout=TIMEOUT)
        return response

    def _authenticate(self, challenge: str | None) -> str:
        """Follow a Bearer challenge to the token endpoint; return the token."""
        params = parse_challenge(challenge, self.name)
        realm = params.pop("realm")
        realm_host = urllib.parse.urlsplit(realm)
        if realm_host.scheme != "https" and realm_host.hostname not in LOOPBACK:
            raise ImageError(f"{self.name}: token realm {realm} is not HTTPS")
        query = urllib.parse.urlencode(params)
        url = f"{realm}{'&' if '?' in realm else '?'}{query}"
        try:
            with urllib.request.urlopen(  # noqa: S310 - scheme checked above
                url, timeout=TIMEOUT, context=self._context
            ) as response:
                body = json.loads(response.read(JSON_LIMIT))
        except (OSError, ValueError) as error:
            raise ImageError(
                f"{self.name}: token request to {realm} failed ({error})"
            ) from error
        token = (
            body.get("token") or body.get("access_token")
            if isinstance(body, dict)
            else None
        )
        if not isinstance(token, str) or not token:
            raise ImageError(f"{self.name}: token endpoint {realm} returned no token")
        return token


class RegistryRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows a registry's redirect to blob storage, without leaking the token.

    Blob downloads are usually redirected to a storage service with a signed
    URL; the registry's bearer token must not go there (it is not meant for
    that host, and such services refuse a second credential). A redirect from
    HTTPS to plain HTTP is refused.
    """

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if old.scheme == "https" and new.scheme != "https":
            raise ImageError(
                f"registry:{req.full_url}: redirect to {newurl} leaves HTTPS"
            )
        redirected = super().redirect_request(req, fp, code, msg, headers, newurl)
        if redirected is not None and new.netloc != old.netloc:
            redirected.remove_header("Authorization")
        return redirected


def parse_challenge(header: str | None, name: str) -> dict[str, str]:
    """The parameters of a ``Bearer`` WWW-Authenticate challenge.

    Raises ImageError when the challenge is absent or not Bearer with a realm.
    """
    if not header or not header.lower().startswith("bearer "):
        raise ImageError(
            f"{name}: registry asks for authentication this client does not "
            f"support ({header or 'no challenge'}); only Bearer tokens are followed"
        )
    params = dict(re.findall(r'(\w+)="([^"]*)"', header[len("Bearer ") :]))
    if "realm" not in params:
        raise ImageError(f"{name}: Bearer challenge without a realm: {header}")
    return params


def _declared_type(data: bytes, name: str) -> str:
    try:
        value = json.loads(data)
    except ValueError as error:
        raise ImageError(f"{name}: manifest is not JSON ({error})") from error
    media_type = value.get("mediaType") if isinstance(value, dict) else None
    if not isinstance(media_type, str):
        raise ImageError(f"{name}: manifest declares no known media type")
    return media_type


def open_registry(
    text: str, context: ssl.SSLContext | None = None
) -> tuple[RegistrySource, Descriptor]:
    """The source and root descriptor of ``HOST[:PORT]/REPO@sha256:HEX``."""
    source = RegistrySource(parse_reference(text), context)
    return source, source.root()
