"""What an image is, as the controls see it: manifest, config, layers, entries.

Every blob behind these objects was read through ``blobs.read_verified``, so its
sha256 and size match the descriptor that named it.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)


@dataclass(frozen=True)
class Descriptor:
    """A content descriptor: media type, ``sha256:<hex>`` digest and size."""

    media_type: str
    digest: str
    size: int


@dataclass(frozen=True)
class ImageConfig:
    """The parts of the image configuration the controls read."""

    user: str
    env: tuple[str, ...]
    labels: dict[str, str]
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    history: tuple[str, ...]
    raw: dict[str, Any] = field(compare=False, repr=False)


@dataclass(frozen=True)
class LayerEntry:
    """One entry of a layer tar, read without extracting it.

    ``path`` is normalised (no leading ``./`` or ``/``); ``whiteout`` is the
    path an OCI whiteout removes (``.wh.<name>``), ``opaque`` marks an opaque
    directory whiteout (``.wh..wh..opq``) for the directory ``path``.
    """

    path: str
    kind: str
    mode: int
    size: int
    link_target: str = ""
    whiteout: str = ""
    opaque: bool = False

    @property
    def setuid(self) -> bool:
        return bool(self.mode & 0o4000)

    @property
    def setgid(self) -> bool:
        return bool(self.mode & 0o2000)


@dataclass(frozen=True)
class Layer:
    """One layer: its descriptor, and a way to open its verified bytes."""

    index: int
    descriptor: Descriptor
    opener: Callable[[], BinaryIO] = field(compare=False, repr=False)

    def entries(self) -> Iterator[LayerEntry]:
        """Each tar entry of the layer, in order. Raises ImageError on a bad entry."""
        from tenon_compliance.image.layers import (  # noqa: PLC0415 - cycle
            iterate_entries,
        )

        with self.opener() as stream:
            yield from iterate_entries(stream, self.descriptor.digest)


@dataclass(frozen=True)
class ImageEvidence:
    """One image, read from its source with every blob verified."""

    reference: str
    digest: str
    manifest: dict[str, Any] = field(repr=False)
    config: ImageConfig = field(repr=False)
    layers: tuple[Layer, ...] = field(repr=False)

    @property
    def compressed_size(self) -> int:
        """The sum of the layers' sizes as stored (what is pulled)."""
        return sum(layer.descriptor.size for layer in self.layers)


TAR_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}
