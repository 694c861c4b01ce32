"""Where blobs come from, and how each one is checked against its descriptor.

A source (layout directory, archive, registry, daemon) only has to open a
blob by digest; this module bounds the read, hashes while streaming and
raises ImageError on a size or digest mismatch, naming the blob.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from abc import ABC, abstractmethod
from typing import IO, Any, BinaryIO, Protocol

from tenon_compliance.errors import ImageError
from tenon_compliance.image.model import Descriptor

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
JSON_LIMIT = 4 * 1024 * 1024
BLOB_LIMIT = 2 * 1024 * 1024 * 1024
_CHUNK = 1024 * 1024


class Sink(Protocol):
    """Anything bytes can be written to."""

    def write(self, chunk: bytes, /) -> int: ...


class BlobSource(ABC):
    """The interface every image source implements."""

    #: how the source is named in error messages (``oci:/path``, a registry URL)
    name: str

    @abstractmethod
    def open_blob(self, digest: str) -> IO[bytes]:
        """Open the blob's raw bytes. Raises ImageError when it is missing."""

    def open_manifest(self, digest: str) -> IO[bytes]:
        """Open a manifest or index by digest (a registry serves them apart)."""
        return self.open_blob(digest)

    def close(self) -> None:  # noqa: B027 - most sources hold nothing open
        """Release what the source holds open."""


def check_digest(value: object, where: str) -> str:
    """Return value when it is ``sha256:<64 hex>``; raise ImageError otherwise."""
    if not isinstance(value, str) or not DIGEST.match(value):
        raise ImageError(f"{where}: digest {value!r} is not sha256:<64 hex>")
    return value


def descriptor(raw: object, where: str) -> Descriptor:
    """Parse an OCI descriptor. Raises ImageError when a field is missing or bad."""
    if not isinstance(raw, dict):
        raise ImageError(f"{where}: descriptor is not an object")
    size = raw.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageError(f"{where}: descriptor size {size!r} is not a count")
    media_type = raw.get("mediaType")
    if not isinstance(media_type, str):
        raise ImageError(f"{where}: descriptor has no mediaType")
    return Descriptor(media_type, check_digest(raw.get("digest"), where), size)


def copy_verified(
    source: IO[bytes],
    wanted: Descriptor,
    sink: Sink,
    *,
    where: str,
    limit: int = BLOB_LIMIT,
) -> None:
    """Copy source to sink, hashing; raise ImageError on size or digest mismatch."""
    if wanted.size > limit:
        raise ImageError(
            f"{where}: blob {wanted.digest} declares {wanted.size} bytes, "
            f"over the limit of {limit}"
        )
    hasher, seen = hashlib.sha256(), 0
    while chunk := source.read(min(_CHUNK, wanted.size - seen + 1)):
        seen += len(chunk)
        if seen > wanted.size:
            raise ImageError(
                f"{where}: blob {wanted.digest} is larger than its descriptor's "
                f"size {wanted.size}"
            )
        hasher.update(chunk)
        sink.write(chunk)
    if seen != wanted.size:
        raise ImageError(
            f"{where}: blob {wanted.digest} has {seen} bytes, "
            f"its descriptor says {wanted.size}"
        )
    actual = f"sha256:{hasher.hexdigest()}"
    if actual != wanted.digest:
        raise ImageError(
            f"{where}: blob {wanted.digest} does not match its digest "
            f"(its content hashes to {actual})"
        )


def read_verified(
    source: BlobSource,
    wanted: Descriptor,
    *,
    manifest: bool = False,
    limit: int = JSON_LIMIT,
) -> bytes:
    """Read a small blob (manifest, index, config) fully, verified."""
    buffer = _Buffer()
    opener = source.open_manifest if manifest else source.open_blob
    with opener(wanted.digest) as stream:
        copy_verified(stream, wanted, buffer, where=source.name, limit=limit)
    return bytes(buffer.data)


def open_verified(source: BlobSource, wanted: Descriptor) -> BinaryIO:
    """A spooled copy of a (layer) blob, verified, positioned at its start."""
    spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115
    try:
        with source.open_blob(wanted.digest) as stream:
            copy_verified(stream, wanted, spool, where=source.name)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool  # type: ignore[return-value]


def parse_json(data: bytes, where: str) -> dict[str, Any]:
    """Parse a JSON object. Raises ImageError naming ``where`` when it is not one."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ImageError(f"{where}: not valid JSON ({error})") from error
    if not isinstance(value, dict):
        raise ImageError(f"{where}: expected a JSON object")
    return value


class _Buffer:
    """A minimal byte sink."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.data.extend(chunk)
        return len(chunk)
