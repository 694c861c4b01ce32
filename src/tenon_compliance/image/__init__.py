"""Image evidence: the built image, read from where it lives, every blob verified.

``open_image(ref)`` accepts:

- ``oci:PATH`` an OCI image layout directory,
- ``oci-archive:PATH`` a tar of such a layout,
- ``registry:HOST[:PORT]/REPO@sha256:HEX`` a registry (distribution API),
- ``docker:ID`` an image in the local Docker daemon.

``load_image(evidence)`` is the memoized loader the controls use.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tenon_compliance.errors import EvidenceMissingError, ImageError
from tenon_compliance.image.assemble import assemble
from tenon_compliance.image.blobs import BlobSource
from tenon_compliance.image.model import (
    Descriptor,
    ImageConfig,
    ImageEvidence,
    Layer,
    LayerEntry,
)

if TYPE_CHECKING:
    from tenon_compliance.evidence import Evidence

__all__ = [
    "ImageConfig",
    "ImageEvidence",
    "Layer",
    "LayerEntry",
    "load_image",
    "open_image",
]

NO_IMAGE = "no image evidence: pass --image"


def open_image(ref: str) -> ImageEvidence:
    """Read the image ``ref`` names. Raises ImageError when it is unusable."""
    if ref.startswith("docker:"):
        from tenon_compliance.image.daemon import open_daemon_image  # noqa: PLC0415

        return open_daemon_image(ref.partition(":")[2])
    source, root = open_source(ref)
    return assemble(source, root, ref)


def open_source(ref: str) -> tuple[BlobSource, Descriptor]:
    """The blob source and root descriptor of an oci, oci-archive or registry ref.

    Raises ImageError for anything else (``docker:`` goes through open_image,
    since an older daemon's export has no manifest to start from).
    """
    kind, _, rest = ref.partition(":")
    if not rest:
        raise ImageError(
            f"{ref}: not an image reference (oci:, oci-archive:, registry:, docker:)"
        )
    if kind == "oci":
        from tenon_compliance.image.layout import open_layout  # noqa: PLC0415

        return open_layout(Path(rest))
    if kind == "oci-archive":
        from tenon_compliance.image.archive import open_archive  # noqa: PLC0415

        return open_archive(Path(rest))
    if kind == "registry":
        from tenon_compliance.image.registry import open_registry  # noqa: PLC0415

        return open_registry(rest)
    raise ImageError(
        f"{ref}: unknown image source {kind!r} (oci, oci-archive, registry, docker)"
    )


def load_image(evidence: Evidence) -> ImageEvidence:
    """The run's image (Options.image), read once.

    Raises EvidenceMissingError when no image was given, ImageError when it is
    unusable.
    """
    ref = evidence.options.image
    if ref is None:
        raise EvidenceMissingError(NO_IMAGE)
    return evidence.load("image", lambda _evidence: open_image(ref))
