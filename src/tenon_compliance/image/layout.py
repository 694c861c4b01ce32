"""Source: an OCI image layout directory (``oci:PATH``)."""

from __future__ import annotations

from pathlib import Path
from typing import IO

from tenon_compliance.errors import ImageError
from tenon_compliance.image.assemble import DEFAULT_PLATFORM, platform_entry
from tenon_compliance.image.blobs import (
    JSON_LIMIT,
    BlobSource,
    check_digest,
    parse_json,
)
from tenon_compliance.image.model import Descriptor


class LayoutSource(BlobSource):
    """Blobs under ``blobs/sha256/`` of an OCI image layout directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"oci:{path}"

    def open_blob(self, digest: str) -> IO[bytes]:
        hexdigest = check_digest(digest, self.name).split(":", 1)[1]
        blob = self.path / "blobs" / "sha256" / hexdigest
        if blob.is_symlink() or not blob.is_file():
            raise ImageError(f"{self.name}: blob {digest} is missing")
        return blob.open("rb")


def layout_root(
    index_json: bytes, name: str, platform: tuple[str, str] = DEFAULT_PLATFORM
) -> Descriptor:
    """The descriptor that a layout's index.json names for the platform.

    Raises ImageError when index.json is unreadable, too large or lists nothing.
    """
    if len(index_json) > JSON_LIMIT:
        raise ImageError(f"{name}: index.json is larger than {JSON_LIMIT} bytes")
    index = parse_json(index_json, f"{name}: index.json")
    return platform_entry(name, "index.json", index, platform)


def open_layout(path: Path) -> tuple[LayoutSource, Descriptor]:
    """The source and root descriptor of the layout directory.

    Raises ImageError when the directory is not an OCI image layout.
    """
    source = LayoutSource(path)
    for required in ("oci-layout", "index.json"):
        if not (path / required).is_file():
            raise ImageError(f"{source.name}: not an OCI image layout (no {required})")
    with (path / "index.json").open("rb") as stream:
        index_json = stream.read(JSON_LIMIT + 1)
    return source, layout_root(index_json, source.name)
