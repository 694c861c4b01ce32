"""Writing OCI image layouts: layers, config, manifest, index.json, oci-layout.

The suite's tests build their images with this (a good image and broken ones);
it also serves anyone who needs a small layout without a container engine.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenon_compliance.image.model import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST, Descriptor

MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
_EPOCH = 1_700_000_000


@dataclass(frozen=True)
class Entry:
    """One entry to put into a layer tar."""

    path: str
    content: bytes = b""
    mode: int = 0o644
    kind: str = "file"
    link: str = ""
    uid: int = 0
    gid: int = 0


def layer_tar(entries: Iterable[Entry]) -> bytes:
    """An uncompressed tar holding the entries, with fixed timestamps."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.mode, info.mtime = entry.mode, _EPOCH
            info.uid, info.gid = entry.uid, entry.gid
            info.type = {
                "file": tarfile.REGTYPE,
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "hardlink": tarfile.LNKTYPE,
            }[entry.kind]
            info.linkname = entry.link
            data = entry.content if entry.kind == "file" else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of data."""
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


class LayoutWriter:
    """Writes blobs and an index.json into an OCI image layout directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        (path / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')

    def blob(self, data: bytes, media_type: str) -> Descriptor:
        """Store data as a blob and return its descriptor."""
        digest = sha256(data)
        (self.path / "blobs" / "sha256" / digest.split(":")[1]).write_bytes(data)
        return Descriptor(media_type, digest, len(data))

    def json_blob(self, value: dict[str, Any], media_type: str) -> Descriptor:
        """Store a JSON document as a blob."""
        return self.blob(json.dumps(value, sort_keys=True).encode(), media_type)

    def image(
        self,
        layers: list[bytes],
        config: dict[str, Any],
        history: list[str] | None = None,
    ) -> Descriptor:
        """Write the layers (gzip-compressed), a config and a manifest.

        ``history`` lists the build steps; the first ``len(layers)`` are the
        ones that made the layers, later ones are marked ``empty_layer``.

        ``config`` is the inner ``config`` object (User, Env, Labels, ...).
        Returns the manifest's descriptor.
        """
        stored = [
            self.blob(gzip.compress(tar, mtime=0), MEDIA_LAYER_GZIP) for tar in layers
        ]
        image_config = {
            "architecture": "amd64",
            "os": "linux",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [sha256(tar) for tar in layers]},
            "history": _history(history or [], len(layers)),
        }
        config_descriptor = self.json_blob(image_config, MEDIA_CONFIG)
        manifest = {
            "schemaVersion": 2,
            "mediaType": MEDIA_OCI_MANIFEST,
            "config": as_json(config_descriptor),
            "layers": [as_json(layer) for layer in stored],
        }
        return self.json_blob(manifest, MEDIA_OCI_MANIFEST)

    def index(self, manifests: list[Descriptor], platform: bool = True) -> None:
        """Write index.json listing the manifests (linux/amd64 when platform)."""
        entries = []
        for manifest in manifests:
            entry = as_json(manifest)
            if platform:
                entry["platform"] = {"os": "linux", "architecture": "amd64"}
            entries.append(entry)
        index = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": entries}
        (self.path / "index.json").write_text(json.dumps(index))


def _history(lines: list[str], layers: int) -> list[dict[str, Any]]:
    """History entries: the first ``layers`` made a layer, the rest were empty."""
    return [
        {"created_by": line, **({"empty_layer": True} if n >= layers else {})}
        for n, line in enumerate(lines)
    ]


def as_json(descriptor: Descriptor) -> dict[str, Any]:
    """The descriptor as it appears in a manifest."""
    return {
        "mediaType": descriptor.media_type,
        "digest": descriptor.digest,
        "size": descriptor.size,
    }
