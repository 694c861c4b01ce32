"""Source: an image in the local Docker daemon (``docker:ID``), via the docker SDK.

The image is exported with ``docker save`` into a temporary file. Docker 25 and
later write an OCI image layout there, read like any ``oci-archive:``. Older
daemons write only ``manifest.json``, a config named by its digest (the image
ID) and uncompressed layer tars; then the config is checked against the image
ID and each layer against the config's ``rootfs.diff_ids``. Such an export has
no registry manifest, so the image's digest is its registry digest
(``RepoDigests``) when the daemon knows one, else its image ID, and that is
said in the reference. Where no daemon answers, the error says so.
"""

from __future__ import annotations

import importlib
import json
import tempfile
from functools import partial
from pathlib import Path
from typing import IO, Any

from tenon_compliance.errors import ImageError
from tenon_compliance.image.archive import ArchiveSource
from tenon_compliance.image.assemble import assemble, parse_config
from tenon_compliance.image.blobs import (
    JSON_LIMIT,
    check_digest,
    open_verified,
    parse_json,
)
from tenon_compliance.image.layout import layout_root
from tenon_compliance.image.model import Descriptor, ImageEvidence, Layer

SAVE_LIMIT = 4 * 1024 * 1024 * 1024
LEGACY_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


def open_daemon_image(image_id: str, workdir: Path | None = None) -> ImageEvidence:
    """Export ``image_id`` from the daemon and read it, every blob verified.

    Raises ImageError when the docker SDK is missing, no daemon answers, the
    image is unknown or the export is inconsistent.
    """
    name = f"docker:{image_id}"
    path, attrs = _export(image_id, name, workdir)
    source = _LegacyArchive(path, name)
    try:
        if "oci-layout" in source.members:
            index_json = source.read_member("index.json", JSON_LIMIT)
            return assemble(source, layout_root(index_json, name), name)
        return _legacy_image(source, attrs, name)
    finally:
        path.unlink(missing_ok=True)


def _export(
    image_id: str, name: str, workdir: Path | None
) -> tuple[Path, dict[str, Any]]:
    try:
        # imported by name: the docker SDK is optional, and the repository's own
        # docker/ folder would shadow it for static analysis
        docker: Any = importlib.import_module("docker")
        errors: Any = importlib.import_module("docker.errors")
    except ImportError as error:
        raise ImageError(
            f"{name}: the docker Python package is not installed"
        ) from error

    try:
        client = docker.from_env()
        client.ping()
    except errors.DockerException as error:
        raise ImageError(f"{name}: no Docker daemon answers ({error})") from error

    with tempfile.NamedTemporaryFile(
        dir=workdir, prefix="docker-save-", suffix=".tar", delete=False
    ) as sink:
        try:
            image = client.images.get(image_id)
            written = 0
            for chunk in image.save(named=False):
                written += len(chunk)
                if written > SAVE_LIMIT:
                    raise ImageError(f"{name}: export exceeds {SAVE_LIMIT} bytes")
                sink.write(chunk)
            attrs = dict(image.attrs)
        except errors.DockerException as error:
            Path(sink.name).unlink(missing_ok=True)
            raise ImageError(f"{name}: export failed ({error})") from error
        finally:
            client.close()
    return Path(sink.name), attrs


class _LegacyArchive(ArchiveSource):
    """An export whose blobs may be named by path rather than by digest."""

    def __init__(self, path: Path, name: str) -> None:
        super().__init__(path)
        self.name = name
        self.paths: dict[str, str] = {}

    @property
    def members(self) -> set[str]:
        return set(self._members)

    def open_blob(self, digest: str) -> IO[bytes]:
        if digest in self.paths:
            member = self._members.get(self.paths[digest])
            if member is None or not member.isfile():
                raise ImageError(f"{self.name}: {self.paths[digest]} is missing")
            return self._open(member)
        return super().open_blob(digest)


def _legacy_image(
    source: _LegacyArchive, attrs: dict[str, Any], name: str
) -> ImageEvidence:
    manifest = json.loads(source.read_member("manifest.json", JSON_LIMIT))
    if not isinstance(manifest, list) or len(manifest) != 1:
        raise ImageError(f"{name}: manifest.json must describe exactly one image")
    entry = manifest[0]

    # the config's name is its digest, and it must be the daemon's image ID
    image_id = check_digest(attrs.get("Id"), f"{name} image ID")
    config_member = str(entry.get("Config", ""))
    config_bytes = source.read_member(config_member, JSON_LIMIT)
    config_descriptor = Descriptor(
        "application/vnd.docker.container.image.v1+json", image_id, len(config_bytes)
    )
    source.paths[image_id] = config_member
    with open_verified(source, config_descriptor) as stream:
        config_raw = parse_json(stream.read(), f"{name}: config {image_id}")

    # each layer tar must hash to the diff_id the config lists for it
    diff_ids = (config_raw.get("rootfs") or {}).get("diff_ids") or []
    layer_paths = entry.get("Layers") or []
    if len(diff_ids) != len(layer_paths):
        raise ImageError(
            f"{name}: {len(layer_paths)} layers but "
            f"{len(diff_ids)} diff_ids in the config"
        )
    layers = []
    for index, (diff_id, member) in enumerate(zip(diff_ids, layer_paths, strict=True)):
        digest = check_digest(diff_id, f"{name} layer {index}")
        source.paths[digest] = str(member)
        size = source.member_size(str(member))
        descriptor = Descriptor(LEGACY_LAYER, digest, size)
        layers.append(
            Layer(index, descriptor, partial(open_verified, source, descriptor))
        )

    repo_digests = [d.split("@", 1)[1] for d in attrs.get("RepoDigests") or []]
    digest = repo_digests[0] if repo_digests else image_id
    origin = "registry digest" if repo_digests else "image ID: no registry digest"
    return ImageEvidence(
        reference=f"{name} ({origin})",
        digest=digest,
        manifest={"config": config_descriptor.digest, "layers": layer_paths},
        config=parse_config(config_raw, f"{name}: config"),
        layers=tuple(layers),
    )
