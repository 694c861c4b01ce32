"""The Kubernetes evidence: every overlay rendered by kustomize, traced to its source.

For each folder under ``k8s/overlays/`` (the environment is the folder name):

1. Walk the kustomization tree ourselves, before any tool runs: every base,
   resource, patch and generator file must be a local path inside the
   repository. A remote base (URL, git, ``github.com/...``, ``?ref=``) or a
   path escaping the root is a LoadError naming the kustomization file and
   line, so kustomize never gets the chance to reach the network. Every file
   read is recorded as an input of the run.
2. Render with ``kubectl kustomize`` (or ``kustomize build``).
3. Parse the rendered objects and give each a ``Trace``: the ordered layers
   (resource documents, patches, ``replicas:``/``images:`` entries) that
   may have set its fields, so ``obj.location("spec", "replicas")`` names
   the overlay line that set the value, or the base line when no overlay
   touched it.

Known limits of the trace (the rendering itself is kustomize's and exact):
names changed by ``namePrefix``/``nameSuffix`` are matched by composing the
prefixes down the tree, which covers the usual layouts but not a patch that
names an object by a prefix-less name from a deeper level; ``replacements``
and ``vars`` are rendered but not traced (their fields trace to the
resource line). Kustomize plugins, generators/transformers/validators and
Helm charts are refused outright: they can run programs or fetch charts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence
from tenon_compliance.loaders.yaml_lines import (
    Limits,
    MappingNode,
    Node,
    ScalarNode,
    SequenceNode,
    find,
    line_of,
    load_documents,
    plain,
    repository_documents,
)
from tenon_compliance.model import Location

log = logging.getLogger(__name__)

OVERLAYS = "k8s/overlays"
KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
RENDER_TIMEOUT_SECONDS = 120
RENDERED_LIMITS = Limits(max_bytes=32 * 1024 * 1024)

# A reference kustomize would fetch instead of reading from disk.
_REMOTE = re.compile(
    r"(://|^git@|^git::|^ssh:|\?ref=|\?version=|\?submodules=|\.git($|/|\?)"
    r"|^(github\.com|gitlab\.com|bitbucket\.org)/)",
    re.IGNORECASE,
)

# Fields of a kustomization the walk understands. Anything else fails closed.
_KNOWN_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "resources",
        "bases",
        "components",
        "patches",
        "patchesStrategicMerge",
        "patchesJson6902",
        "images",
        "replicas",
        "namespace",
        "namePrefix",
        "nameSuffix",
        "commonLabels",
        "labels",
        "commonAnnotations",
        "configMapGenerator",
        "secretGenerator",
        "generatorOptions",
        "crds",
        "configurations",
        "openapi",
        "replacements",
        "buildMetadata",
        "sortOptions",
        "vars",
    }
)
# Fields that run programs or fetch charts: never allowed in TENON's manifests.
_FORBIDDEN_FIELDS = {
    "helmCharts": "Helm charts may be fetched from the network",
    "helmGlobals": "Helm charts may be fetched from the network",
    "helmChartInflationGenerator": "Helm charts may be fetched from the network",
    "generators": "generator plugins can run programs",
    "transformers": "transformer plugins can run programs",
    "validators": "validator plugins can run programs",
}

# Keys that identify an item of a list, in the order kustomize's strategic
# merge uses them, so a traced path follows the same item in every layer.
_ITEM_KEYS = ("name", "mountPath", "containerPort", "topologyKey", "ip", "port")


# --------------------------------------------------------------------------
# The model


@dataclass(frozen=True)
class Layer:
    """One source that may set fields of an object, and how deep it reaches.

    ``reach(path, body)`` returns how much of path this layer sets (0 when it
    does not touch it) and the line to cite.
    """

    file: str
    applies: Callable[[str, str, Mapping[str, Any]], bool]
    reach: Callable[[tuple[Any, ...], Mapping[str, Any]], tuple[float, int | None]]
    defines: bool = False
    kind: str | None = None  # set when the layer can only apply to this kind


@dataclass(frozen=True)
class Trace:
    """The layers of one rendered object, in the order kustomize applied them."""

    layers: tuple[Layer, ...]
    fallback: Location

    def locate(self, path: tuple[Any, ...], body: Mapping[str, Any]) -> Location:
        """The line that set path: the deepest-reaching layer, the latest on a tie."""
        if not path:
            return self.origin()
        best: tuple[float, Location] | None = None
        for layer in self.layers:
            depth, line = layer.reach(path, body)
            if depth > 0 and (best is None or depth >= best[0]):
                best = (depth, Location(layer.file, line))
        return best[1] if best else self.origin()

    def origin(self) -> Location:
        """Where the object is defined (its resource document or generator)."""
        for layer in self.layers:
            if layer.defines:
                return Location(layer.file, layer.reach((), {})[1])
        return self.fallback


@dataclass(frozen=True)
class KubeObject:
    """One rendered object of one overlay."""

    env: str
    kind: str
    api_version: str
    name: str
    namespace: str | None
    body: dict[str, Any] = field(repr=False)
    trace: Trace = field(repr=False, compare=False)

    @property
    def id(self) -> str:
        """The subject id, for example ``prod:Deployment/runtime-api``."""
        return f"{self.env}:{self.kind}/{self.name}"

    def location(self, *path: Any) -> Location:
        """The source line of the field at path (or of the object for no path)."""
        return self.trace.locate(tuple(path), self.body)

    def get(self, *path: Any) -> Any:
        """The rendered value at path, or None when any part is missing."""
        current: Any = self.body
        for part in path:
            if isinstance(current, Mapping) and part in current:
                current = current[part]
            elif isinstance(current, list) and isinstance(part, int):
                if not 0 <= part < len(current):
                    return None
                current = current[part]
            else:
                return None
        return current


@dataclass(frozen=True)
class Overlay:
    """One environment's rendered overlay."""

    env: str
    directory: str
    kustomization: str
    objects: tuple[KubeObject, ...]
    files: tuple[str, ...]

    def of_kind(self, *kinds: str) -> list[KubeObject]:
        """The objects whose kind is one of kinds, in rendering order."""
        return [obj for obj in self.objects if obj.kind in kinds]

    def find(self, kind: str, name: str) -> KubeObject | None:
        """The object of that kind and name, or None."""
        for obj in self.objects:
            if obj.kind == kind and obj.name == name:
                return obj
        return None


@dataclass(frozen=True)
class KubernetesModel:
    """Every overlay found under k8s/overlays, by environment name."""

    overlays: dict[str, Overlay]

    def objects(self) -> Iterator[KubeObject]:
        """Every object of every overlay."""
        for overlay in self.overlays.values():
            yield from overlay.objects


# --------------------------------------------------------------------------
# Entry point


def load(evidence: Evidence) -> KubernetesModel:
    """Render and trace every overlay under k8s/overlays.

    Raises LoadError for a missing overlays folder, a refused or broken
    kustomization, a missing kustomize, or a failed rendering.
    """
    folders = _overlay_folders(evidence.root)
    tool = _kustomize_command()
    # Every overlay is walked (and refused if it must be) before any tool runs.
    walks = {env: _Walk(evidence, folder).run() for env, folder in folders.items()}
    with contextlib.closing(_rendered(tool, evidence.root, walks)) as rendered:
        overlays = {env: _overlay(env, walks[env], output) for env, output in rendered}
    return KubernetesModel(overlays)


def kubernetes(evidence: Evidence) -> KubernetesModel:
    """The memoized Kubernetes model of this run (see ``load``)."""
    return evidence.load("kubernetes", load)


def _overlay_folders(root: Path) -> dict[str, str]:
    base = root / OVERLAYS
    if not base.is_dir():
        raise LoadError(OVERLAYS, None, "no overlays folder: nothing to render")
    folders = {
        entry.name: f"{OVERLAYS}/{entry.name}"
        for entry in sorted(base.iterdir())
        if entry.is_dir()
    }
    if not folders:
        raise LoadError(OVERLAYS, None, "no overlay under the overlays folder")
    return folders


# --------------------------------------------------------------------------
# Step 1: walk the kustomization tree


@dataclass
class _Walk:
    """Walks one overlay's kustomization tree, collecting files and layers."""

    evidence: Evidence
    directory: str
    files: list[str] = field(default_factory=list)
    layers: list[Layer] = field(default_factory=list)
    kustomization: str = ""
    _stack: list[str] = field(default_factory=list)
    _by_kind: dict[str, tuple[Layer, ...]] = field(default_factory=dict)

    def run(self) -> _Walk:
        self.kustomization = self.visit(self.directory, ("", ""))
        return self

    def layers_for(self, kind: str) -> tuple[Layer, ...]:
        """The layers that may apply to an object of kind, in order (memoized).

        Without it every object was tested against every layer, which grows
        with services times objects.
        """
        if kind not in self._by_kind:
            self._by_kind[kind] = tuple(
                layer for layer in self.layers if layer.kind in (None, kind)
            )
        return self._by_kind[kind]

    def visit(self, directory: str, outer: tuple[str, str]) -> str:
        """Walk one kustomization folder; return its kustomization file."""
        file = self.kustomization_file(directory)
        if directory in self._stack:
            raise LoadError(file, None, f"kustomization cycle through {directory}")
        self._stack.append(directory)
        root = self.read_yaml(file)
        config = self.check_fields(root, file)
        names = (
            outer[0] + str(config.get("namePrefix") or ""),
            str(config.get("nameSuffix") or "") + outer[1],
        )
        for key in ("resources", "bases", "components"):
            for entry, line in self.entries(root, key, file):
                self.resource(directory, file, line, str(entry), names)
        self.generators(root, directory, file, names)
        self.transforms(root, directory, file, names)
        self._stack.pop()
        return file

    def kustomization_file(self, directory: str) -> str:
        for name in KUSTOMIZATION_NAMES:
            if (self.evidence.root / directory / name).is_file():
                return f"{directory}/{name}"
        raise LoadError(directory, None, "no kustomization.yaml in this folder")

    def read_yaml(self, file: str) -> Node:
        documents = self.parsed(file)
        if len(documents) != 1 or not isinstance(documents[0], MappingNode):
            raise LoadError(file, None, "a kustomization is one YAML mapping")
        return documents[0]

    def parsed(self, file: str) -> list[Node]:
        """The file's documents, parsed once per run whichever walk asks."""
        self._note(file)
        return repository_documents(self.evidence, file)

    def read(self, file: str) -> bytes:
        self._note(file)
        try:
            return self.evidence.read_bytes(file)
        except OSError as error:
            raise LoadError(file, None, f"cannot read: {error.strerror}") from error

    def _note(self, file: str) -> None:
        """Record file as one this overlay's rendering reads."""
        if file not in self.files:
            self.files.append(file)

    def check_fields(self, root: Node, file: str) -> dict[str, Any]:
        config = plain(root)
        for key in config:
            line = line_of(root, (key,))
            if key in _FORBIDDEN_FIELDS:
                raise LoadError(file, line, f"{key} refused: {_FORBIDDEN_FIELDS[key]}")
            if key not in _KNOWN_FIELDS:
                raise LoadError(file, line, f"unknown kustomization field {key!r}")
        return dict(config)

    def entries(self, root: Node, key: str, file: str) -> Iterator[tuple[Any, int]]:
        node = find(root, (key,))
        if node is None or (isinstance(node, ScalarNode) and node.value is None):
            return
        if not isinstance(node, SequenceNode):
            raise LoadError(file, node.line, f"{key} must be a list")
        for item in node.items:
            yield plain(item), item.line

    def local(self, base: str, reference: str, file: str, line: int) -> str:
        """The repository-relative path of a local reference; refuse anything else."""
        if _REMOTE.search(reference):
            raise LoadError(
                file,
                line,
                f"remote reference {reference!r} refused: every base and resource "
                "must be a local path in this repository (no network access)",
            )
        root = self.evidence.root.resolve()
        target = (self.evidence.root / base / reference).resolve()
        if not target.is_relative_to(root):
            raise LoadError(
                file,
                line,
                f"path {reference!r} leaves the repository (via .. or a symlink)",
            )
        if not target.exists():
            raise LoadError(
                file,
                line,
                f"path {reference!r} does not exist (kustomize would try it as a "
                "remote URL)",
            )
        return target.relative_to(root).as_posix()

    def resource(
        self, directory: str, file: str, line: int, entry: str, names: tuple[str, str]
    ) -> None:
        path = self.local(directory, entry, file, line)
        if (self.evidence.root / path).is_dir():
            self.visit(path, names)
            return
        for document in self.documents(path):
            self.layers.append(_resource_layer(path, document, names))

    def documents(self, path: str, data: bytes | None = None) -> list[MappingNode]:
        parsed = self.parsed(path) if data is None else load_documents(data, path)
        return [document for document in parsed if isinstance(document, MappingNode)]

    # Generators: a generated ConfigMap or Secret traces to its generator entry.

    def generators(
        self, root: Node, directory: str, file: str, names: tuple[str, str]
    ) -> None:
        for key, kind in (
            ("configMapGenerator", "ConfigMap"),
            ("secretGenerator", "Secret"),
        ):
            node = find(root, (key,))
            if not isinstance(node, SequenceNode):
                continue
            for item in node.items:
                self.generator(item, kind, directory, file, names)

    def generator(
        self, item: Node, kind: str, directory: str, file: str, names: tuple[str, str]
    ) -> None:
        config = plain(item)
        if not isinstance(config, dict):
            raise LoadError(file, item.line, "a generator entry must be a mapping")
        for source in ("files", "envs"):
            for index, entry in enumerate(config.get(source) or []):
                line = line_of(item, (source, index))
                reference = str(entry).split("=", 1)[-1]
                self.read(self.local(directory, reference, file, line))
        if config.get("env"):
            env_line = line_of(item, ("env",))
            self.read(self.local(directory, str(config["env"]), file, env_line))
        name = str(config.get("name", ""))
        self.layers.append(_generator_layer(file, item, kind, name, names))

    # Transforms: patches, replicas, images, namespace.

    def transforms(
        self, root: Node, directory: str, file: str, names: tuple[str, str]
    ) -> None:
        for key in ("crds", "configurations"):
            for entry, line in self.entries(root, key, file):
                self.read(self.local(directory, str(entry), file, line))
        for key in ("openapi",):
            path_node = find(root, (key, "path"))
            if isinstance(path_node, ScalarNode):
                self.read(
                    self.local(directory, str(path_node.value), file, path_node.line)
                )
        for entry_node in _items(find(root, ("replacements",))):
            path_node = find(entry_node, ("path",))
            if isinstance(path_node, ScalarNode):
                self.read(
                    self.local(directory, str(path_node.value), file, path_node.line)
                )
        for key in ("patches", "patchesJson6902"):
            for entry_node in _items(find(root, (key,))):
                self.patch(entry_node, directory, file, names)
        for entry_node in _items(find(root, ("patchesStrategicMerge",))):
            self.strategic_entry(entry_node, directory, file, names)
        self.layers.extend(_replica_layers(root, file, names))
        self.layers.extend(_image_layers(root, file))
        namespace_line = find(root, ("namespace",))
        if namespace_line is not None:
            self.layers.append(
                _op_layer(file, ("metadata", "namespace"), namespace_line.line, _any)
            )

    def patch(
        self, entry: Node, directory: str, file: str, names: tuple[str, str]
    ) -> None:
        if not isinstance(entry, MappingNode):
            raise LoadError(file, entry.line, "a patch entry must be a mapping")
        selector = _target_selector(find(entry, ("target",)), names)
        documents, source, offset = self.patch_documents(entry, directory, file)
        for document in documents:
            self.layers.extend(_patch_layers(document, source, offset, selector, names))

    def patch_documents(
        self, entry: MappingNode, directory: str, file: str
    ) -> tuple[list[Node], str, int]:
        path_node = entry.get("path")
        if isinstance(path_node, ScalarNode):
            path = self.local(directory, str(path_node.value), file, path_node.line)
            return self.parsed(path), path, 0
        inline = entry.get("patch")
        if isinstance(inline, ScalarNode) and isinstance(inline.value, str):
            return _inline_documents(inline, file), file, _text_offset(inline)
        raise LoadError(file, entry.line, "a patch entry needs path or patch")

    def strategic_entry(
        self, entry: Node, directory: str, file: str, names: tuple[str, str]
    ) -> None:
        if not isinstance(entry, ScalarNode) or not isinstance(entry.value, str):
            raise LoadError(
                file, entry.line, "a patchesStrategicMerge entry is a string"
            )
        if "\n" in entry.value or ":" in entry.value:
            documents, source, offset = (
                _inline_documents(entry, file),
                file,
                _text_offset(entry),
            )
        else:
            source = self.local(directory, entry.value, file, entry.line)
            documents, offset = self.parsed(source), 0
        for document in documents:
            self.layers.extend(_patch_layers(document, source, offset, None, names))


def _items(node: Node | None) -> list[Node]:
    return node.items if isinstance(node, SequenceNode) else []


def _any(kind: str, name: str, body: Mapping[str, Any]) -> bool:
    return True


def _text_offset(node: ScalarNode) -> int:
    """Lines between the scalar's own line and line 1 of its text."""
    return node.line if node.style == "|" else node.line - 1


def _inline_documents(node: ScalarNode, file: str) -> list[Node]:
    offset = _text_offset(node)
    try:
        return load_documents(str(node.value).encode(), file)
    except LoadError as error:
        line = error.line + offset if error.line else node.line
        raise LoadError(file, line, error.reason) from error


def _name_candidates(name: str, names: tuple[str, str]) -> set[str]:
    return {name, f"{names[0]}{name}{names[1]}"}


def _names_match(rendered: str, name: str, names: tuple[str, str]) -> bool:
    """Whether a rendered name is name, with the tree's prefixes and hash suffix."""
    for candidate in _name_candidates(name, names):
        if rendered == candidate or _hashed_name(candidate).fullmatch(rendered):
            return True
    return False


@functools.cache
def _hashed_name(name: str) -> re.Pattern[str]:
    """name with a generator's hash suffix, compiled once per name.

    re's own cache holds 512 patterns; an estate with more names than that
    recompiled a pattern on nearly every object and layer.
    """
    return re.compile(re.escape(name) + r"-[a-z0-9]{10}")


# --------------------------------------------------------------------------
# Layers


def _resource_layer(file: str, document: MappingNode, names: tuple[str, str]) -> Layer:
    data = plain(document)
    kind = str(data.get("kind", ""))
    name = str((data.get("metadata") or {}).get("name", ""))

    def applies(obj_kind: str, obj_name: str, body: Mapping[str, Any]) -> bool:
        return obj_kind == kind and _names_match(obj_name, name, names)

    return Layer(file, applies, _document_reach(document, 0), defines=True, kind=kind)


def _generator_layer(
    file: str, item: Node, kind: str, name: str, names: tuple[str, str]
) -> Layer:
    def applies(obj_kind: str, obj_name: str, body: Mapping[str, Any]) -> bool:
        return obj_kind == kind and _names_match(obj_name, name, names)

    def reach(
        path: tuple[Any, ...], body: Mapping[str, Any]
    ) -> tuple[float, int | None]:
        return (1.0 if path else 0.0), item.line

    return Layer(file, applies, reach, defines=True, kind=kind)


def _document_reach(
    document: Node, offset: int
) -> Callable[[tuple[Any, ...], Mapping[str, Any]], tuple[float, int | None]]:
    """How far a YAML document (a resource or a strategic merge patch) reaches."""

    def reach(
        path: tuple[Any, ...], body: Mapping[str, Any]
    ) -> tuple[float, int | None]:
        node: Node = document
        line = document.line
        rendered: Any = body
        for depth, part in enumerate(path):
            child, key_line = _follow(node, part, rendered)
            if child is None:
                return float(depth), line + offset
            line = key_line
            node = child
            rendered = _step(rendered, part)
        return float(len(path)), line + offset

    return reach


def _follow(node: Node, part: Any, rendered: Any) -> tuple[Node | None, int]:
    """The child of node for one path part, matching list items by identity."""
    if isinstance(node, MappingNode):
        child = node.get(part)
        return child, node.key_lines.get(part, child.line if child else node.line)
    if not isinstance(node, SequenceNode) or not isinstance(part, int):
        return None, node.line
    item = (
        rendered[part] if isinstance(rendered, list) and part < len(rendered) else None
    )
    if isinstance(item, Mapping):
        for key in _ITEM_KEYS:
            if key in item:
                for candidate in node.items:
                    found = find(candidate, (key,))
                    if found is not None and plain(found) == item[key]:
                        return candidate, candidate.line
                return None, node.line
    if 0 <= part < len(node.items):
        return node.items[part], node.items[part].line
    return None, node.line


def _step(rendered: Any, part: Any) -> Any:
    if isinstance(rendered, Mapping):
        return rendered.get(part)
    if isinstance(rendered, list) and isinstance(part, int) and part < len(rendered):
        return rendered[part]
    return None


def _op_layer(
    file: str,
    target: tuple[Any, ...],
    line: int | None,
    applies: Callable[[str, str, Mapping[str, Any]], bool],
) -> Layer:
    """A layer that sets exactly one path (a JSON patch op, a replicas entry)."""

    def reach(
        path: tuple[Any, ...], body: Mapping[str, Any]
    ) -> tuple[float, int | None]:
        common = min(len(path), len(target))
        if any(not _same_part(target[i], path[i]) for i in range(common)):
            return 0.0, None
        if len(target) <= len(path):
            return float(len(path)), line
        return len(path) - 0.5, line

    return Layer(file, applies, reach)


def _same_part(op_part: Any, part: Any) -> bool:
    return op_part == "-" or str(op_part) == str(part)


def _patch_layers(
    document: Node,
    file: str,
    offset: int,
    selector: Callable[[str, str, Mapping[str, Any]], bool] | None,
    names: tuple[str, str],
) -> list[Layer]:
    """The layers of one patch document: JSON 6902 ops or a strategic merge."""
    if isinstance(document, SequenceNode):
        return [
            _json_op_layer(op, file, offset, selector or _any) for op in document.items
        ]
    if not isinstance(document, MappingNode):
        return []
    if selector is None:
        data = plain(document)
        kind = str(data.get("kind", ""))
        name = str((data.get("metadata") or {}).get("name", ""))

        def selector(obj_kind: str, obj_name: str, body: Mapping[str, Any]) -> bool:
            return obj_kind == kind and _names_match(obj_name, name, names)

    return [Layer(file, selector, _document_reach(document, offset))]


def _json_op_layer(
    op: Node,
    file: str,
    offset: int,
    applies: Callable[[str, str, Mapping[str, Any]], bool],
) -> Layer:
    path = plain(find(op, ("path",)) or ScalarNode("", op.line))
    if not isinstance(path, str) or not path.startswith("/"):
        raise LoadError(file, op.line + offset, "a JSON patch op needs a path /...")
    parts = tuple(
        int(token) if token.isdigit() else token
        for token in (
            raw.replace("~1", "/").replace("~0", "~") for raw in path[1:].split("/")
        )
    )
    key = "value" if find(op, ("value",)) is not None else "path"
    return _op_layer(file, parts, line_of(op, (key,)) + offset, applies)


def _target_selector(
    target: Node | None, names: tuple[str, str]
) -> Callable[[str, str, Mapping[str, Any]], bool] | None:
    """The objects a patch ``target:`` selects (kind, name regex, labels)."""
    if target is None:
        return None
    spec = plain(target)
    if not isinstance(spec, dict):
        return None
    labels = _label_selector(str(spec.get("labelSelector") or ""))

    def selector(kind: str, name: str, body: Mapping[str, Any]) -> bool:
        if "kind" in spec and spec["kind"] != kind:
            return False
        if "name" in spec and not any(
            _compiled(str(spec["name"])).fullmatch(candidate)
            for candidate in (name, _strip(name, names))
        ):
            return False
        present = (body.get("metadata") or {}).get("labels") or {}
        return all(present.get(key) == value for key, value in labels.items())

    return selector


@functools.cache
def _compiled(pattern: str) -> re.Pattern[str]:
    """A patch target's name regex, compiled once (raises re.error as before)."""
    return re.compile(pattern)


def _strip(name: str, names: tuple[str, str]) -> str:
    prefix, suffix = names
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :]
    if suffix and name.endswith(suffix):
        name = name[: -len(suffix)]
    return name


def _label_selector(text: str) -> dict[str, str]:
    pairs = (part.split("=", 1) for part in text.split(",") if "=" in part)
    return {key.strip().rstrip("!"): value.strip() for key, value in pairs}


def _replica_layers(root: Node, file: str, names: tuple[str, str]) -> list[Layer]:
    layers = []
    for item in _items(find(root, ("replicas",))):
        name = str(plain(find(item, ("name",)) or ScalarNode("", item.line)))
        line = line_of(item, ("count",))

        def applies(
            kind: str, obj_name: str, body: Mapping[str, Any], n: str = name
        ) -> bool:
            return kind in _SCALABLE and _names_match(obj_name, n, names)

        layers.append(_op_layer(file, ("spec", "replicas"), line, applies))
    return layers


_SCALABLE = frozenset(
    {"Deployment", "StatefulSet", "ReplicaSet", "ReplicationController"}
)
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _image_layers(root: Node, file: str) -> list[Layer]:
    """An ``images:`` entry sets the image of every container that uses its name."""
    layers = []
    for item in _items(find(root, ("images",))):
        entry = plain(item)
        if not isinstance(entry, dict):
            continue
        key = next(
            (k for k in ("digest", "newTag", "newName", "name") if k in entry), "name"
        )
        layers.append(_image_layer(file, line_of(item, (key,)), entry))
    return layers


def _image_layer(file: str, line: int, entry: dict[str, Any]) -> Layer:
    repositories = {
        str(entry.get("name")),
        str(entry.get("newName", entry.get("name"))),
    }

    def reach(
        path: tuple[Any, ...], body: Mapping[str, Any]
    ) -> tuple[float, int | None]:
        if len(path) < 3 or path[-1] != "image" or path[-3] not in _CONTAINER_LISTS:
            return 0.0, None
        image = _value_at(body, path)
        repository = re.split(r"[@]|:(?=[^/]*$)", str(image))[0]
        return (float(len(path)), line) if repository in repositories else (0.0, None)

    return Layer(file, _any, reach)


def _value_at(body: Mapping[str, Any], path: tuple[Any, ...]) -> Any:
    current: Any = body
    for part in path:
        current = _step(current, part)
    return current


# --------------------------------------------------------------------------
# Step 2: render


def _kustomize_command() -> list[str]:
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    raise LoadError(
        OVERLAYS, None, "neither kubectl nor kustomize is installed: cannot render"
    )


def _offline_environment() -> dict[str, str]:
    """The tool's environment, with every network path closed as a second guard."""
    environment = dict(os.environ)
    unreachable = "http://127.0.0.1:9"
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        environment[name] = unreachable
    environment.update(
        NO_PROXY="",
        no_proxy="",
        GIT_ALLOW_PROTOCOL="file",
        GIT_TERMINAL_PROMPT="0",
        KUBECONFIG=os.devnull,
    )
    return environment


# kubectl prefixes its errors with a log header: E1203 18:28:21.95 7640 run.go:72]
_KLOG_PREFIX = re.compile(r"^[EWIF]\d{4} [\d:.]+\s+\d+ [^\]]+\] ", re.MULTILINE)


# A render that runs longer than this gets siblings, up to one per core.
PARALLEL_AFTER_SECONDS = 1.0


def _rendered(
    tool: list[str], root: Path, walks: dict[str, _Walk]
) -> Generator[tuple[str, bytes], None, None]:
    """Each overlay's rendered stream, in name order; the next one renders meanwhile.

    One kustomize process at a time while renders are quick: each takes about
    as much memory as the suite. Once one runs longer than
    PARALLEL_AFTER_SECONDS the estate is large enough for more cores to pay,
    and as many run side by side as there are cores. Close the generator to
    stop what still runs.
    """
    waiting = sorted(walks)
    running: dict[str, _Render] = {}
    cores = len(os.sched_getaffinity(0))
    slow = False

    def fill() -> None:
        while waiting and len(running) < (cores if slow else 1):
            env = waiting.pop(0)
            running[env] = _Render.start(tool, root, walks[env])

    try:
        fill()
        for env in sorted(walks):
            render = running[env]  # started in the same order, fill() keeps one
            while not render.finished(PARALLEL_AFTER_SECONDS):
                slow = True
                fill()
            output = render.output()
            render.stop()
            del running[env]
            fill()
            yield env, output
    finally:
        for render in running.values():
            render.stop()


@dataclass
class _Render:
    """kustomize rendering one overlay, in a process of its own.

    Its output goes to anonymous temporary files, not pipes: nothing has to
    read them while it runs, so no thread is needed and the caller walks the
    next overlay meanwhile.
    """

    walk: _Walk
    root: Path
    process: subprocess.Popen[bytes]
    stdout: IO[bytes]
    stderr: IO[bytes]
    deadline: float

    @classmethod
    def start(cls, tool: list[str], root: Path, walk: _Walk) -> _Render:
        # Closed by stop(), which load() always calls.
        stdout = tempfile.TemporaryFile()  # noqa: SIM115
        stderr = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            process = subprocess.Popen(
                [*tool, str(root / walk.directory)],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=_offline_environment(),
            )
        except OSError as error:
            stdout.close()
            stderr.close()
            raise LoadError(
                walk.kustomization, None, f"kustomize could not start: {error}"
            ) from error
        deadline = time.monotonic() + RENDER_TIMEOUT_SECONDS
        return cls(walk, root, process, stdout, stderr, deadline)

    def finished(self, patience: float) -> bool:
        """Wait up to patience seconds; True once it ended or ran out of time."""
        remaining = self.deadline - time.monotonic()
        try:
            self.process.wait(timeout=max(0.0, min(patience, remaining)))
        except subprocess.TimeoutExpired:
            return remaining <= patience
        return True

    def output(self) -> bytes:
        """The rendered stream; its error message becomes a LoadError."""
        if self.process.poll() is None:
            try:
                self.process.wait(timeout=max(0.0, self.deadline - time.monotonic()))
            except subprocess.TimeoutExpired as error:
                raise LoadError(
                    self.walk.kustomization,
                    None,
                    f"kustomize ran over {RENDER_TIMEOUT_SECONDS}s",
                ) from error
        if self.process.returncode != 0:
            message = _read(self.stderr).decode(errors="replace").strip()
            message = _KLOG_PREFIX.sub("", message.replace(str(self.root) + "/", ""))
            raise LoadError(
                self.walk.kustomization, None, f"kustomize failed: {message}"
            )
        return _read(self.stdout)

    def stop(self) -> None:
        """Kill the process if it still runs, and release its files."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.stdout.close()
        self.stderr.close()


def _read(stream: IO[bytes]) -> bytes:
    stream.seek(0)
    return stream.read()


# --------------------------------------------------------------------------
# Step 3: parse and trace


def _overlay(env: str, walk: _Walk, output: bytes) -> Overlay:
    rendered = f"{walk.directory} (rendered)"
    documents = load_documents(output, rendered, limits=RENDERED_LIMITS)
    objects = []
    for document in documents:
        if isinstance(document, ScalarNode) and document.value is None:
            continue
        objects.append(_object(env, walk, document, rendered))
    return Overlay(
        env=env,
        directory=walk.directory,
        kustomization=walk.kustomization,
        objects=tuple(objects),
        files=tuple(walk.files),
    )


def _object(env: str, walk: _Walk, document: Node, rendered: str) -> KubeObject:
    body = plain(document)
    if not isinstance(body, dict) or not body.get("kind"):
        raise LoadError(rendered, document.line, "a rendered document is not an object")
    metadata = body.get("metadata") or {}
    kind, name = str(body["kind"]), str(metadata.get("name", ""))
    layers = tuple(
        layer for layer in walk.layers_for(kind) if layer.applies(kind, name, body)
    )
    return KubeObject(
        env=env,
        kind=kind,
        api_version=str(body.get("apiVersion", "")),
        name=name,
        namespace=metadata.get("namespace"),
        body=body,
        trace=Trace(layers, Location(walk.kustomization)),
    )
