"""Verifying a Sigstore bundle against a digest, fully offline, with sigstore 4.5.1.

Two bundle kinds are accepted:

- a DSSE envelope holding an in-toto statement (cosign 3's default for
  ``cosign sign --bundle``): sigstore verifies the envelope but not what it is
  about, so the statement's subject digest is compared here with the digest
  the caller took from the manifests, never with one read from the bundle;
- a message signature over the digest itself (``Hashed`` sha256 input).

Every failure is a SignatureError whose message says which check refused.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sigstore
from sigstore.errors import Error as SigstoreError
from sigstore.hashes import Hashed
from sigstore.models import Bundle, TrustedRoot
from sigstore.verify import Verifier
from sigstore.verify.policy import VerificationPolicy
from sigstore_models.common.v1 import HashAlgorithm

from tenon_compliance.errors import SignatureError

IN_TOTO = "application/vnd.in-toto+json"
STATEMENT_TYPES = (
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
)
DIGEST = re.compile(r"^sha256:([0-9a-f]{64})$")
PRODUCTION_ROOT = (
    Path(sigstore.__file__).parent
    / "_store"
    / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"
    / "trusted_root.json"
)
BUNDLE_LIMIT = 8 * 1024 * 1024


class DigestFormatError(ValueError):
    """A digest that is not ``sha256:<64 lowercase hex>``."""


@dataclass(frozen=True)
class VerifiedSignature:
    """What a verified bundle proves."""

    kind: str
    digest: str
    predicate_type: str | None = None


def digest_bytes(digest: str) -> bytes:
    """The raw sha256 of ``sha256:<hex>``. Raises DigestFormatError otherwise."""
    match = DIGEST.match(digest)
    if not match:
        raise DigestFormatError(f"digest {digest!r} is not sha256:<64 lowercase hex>")
    return bytes.fromhex(match[1])


def load_trusted_root(path: Path | None) -> TrustedRoot:
    """The trust root in ``path``, or Sigstore's production root shipped in sigstore.

    Raises SignatureError when the file cannot be read as a trusted root.
    """
    chosen = path or PRODUCTION_ROOT
    try:
        return TrustedRoot.from_file(str(chosen))
    except (OSError, ValueError, SigstoreError) as error:
        raise SignatureError(
            f"{chosen}: not a usable Sigstore trusted root ({error})"
        ) from error


def parse_bundle(data: bytes, where: str) -> Bundle:
    """A sigstore Bundle. Raises SignatureError when it is malformed or too large."""
    if len(data) > BUNDLE_LIMIT:
        raise SignatureError(f"{where}: bundle is larger than {BUNDLE_LIMIT} bytes")
    try:
        return Bundle.from_json(data)
    except (ValueError, SigstoreError) as error:
        raise SignatureError(
            f"{where}: not a valid Sigstore bundle ({error})"
        ) from error


def verify_bundle(
    data: bytes,
    *,
    digest: str,
    policy: VerificationPolicy,
    trusted_root: TrustedRoot,
    predicate_type: str | None = None,
    where: str,
) -> VerifiedSignature:
    """Verify the bundle in ``data`` binds ``digest`` under ``policy``.

    ``digest`` must come from the deployment (the overlays' pinned digest), not
    from the bundle. Raises DigestFormatError for a malformed digest and
    SignatureError when the bundle is rejected.
    """
    wanted = digest_bytes(digest)
    bundle = parse_bundle(data, where)
    verifier = Verifier(trusted_root=trusted_root)
    try:
        # sigstore has no public accessor telling the two bundle kinds apart
        if bundle._dsse_envelope is not None:
            payload_type, payload = verifier.verify_dsse(bundle, policy)
            return check_statement(payload_type, payload, digest, predicate_type, where)
        verifier.verify_artifact(
            Hashed(algorithm=HashAlgorithm.SHA2_256, digest=wanted), bundle, policy
        )
    except SigstoreError as error:
        raise SignatureError(f"{where}: {error}") from error
    if predicate_type is not None:
        raise SignatureError(
            f"{where}: a message signature carries no in-toto "
            f"statement, but predicate type {predicate_type} is "
            "required"
        )
    return VerifiedSignature("message", digest)


def check_statement(
    payload_type: str,
    payload: bytes,
    digest: str,
    predicate_type: str | None,
    where: str,
) -> VerifiedSignature:
    """Check a verified DSSE payload is an in-toto statement about ``digest``.

    Raises SignatureError when the type, subject or predicate type differ.
    """
    if payload_type != IN_TOTO:
        raise SignatureError(
            f"{where}: DSSE payload type {payload_type!r} is not {IN_TOTO}"
        )
    statement = _statement(payload, where)

    hexdigest = digest.split(":", 1)[1]
    subjects = statement.get("subject")
    digests = [
        item.get("digest", {}).get("sha256")
        for item in subjects or []
        if isinstance(item, dict) and isinstance(item.get("digest"), dict)
    ]
    if hexdigest not in digests:
        raise SignatureError(
            f"{where}: the in-toto statement's subject does not "
            f"name {digest} (it names "
            f"{', '.join(f'sha256:{d}' for d in digests) or 'nothing'})"
        )

    found = statement.get("predicateType")
    if predicate_type is not None and found != predicate_type:
        raise SignatureError(
            f"{where}: predicate type {found!r} is not the required {predicate_type}"
        )
    return VerifiedSignature("dsse", digest, found if isinstance(found, str) else None)


def _statement(payload: bytes, where: str) -> dict[str, Any]:
    try:
        statement = json.loads(payload)
    except ValueError as error:
        raise SignatureError(
            f"{where}: the DSSE payload is not JSON ({error})"
        ) from error
    if not isinstance(statement, dict) or statement.get("_type") not in STATEMENT_TYPES:
        raise SignatureError(f"{where}: the DSSE payload is not an in-toto statement")
    if not isinstance(statement.get("subject"), list):
        raise SignatureError(f"{where}: the in-toto statement has no subject list")
    return statement
