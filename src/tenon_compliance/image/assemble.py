"""From a root descriptor to ImageEvidence: index, manifest, config, layers.

Shared by every source. An index is resolved to the manifest of the wanted
platform (linux/amd64 unless told otherwise); an index without it is an error.
"""

from __future__ import annotations

from typing import Any

from tenon_compliance.errors import ImageError
from tenon_compliance.image.blobs import (
    BlobSource,
    descriptor,
    open_verified,
    parse_json,
    read_verified,
)
from tenon_compliance.image.model import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Descriptor,
    ImageConfig,
    ImageEvidence,
    Layer,
)

DEFAULT_PLATFORM = ("linux", "amd64")


def assemble(
    source: BlobSource,
    root: Descriptor,
    reference: str,
    platform: tuple[str, str] = DEFAULT_PLATFORM,
) -> ImageEvidence:
    """Read the image that ``root`` names. Raises ImageError on any bad blob."""
    manifest_descriptor = resolve_manifest(source, root, platform)
    manifest = parse_json(
        read_verified(source, manifest_descriptor, manifest=True),
        f"{source.name}: manifest {manifest_descriptor.digest}",
    )

    where = f"{source.name}: manifest {manifest_descriptor.digest}"
    config_descriptor = descriptor(manifest.get("config"), f"{where} config")
    config_raw = parse_json(
        read_verified(source, config_descriptor),
        f"{source.name}: config {config_descriptor.digest}",
    )
    layers = tuple(
        _layer(source, index, descriptor(raw, f"{where} layer {index}"))
        for index, raw in enumerate(_list(manifest.get("layers"), f"{where} layers"))
    )
    return ImageEvidence(
        reference=reference,
        digest=manifest_descriptor.digest,
        manifest=manifest,
        config=parse_config(config_raw, f"{source.name}: config"),
        layers=layers,
    )


def resolve_manifest(
    source: BlobSource, root: Descriptor, platform: tuple[str, str]
) -> Descriptor:
    """Follow indexes down to the platform's image manifest."""
    current = root
    for _depth in range(4):
        if current.media_type in MANIFEST_TYPES:
            return current
        if current.media_type not in INDEX_TYPES:
            raise ImageError(
                f"{source.name}: {current.digest} has media type "
                f"{current.media_type!r}, neither an image manifest nor an index"
            )
        index = parse_json(
            read_verified(source, current, manifest=True),
            f"{source.name}: index {current.digest}",
        )
        current = platform_entry(source.name, current.digest, index, platform)
    raise ImageError(f"{source.name}: indexes nested too deep below {root.digest}")


def platform_entry(
    name: str, digest: str, index: dict[str, Any], platform: tuple[str, str]
) -> Descriptor:
    """The one entry of ``index`` for the platform (or its only, unlabelled one).

    Raises ImageError when there is none or more than one.
    """
    manifests = _list(index.get("manifests"), f"{name}: index {digest}")
    candidates = []
    for position, raw in enumerate(manifests):
        entry = descriptor(raw, f"{name}: index {digest} entry {position}")
        wanted = raw.get("platform") if isinstance(raw, dict) else None
        if isinstance(wanted, dict):
            if (wanted.get("os"), wanted.get("architecture")) == platform:
                candidates.append(entry)
        elif len(manifests) == 1:
            candidates.append(entry)
    if len(candidates) != 1:
        raise ImageError(
            f"{name}: index {digest} has {len(candidates)} manifests for platform "
            f"{'/'.join(platform)}; exactly one is needed"
        )
    return candidates[0]


def parse_config(raw: dict[str, Any], where: str) -> ImageConfig:
    """The controls' view of an image configuration."""
    inner = raw.get("config") or {}
    if not isinstance(inner, dict):
        raise ImageError(f"{where}: 'config' is not an object")
    labels = inner.get("Labels") or {}
    if not isinstance(labels, dict):
        raise ImageError(f"{where}: config.Labels is not an object")
    history = _list(raw.get("history") or [], f"{where} history")
    return ImageConfig(
        user=str(inner.get("User") or ""),
        env=_strings(inner.get("Env"), f"{where} config.Env"),
        labels={str(key): str(value) for key, value in labels.items()},
        entrypoint=_strings(inner.get("Entrypoint"), f"{where} config.Entrypoint"),
        cmd=_strings(inner.get("Cmd"), f"{where} config.Cmd"),
        history=tuple(
            str(item.get("created_by", ""))
            for item in history
            if isinstance(item, dict)
        ),
        raw=raw,
    )


def _layer(source: BlobSource, index: int, wanted: Descriptor) -> Layer:
    return Layer(index, wanted, lambda: open_verified(source, wanted))


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ImageError(f"{where}: expected a list")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImageError(f"{where}: expected a list of strings")
    return tuple(value)
