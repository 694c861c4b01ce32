"""YAML documents whose every node knows the line it came from.

The loaders of Kubernetes manifests and of the GitLab CI configuration read
YAML through this module so that a finding can name ``file:line``. The API is
small on purpose:

- ``load_documents(data, file)`` parses every document of a stream into a
  tree of ``MappingNode``, ``SequenceNode`` and ``ScalarNode``; each carries
  ``.line`` (1-based) and a mapping also keeps the line of each key.
- ``plain(node)`` gives the ordinary Python value (dict, list, str, ...).
- ``find(node, path)`` and ``line_of(node, path)`` follow a key path such as
  ``("spec", "template", "spec", "containers", 0, "image")``.

Parsing is stricter than PyYAML's ``safe_load`` and every refusal is a
``LoadError(file, line, reason)``: invalid YAML, bytes that are not UTF-8 text,
duplicate keys in a mapping (YAML requires unique keys; PyYAML would silently
keep the last one, hiding the first), alias expansion beyond a bound (the
"billion laughs" bomb), nesting beyond a bound, a file beyond a size bound, and
tags outside the YAML core schema unless the caller names them in
``custom_tags`` (GitLab's ``!reference``, for example).

The tree is built from PyYAML's event stream (libyaml's C parser where it is
installed) by an explicit stack, never by recursion, so a deeply nested input
cannot exhaust the interpreter's stack before the depth bound refuses it.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import yaml
from yaml.resolver import Resolver

from tenon_compliance.errors import LoadError

if TYPE_CHECKING:
    from tenon_compliance.evidence import Evidence

log = logging.getLogger(__name__)

_Parser: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_BINARY = "tag:yaml.org,2002:binary"
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
_VALUE = "tag:yaml.org,2002:value"
_SEQ = "tag:yaml.org,2002:seq"
_MAP = "tag:yaml.org,2002:map"

# Timestamps stay text: manifests and CI files hold them as strings, and a
# date object would not validate against a JSON schema's "string".
_TEXT_TAGS = frozenset({_STR, _TIMESTAMP, _VALUE})


@dataclass(frozen=True)
class Limits:
    """Bounds that keep a hostile or broken file from exhausting the run."""

    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64
    max_alias_nodes: int = 10_000


DEFAULT_LIMITS = Limits()


@dataclass(eq=False)
class ScalarNode:
    """A scalar value (str, int, float, bool, None or bytes) and its line.

    ``style`` is the scalar's YAML style: "|" (literal block), ">", "'", '"'
    or None (plain). In a literal block, text line k sits on ``line + k``.
    """

    value: Any
    line: int
    tag: str | None = None
    size: int = 1
    style: str | None = None


@dataclass(eq=False)
class SequenceNode:
    """A sequence of nodes and the line where it starts."""

    items: list[Node]
    line: int
    tag: str | None = None
    size: int = 1


@dataclass(eq=False)
class MappingNode:
    """A mapping of plain keys to nodes; ``key_lines`` holds each key's line."""

    entries: dict[Hashable, Node]
    line: int
    key_lines: dict[Hashable, int] = field(default_factory=dict)
    tag: str | None = None
    size: int = 1

    def get(self, key: Hashable) -> Node | None:
        """The node under key, or None."""
        return self.entries.get(key)


Node = ScalarNode | SequenceNode | MappingNode


@dataclass(frozen=True)
class Tagged:
    """The plain form of a node carrying one of the caller's custom tags."""

    tag: str
    value: Any


PathPart = Hashable
Path = tuple[PathPart, ...]


def load_documents(
    data: bytes,
    file: str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    custom_tags: Iterable[str] = (),
) -> list[Node]:
    """Parse every YAML document in data; file is the name used in errors.

    An empty document is a ``ScalarNode`` whose value is None.
    Raises LoadError(file, line, reason) for any input it refuses.
    """
    text = _decode(data, file, limits)
    builder = _Builder(file, limits, frozenset(custom_tags))
    try:
        for event in yaml.parse(text, Loader=_Parser):
            builder.feed(event)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else None
        raise LoadError(file, line, f"invalid YAML: {error.problem}") from error
    except yaml.YAMLError as error:
        raise LoadError(file, None, f"invalid YAML: {error}") from error
    return builder.documents


def repository_documents(evidence: Evidence, relative: str) -> list[Node]:
    """The documents of a repository file, parsed once per run and shared.

    Several readers parse the same manifests (each overlay's walk reads the
    whole base; the admission-policy controls read every file under k8s/).
    The nodes are never modified, so sharing them is safe. Raises LoadError
    as load_documents does, or when the file cannot be read.
    """
    return evidence.load(
        f"yaml:{relative}",
        lambda ev: load_documents(ev.read_bytes(relative), relative),
    )


def plain(node: Node) -> Any:
    """The plain Python value of node: dicts, lists and scalars.

    A node with a custom tag becomes ``Tagged(tag, value)``.
    """
    if isinstance(node, ScalarNode):
        value: Any = node.value
    elif isinstance(node, SequenceNode):
        value = [plain(item) for item in node.items]
    else:
        value = {key: plain(child) for key, child in node.entries.items()}
    return Tagged(node.tag, value) if node.tag else value


def find(node: Node, path: Iterable[PathPart]) -> Node | None:
    """The node at path (mapping keys and sequence indexes), or None."""
    current: Node | None = node
    for part in path:
        current = _child(current, part)
        if current is None:
            return None
    return current


def line_of(node: Node, path: Iterable[PathPart]) -> int:
    """The line of path's last element, or of the deepest part that exists.

    For a mapping key that is the key's own line (``replicas:``), which is
    where a person looks for the setting even when its value is a block.
    """
    current: Node = node
    line = node.line
    for part in path:
        child = _child(current, part)
        if child is None:
            return line
        if isinstance(current, MappingNode):
            line = current.key_lines.get(part, child.line)
        else:
            line = child.line
        current = child
    return line


def iter_paths(node: Node, prefix: Path = ()) -> Iterator[tuple[Path, Node]]:
    """Every (path, node) below node, node itself first, depth-first."""
    stack: list[tuple[Path, Node]] = [(prefix, node)]
    while stack:
        path, current = stack.pop()
        yield path, current
        if isinstance(current, MappingNode):
            children = [((*path, key), child) for key, child in current.entries.items()]
        elif isinstance(current, SequenceNode):
            children = [
                ((*path, index), item) for index, item in enumerate(current.items)
            ]
        else:
            children = []
        stack.extend(reversed(children))


def _child(node: Node | None, part: PathPart) -> Node | None:
    if isinstance(node, MappingNode):
        return node.entries.get(part)
    if isinstance(node, SequenceNode) and isinstance(part, int):
        return node.items[part] if 0 <= part < len(node.items) else None
    return None


def _decode(data: bytes, file: str, limits: Limits) -> str:
    """Check size, binary content and encoding; return the text."""
    if len(data) > limits.max_bytes:
        raise LoadError(
            file,
            None,
            f"file is {len(data)} bytes, above the {limits.max_bytes}-byte "
            "limit for a YAML input",
        )
    if b"\0" in data:
        offset = data.index(b"\0")
        raise LoadError(file, _line_at(data, offset), "binary content (a NUL byte)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = _line_at(data, error.start)
        raise LoadError(file, line, "not UTF-8 text") from error


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


@dataclass
class _Open:
    """A collection whose end event has not arrived yet."""

    node: SequenceNode | MappingNode
    anchor: str | None
    pending_key: tuple[Any, int] | None = None
    merges: list[tuple[Node, int]] = field(default_factory=list)
    explicit: set[Hashable] = field(default_factory=set)


class _Builder:
    """Turns a PyYAML event stream into line-carrying nodes, one event at a time."""

    def __init__(self, file: str, limits: Limits, custom_tags: frozenset[str]):
        self.file = file
        self.limits = limits
        self.custom_tags = custom_tags
        self.documents: list[Node] = []
        self.stack: list[_Open] = []
        self.anchors: dict[str, Node] = {}
        self.alias_nodes = 0
        self.resolver = Resolver()

    def fail(self, line: int | None, reason: str) -> LoadError:
        return LoadError(self.file, line, reason)

    def feed(self, event: yaml.Event) -> None:
        line = event.start_mark.line + 1 if event.start_mark else None
        if isinstance(event, yaml.DocumentStartEvent):
            self.anchors = {}
        elif isinstance(event, yaml.ScalarEvent):
            self.attach(self.scalar(event, line or 0), event.anchor)
        elif isinstance(event, yaml.AliasEvent):
            self.attach(self.alias(event.anchor or "", line or 0), None)
        elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            self.open(event, line or 0)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            self.close()

    # Step 1: scalars and aliases.

    def scalar(self, event: yaml.ScalarEvent, line: int) -> ScalarNode:
        tag = event.tag
        if tag is None or tag == "!":
            tag = self.resolver.resolve(  # type: ignore[no-untyped-call]
                yaml.ScalarNode, event.value, event.implicit
            )
        style = event.style or None
        if tag in self.custom_tags:
            return ScalarNode(event.value, line, tag=tag, style=style)
        return ScalarNode(self.construct(tag, event.value, line), line, style=style)

    def construct(self, tag: str, value: str, line: int) -> Any:
        """The Python value of a core-schema scalar; other tags are refused."""
        if tag in _TEXT_TAGS:
            return value
        if tag == _MERGE:
            return _MergeKey()
        if tag == _BINARY:
            try:
                return base64.decodebytes(value.encode("ascii"))
            except (binascii.Error, UnicodeEncodeError) as error:
                raise self.fail(line, "invalid !!binary scalar") from error
        constructor = yaml.SafeLoader.yaml_constructors.get(tag)
        if tag not in (_INT, _FLOAT, _BOOL, _NULL) or constructor is None:
            raise self.fail(line, f"unsupported YAML tag {tag!r}")
        node = yaml.ScalarNode(tag, value)
        try:
            return constructor(_CONSTRUCTOR, node)
        except (ValueError, OverflowError, yaml.YAMLError) as error:
            raise self.fail(
                line, f"invalid {tag.rsplit(':', 1)[-1]} {value!r}"
            ) from error

    def alias(self, anchor: str, line: int) -> Node:
        target = self.anchors.get(anchor)
        if target is None:
            raise self.fail(
                line,
                f"alias *{anchor} names no complete anchor (undefined, or recursive)",
            )
        self.alias_nodes += target.size
        if self.alias_nodes > self.limits.max_alias_nodes:
            raise self.fail(
                line,
                f"aliases expand to more than {self.limits.max_alias_nodes} "
                "nodes (an alias bomb?)",
            )
        return target

    # Step 2: collections.

    def open(self, event: yaml.CollectionStartEvent, line: int) -> None:
        if len(self.stack) >= self.limits.max_depth:
            raise self.fail(line, f"nesting deeper than {self.limits.max_depth} levels")
        tag = event.tag if event.tag not in (None, "!") else None
        is_map = isinstance(event, yaml.MappingStartEvent)
        if tag in (_SEQ, _MAP):
            tag = None
        elif tag is not None and tag not in self.custom_tags:
            raise self.fail(line, f"unsupported YAML tag {tag!r}")
        node: SequenceNode | MappingNode = (
            MappingNode({}, line, tag=tag)
            if is_map
            else SequenceNode([], line, tag=tag)
        )
        self.stack.append(_Open(node, event.anchor))

    def close(self) -> None:
        done = self.stack.pop()
        if isinstance(done.node, MappingNode):
            self.apply_merges(done.node, done.merges)
        self.attach(done.node, done.anchor)

    def attach(self, node: Node, anchor: str | None) -> None:
        """Place a finished node into its parent, or as a document root."""
        if anchor is not None:
            self.anchors[anchor] = node
        if not self.stack:
            self.documents.append(node)
            return
        parent = self.stack[-1]
        parent.node.size += node.size
        if isinstance(parent.node, SequenceNode):
            parent.node.items.append(node)
        elif parent.pending_key is None:
            parent.pending_key = (self.key_of(node), node.line)
        else:
            key, key_line = parent.pending_key
            parent.pending_key = None
            self.put(parent, parent.node, key, key_line, node)

    def key_of(self, node: Node) -> Any:
        if not isinstance(node, ScalarNode) or node.tag:
            raise self.fail(node.line, "a mapping key must be a plain scalar")
        return node.value

    def put(
        self, parent: _Open, mapping: MappingNode, key: Any, key_line: int, value: Node
    ) -> None:
        if isinstance(key, _MergeKey):
            parent.merges.append((value, key_line))
            return
        if key in parent.explicit:
            first = mapping.key_lines[key]
            raise self.fail(key_line, f"duplicate key {key!r} (first at line {first})")
        parent.explicit.add(key)
        mapping.entries[key] = value
        mapping.key_lines[key] = key_line

    def apply_merges(
        self, mapping: MappingNode, merges: list[tuple[Node, int]]
    ) -> None:
        """Apply merge keys (``<<: *defaults``); explicit keys win over merged ones."""
        for value, line in merges:
            sources = value.items if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if not isinstance(source, MappingNode):
                    raise self.fail(
                        line,
                        "a merge key (<<) takes a mapping or a sequence of mappings",
                    )
                for key, child in source.entries.items():
                    if key not in mapping.entries:
                        mapping.entries[key] = child
                        mapping.key_lines[key] = source.key_lines[key]


class _MergeKey:
    """Marks the ``<<`` key while its mapping is being built."""


_CONSTRUCTOR = yaml.SafeLoader("")
