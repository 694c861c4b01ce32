"""The GitLab CI configuration, resolved the way GitLab resolves it.

Steps, in GitLab's order:

1. read ``.gitlab-ci.yml`` with line numbers (``yaml_lines``: anchors,
   aliases and merge keys are expanded there; ``!reference`` is kept as a tag);
2. ``include: local:`` files are read and deep-merged under the main file
   (remote, project, template and component includes are refused, never
   fetched);
3. ``extends`` is resolved: multi-level, list form, hidden ``.templates``;
   mappings are merged key by key, every other value (lists included) is
   replaced;
4. ``!reference [job, key, ...]`` tags are replaced by their targets, with
   cycles and missing targets refused;
5. ``default:`` keys and global ``variables:`` are inherited by each job
   unless its ``inherit:`` says otherwise.

Every value keeps the file and line it was written at, so a finding about a
job's ``when:`` points at the template line that set it.

Known limits: ``include`` with wildcards (``local: 'ci/*.yml'``), ``rules`` on
includes and ``spec:inputs`` interpolation are not supported and are refused
with a LoadError rather than guessed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence
from tenon_compliance.loaders import yaml_lines
from tenon_compliance.model import Location

CI_FILE = ".gitlab-ci.yml"
REFERENCE_TAG = "!reference"
GLOBAL_KEYWORDS = frozenset(
    {"default", "include", "stages", "variables", "workflow", "spec"}
)
# Deprecated global keywords that GitLab still treats as defaults.
LEGACY_DEFAULTS = frozenset(
    {"image", "services", "cache", "before_script", "after_script"}
)
DEFAULT_KEYS = frozenset(
    {
        "after_script",
        "artifacts",
        "before_script",
        "cache",
        "hooks",
        "id_tokens",
        "image",
        "interruptible",
        "retry",
        "services",
        "tags",
        "timeout",
    }
)
DEFAULT_STAGES = (".pre", "build", "test", "deploy", ".post")
MAX_EXTENDS_DEPTH = 11
MAX_REFERENCE_DEPTH = 10
MAX_INCLUDES = 100
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")

log = logging.getLogger(__name__)
_VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


# --- located YAML values ---------------------------------------------------


@dataclass(frozen=True)
class YNode:
    """A YAML value with the file and line it was written at."""

    location: Location


@dataclass(frozen=True)
class YScalar(YNode):
    """A scalar; ``value`` is str, int, float, bool or None; ``style`` as in YAML."""

    value: Any
    style: str | None = None


@dataclass(frozen=True)
class YSeq(YNode):
    """A sequence of located values."""

    items: tuple[YNode, ...]


@dataclass(frozen=True)
class YMap(YNode):
    """A mapping; ``keys`` holds where each key was written."""

    entries: dict[str, YNode]
    keys: dict[str, Location]

    def without(self, *names: str) -> YMap:
        """A copy without the given keys."""
        return YMap(
            self.location,
            {k: v for k, v in self.entries.items() if k not in names},
            {k: v for k, v in self.keys.items() if k not in names},
        )


@dataclass(frozen=True)
class YReference(YNode):
    """An unresolved ``!reference [name, key, ...]``."""

    path: tuple[str, ...]


def _convert(node: yaml_lines.Node, file: str) -> YNode:
    """A yaml_lines node as a located YNode.

    Raises LoadError for a malformed ``!reference``.
    """
    location = Location(file, node.line)
    if node.tag == REFERENCE_TAG:
        return _reference(node, location)
    if isinstance(node, yaml_lines.ScalarNode):
        return YScalar(location, node.value, node.style)
    if isinstance(node, yaml_lines.SequenceNode):
        return YSeq(location, tuple(_convert(item, file) for item in node.items))
    entries = {str(k): _convert(v, file) for k, v in node.entries.items()}
    keys = {
        str(k): Location(file, node.key_lines.get(k, node.line)) for k in node.entries
    }
    return YMap(location, entries, keys)


def _reference(node: yaml_lines.Node, location: Location) -> YReference:
    """Read a ``!reference`` sequence of names.

    Raises LoadError when it is not a non-empty sequence of plain scalars.
    """
    items = node.items if isinstance(node, yaml_lines.SequenceNode) else None
    if not items or not all(isinstance(i, yaml_lines.ScalarNode) for i in items):
        raise LoadError(
            location.file,
            location.line,
            "!reference must be a non-empty sequence like [job, key]",
        )
    return YReference(location, tuple(str(i.value) for i in items))  # type: ignore[union-attr]


def plain(node: YNode) -> Any:
    """The plain Python value of a resolved node."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        return [plain(item) for item in node.items]
    if isinstance(node, YMap):
        return {key: plain(value) for key, value in node.entries.items()}
    return {"!reference": list(node.path)}  # type: ignore[attr-defined]


def deep_merge(base: YMap, over: YMap) -> YMap:
    """GitLab's merge: mappings merged key by key, anything else replaced by over."""
    entries = dict(base.entries)
    keys = dict(base.keys)
    for key, value in over.entries.items():
        current = entries.get(key)
        if isinstance(current, YMap) and isinstance(value, YMap):
            entries[key] = deep_merge(current, value)
        else:
            entries[key] = value
        keys[key] = over.keys[key]
    return YMap(over.location, entries, keys)


# --- the model -------------------------------------------------------------


@dataclass(frozen=True)
class ScriptLine:
    """One shell line of a job's script, with where it was written."""

    text: str
    location: Location


@dataclass(frozen=True)
class Image:
    """A job image or service: the reference and its digest, if pinned."""

    reference: str
    location: Location

    @property
    def digest(self) -> str | None:
        """``sha256:<hex>`` when the reference ends with a well-formed digest."""
        match = _DIGEST.search(self.reference)
        return match.group(0)[1:] if match else None

    @property
    def name(self) -> str:
        """The reference without its digest."""
        return self.reference.split("@", 1)[0]


@dataclass(frozen=True)
class Rule:
    """One entry of ``rules:`` (or of ``workflow: rules:``)."""

    data: dict[str, Any]
    location: Location

    @property
    def condition(self) -> str:
        """The ``if:`` expression, or the empty string."""
        return str(self.data.get("if") or "")

    @property
    def when(self) -> str | None:
        """The rule's ``when:``, or None."""
        value = self.data.get("when")
        return None if value is None else str(value)


@dataclass(frozen=True)
class Need:
    """One entry of ``needs:``."""

    job: str
    artifacts: bool
    optional: bool
    location: Location


@dataclass(frozen=True)
class Environment:
    """A job's ``environment:``."""

    name: str
    action: str
    deployment_tier: str | None
    location: Location


@dataclass(frozen=True)
class Variable:
    """A CI variable: name, value and where it was set."""

    name: str
    value: str
    location: Location


@dataclass(frozen=True)
class Artifacts:
    """A job's ``artifacts:``."""

    paths: tuple[str, ...]
    reports: dict[str, Any]
    when: str
    location: Location


@dataclass(eq=False)
class Job:
    """A (non-hidden) job after includes, extends, references and defaults.

    Jobs compare by identity, so what is derived from one can be cached.
    """

    name: str
    location: Location
    stage: str
    script: tuple[ScriptLine, ...]
    before_script: tuple[ScriptLine, ...]
    after_script: tuple[ScriptLine, ...]
    image: Image | None
    services: tuple[Image, ...]
    rules: tuple[Rule, ...]
    when: str
    needs: tuple[Need, ...] | None
    environment: Environment | None
    resource_group: str | None
    id_tokens: dict[str, Any]
    artifacts: Artifacts | None
    variables: dict[str, Variable]
    keys: dict[str, Location]
    data: dict[str, Any] = field(repr=False)

    def where(self, key: str) -> Location:
        """Where ``key`` was set for this job, or the job's own line."""
        return self.keys.get(key, self.location)

    @property
    def all_lines(self) -> tuple[ScriptLine, ...]:
        """before_script, script and after_script, in the order they run."""
        return self.before_script + self.script + self.after_script


@dataclass
class Pipeline:
    """The resolved pipeline: stages, workflow rules, variables and jobs."""

    file: str
    stages: tuple[str, ...]
    stages_location: Location
    workflow_rules: tuple[Rule, ...]
    workflow_location: Location | None
    variables: dict[str, Variable]
    jobs: dict[str, Job]
    templates: dict[str, Location]
    files: tuple[str, ...]


# --- reading and includes --------------------------------------------------


def _read(evidence: Evidence, relative: str) -> YMap:
    """Read one CI file as a located mapping.

    Raises LoadError for unreadable or malformed YAML or a non-mapping root.
    """
    try:
        data = evidence.read_bytes(relative)
    except OSError as error:
        raise LoadError(relative, None, f"cannot read: {error.strerror}") from error
    documents = yaml_lines.load_documents(data, relative, custom_tags=(REFERENCE_TAG,))
    documents = [d for d in documents if yaml_lines.plain(d) is not None]
    if len(documents) == 2 and _is_header(documents[0]):
        raise LoadError(relative, documents[0].line, "spec:inputs is not supported")
    if len(documents) != 1:
        raise LoadError(relative, None, "expected exactly one YAML document")
    root = _convert(documents[0], relative)
    if not isinstance(root, YMap):
        raise LoadError(relative, root.location.line, "the root must be a mapping")
    return root


def _is_header(node: yaml_lines.Node) -> bool:
    return isinstance(node, yaml_lines.MappingNode) and "spec" in node.entries


def _include_entries(root: YMap) -> Iterator[tuple[str, Location]]:
    """The local paths an ``include:`` names.

    Raises LoadError for any include that is not local (nothing is fetched).
    """
    node = root.entries.get("include")
    if node is None:
        return
    items = node.items if isinstance(node, YSeq) else (node,)
    for item in items:
        where = item.location
        if isinstance(item, YScalar) and isinstance(item.value, str):
            if "://" in item.value:
                raise LoadError(where.file, where.line, "remote include refused")
            yield item.value, where
            continue
        if not isinstance(item, YMap):
            raise LoadError(where.file, where.line, "include entry must name a file")
        unsupported = set(item.entries) - {"local"}
        if unsupported or "local" not in item.entries:
            kinds = ", ".join(sorted(unsupported)) or "nothing"
            raise LoadError(
                where.file,
                where.line,
                f"only include: local is allowed; found {kinds} (never fetched)",
            )
        value = item.entries["local"]
        if not isinstance(value, YScalar) or not isinstance(value.value, str):
            raise LoadError(where.file, where.line, "include: local must be a path")
        yield value.value, value.location


def _local_path(root: Path, text: str, where: Location) -> str:
    """The repository-relative path of a local include, kept inside the root.

    Raises LoadError for wildcards, escaping paths and missing files.
    """
    if any(char in text for char in "*?["):
        raise LoadError(where.file, where.line, f"wildcard include {text!r} refused")
    candidate = (root / text.lstrip("/")).resolve()
    if not candidate.is_relative_to(root.resolve()):
        raise LoadError(
            where.file, where.line, f"include {text!r} leaves the repository"
        )
    if not candidate.is_file():
        raise LoadError(
            where.file, where.line, f"included file {text!r} does not exist"
        )
    return candidate.relative_to(root.resolve()).as_posix()


def _with_includes(
    evidence: Evidence, relative: str, chain: tuple[str, ...], files: list[str]
) -> YMap:
    """A file with its local includes merged under it (the including file wins).

    Raises LoadError for include cycles and non-local includes.
    """
    root = _read(evidence, relative)
    files.append(relative)
    merged: YMap | None = None
    for text, where in _include_entries(root):
        path = _local_path(evidence.root, text, where)
        if path in chain or len(chain) > MAX_INCLUDES:
            raise LoadError(where.file, where.line, f"include cycle through {path}")
        included = _with_includes(evidence, path, (*chain, path), files)
        merged = included if merged is None else deep_merge(merged, included)
    own = root.without("include")
    return own if merged is None else deep_merge(merged, own)


# --- extends ---------------------------------------------------------------


def _job_names(config: YMap) -> list[str]:
    return [
        name
        for name in config.entries
        if name not in GLOBAL_KEYWORDS and name not in LEGACY_DEFAULTS
    ]


def _extends_of(job: YMap) -> list[tuple[str, Location]]:
    """The names a job extends, in order.

    Raises LoadError when ``extends`` is not a name or a list of names.
    """
    node = job.entries.get("extends")
    if node is None:
        return []
    items = node.items if isinstance(node, YSeq) else (node,)
    names: list[tuple[str, Location]] = []
    for item in items:
        if not isinstance(item, YScalar) or not isinstance(item.value, str):
            where = item.location
            raise LoadError(where.file, where.line, "extends must name jobs")
        names.append((item.value, item.location))
    return names


def _extend(config: YMap, name: str, chain: tuple[str, ...]) -> YMap:
    """The job ``name`` with everything it extends merged under it.

    Raises LoadError for a missing parent, a cycle or too deep a chain.
    """
    job = config.entries[name]
    if not isinstance(job, YMap):
        where = config.keys[name]
        raise LoadError(where.file, where.line, f"job {name!r} must be a mapping")
    merged: YMap | None = None
    for parent, where in _extends_of(job):
        if parent in chain or parent == name:
            cycle = " -> ".join((*chain, name, parent))
            raise LoadError(where.file, where.line, f"extends cycle: {cycle}")
        if parent not in config.entries or parent in GLOBAL_KEYWORDS:
            raise LoadError(
                where.file, where.line, f"{name!r} extends unknown job {parent!r}"
            )
        if len(chain) >= MAX_EXTENDS_DEPTH:
            raise LoadError(where.file, where.line, "extends nested too deeply")
        resolved = _extend(config, parent, (*chain, name))
        merged = resolved if merged is None else deep_merge(merged, resolved)
    own = job.without("extends")
    if merged is None:
        return own
    result = deep_merge(merged, own)
    return YMap(job.location, result.entries, result.keys)


# --- !reference ------------------------------------------------------------


def _target(config: YMap, reference: YReference) -> YNode:
    """The node a reference points at (unresolved).

    Raises LoadError when a part of the path does not exist.
    """
    current: YNode = config
    for part in reference.path:
        if not isinstance(current, YMap) or part not in current.entries:
            where = reference.location
            path = ", ".join(reference.path)
            raise LoadError(where.file, where.line, f"!reference [{path}] not found")
        current = current.entries[part]
    return current


def _resolve(config: YMap, node: YNode, chain: tuple[tuple[str, ...], ...]) -> YNode:
    """Node with every ``!reference`` replaced by its (resolved) target.

    Raises LoadError for a missing target, a cycle or too deep a nesting.
    """
    if isinstance(node, YReference):
        where = node.location
        if node.path in chain:
            path = ", ".join(node.path)
            raise LoadError(where.file, where.line, f"!reference [{path}] is a cycle")
        if len(chain) >= MAX_REFERENCE_DEPTH:
            raise LoadError(where.file, where.line, "!reference nested too deeply")
        return _resolve(config, _target(config, node), (*chain, node.path))
    if isinstance(node, YSeq):
        return YSeq(
            node.location, tuple(_resolve(config, i, chain) for i in node.items)
        )
    if isinstance(node, YMap):
        entries = {k: _resolve(config, v, chain) for k, v in node.entries.items()}
        return YMap(node.location, entries, node.keys)
    return node


# --- defaults and model building -------------------------------------------


def _inherit(job: YMap, what: str) -> bool | frozenset[str]:
    """``inherit: default|variables`` as True, False or the listed names."""
    inherit = job.entries.get("inherit")
    node = inherit.entries.get(what) if isinstance(inherit, YMap) else None
    if node is None:
        return True
    value = plain(node)
    if isinstance(value, bool):
        return value
    if isinstance(value, list):
        return frozenset(str(item) for item in value)
    where = node.location
    raise LoadError(where.file, where.line, f"inherit:{what} must be a bool or a list")


def _apply_defaults(job: YMap, defaults: YMap) -> YMap:
    """Fill the job's missing default keys from ``default:``, as ``inherit`` allows."""
    allowed = _inherit(job, "default")
    if allowed is False:
        return job
    entries, keys = dict(job.entries), dict(job.keys)
    for key, value in defaults.entries.items():
        wanted = allowed is True or key in allowed
        if key in DEFAULT_KEYS and wanted and key not in entries:
            entries[key] = value
            keys[key] = defaults.keys[key]
    return YMap(job.location, entries, keys)


def _flatten(node: YNode | None) -> tuple[ScriptLine, ...]:
    """A script value as lines; nested lists (from !reference) are flattened."""
    if node is None:
        return ()
    if isinstance(node, YSeq):
        return tuple(line for item in node.items for line in _flatten(item))
    if isinstance(node, YScalar) and node.value is not None:
        where = node.location
        if node.style in ("|", ">") and where.line:
            # a block scalar's text starts on the line after its indicator
            where = Location(where.file, where.line + 1)
        return _split_block(str(node.value), where, node.style == "|")
    where = node.location
    raise LoadError(where.file, where.line, "a script must be text or a list of text")


def _split_block(text: str, where: Location, literal: bool) -> tuple[ScriptLine, ...]:
    """A multi-line script entry as one ScriptLine per line.

    Only a literal block (``- |``) maps each text line to a file line (``where``
    is then the block's first text line); any other multi-line scalar keeps
    its own line for every text line.
    """
    lines = text.rstrip("\n").split("\n")
    if len(lines) == 1:
        return (ScriptLine(text, where),)
    start = where.line or 0
    return tuple(
        ScriptLine(
            line,
            Location(where.file, start + offset) if literal and start else where,
        )
        for offset, line in enumerate(lines)
        if line.strip()
    )


def _image(node: YNode | None, variables: dict[str, Variable]) -> Image | None:
    """An image or service given as text or as a mapping with ``name``.

    Raises LoadError when it names no image.
    """
    if node is None:
        return None
    value = plain(node)
    name = value.get("name") if isinstance(value, dict) else value
    if not isinstance(name, str) or not name:
        where = node.location
        raise LoadError(where.file, where.line, "image must name an image")
    return Image(_expand(name, variables), node.location)


def _expand(text: str, variables: dict[str, Variable]) -> str:
    """$VAR and ${VAR} from CI variables; unknown variables are left as written."""

    def value(match: re.Match[str]) -> str:
        found = variables.get(match.group(1))
        return found.value if found else match.group(0)

    return _VARIABLE.sub(value, text)


def _variables(node: YNode | None) -> dict[str, Variable]:
    """``variables:`` as Variable objects (text or ``{value: ...}`` form)."""
    if not isinstance(node, YMap):
        return {}
    found: dict[str, Variable] = {}
    for name, value in node.entries.items():
        raw = plain(value)
        text = raw.get("value", "") if isinstance(raw, dict) else raw
        found[name] = Variable(name, "" if text is None else str(text), node.keys[name])
    return found


def _job_variables(job: YMap, globals_: dict[str, Variable]) -> dict[str, Variable]:
    allowed = _inherit(job, "variables")
    inherited = {
        name: variable
        for name, variable in globals_.items()
        if allowed is True or (allowed is not False and name in allowed)
    }
    return {**inherited, **_variables(job.entries.get("variables"))}


def _rules(node: YNode | None) -> tuple[Rule, ...]:
    """``rules:`` entries.

    Raises LoadError when rules is not a list of mappings.
    """
    if node is None:
        return ()
    if not isinstance(node, YSeq):
        raise LoadError(node.location.file, node.location.line, "rules must be a list")
    rules: list[Rule] = []
    for item in node.items:
        value = plain(item)
        if not isinstance(value, dict):
            where = item.location
            raise LoadError(where.file, where.line, "a rule must be a mapping")
        rules.append(Rule(value, item.location))
    return tuple(rules)


def _needs(node: YNode | None) -> tuple[Need, ...] | None:
    """``needs:`` entries (None when the job has no needs: key)."""
    if node is None:
        return None
    items = node.items if isinstance(node, YSeq) else (node,)
    needs: list[Need] = []
    for item in items:
        value = plain(item)
        if isinstance(value, str):
            needs.append(Need(value, True, False, item.location))
        elif isinstance(value, dict) and isinstance(value.get("job"), str):
            needs.append(
                Need(
                    value["job"],
                    bool(value.get("artifacts", True)),
                    bool(value.get("optional", False)),
                    item.location,
                )
            )
        else:
            where = item.location
            raise LoadError(where.file, where.line, "a need must name a job")
    return tuple(needs)


def _environment(node: YNode | None) -> Environment | None:
    if node is None:
        return None
    value = plain(node)
    if isinstance(value, str):
        return Environment(value, "start", None, node.location)
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        where = node.location
        raise LoadError(where.file, where.line, "environment must have a name")
    tier = value.get("deployment_tier")
    return Environment(
        value["name"],
        str(value.get("action", "start")),
        None if tier is None else str(tier),
        node.location,
    )


def _artifacts(node: YNode | None) -> Artifacts | None:
    if node is None:
        return None
    value = plain(node)
    if not isinstance(value, dict):
        where = node.location
        raise LoadError(where.file, where.line, "artifacts must be a mapping")
    paths = value.get("paths") or []
    reports = value.get("reports") or {}
    return Artifacts(
        tuple(str(path) for path in paths) if isinstance(paths, list) else (),
        reports if isinstance(reports, dict) else {},
        str(value.get("when", "on_success")),
        node.location,
    )


def _value(node: YMap, key: str, default: Any) -> Any:
    """The plain value under key, or default when it is absent or null."""
    child = node.entries.get(key)
    value = None if child is None else plain(child)
    return default if value is None else value


def _build_job(
    name: str, node: YMap, globals_: dict[str, Variable], location: Location
) -> Job:
    """The Job model of a resolved job mapping.

    Raises LoadError for malformed keys.
    """
    get = node.entries.get
    variables = _job_variables(node, globals_)
    services = get("services")
    service_items = services.items if isinstance(services, YSeq) else ()
    resource_group = _value(node, "resource_group", None)
    id_tokens = _value(node, "id_tokens", {})
    return Job(
        name=name,
        location=location,
        stage=str(_value(node, "stage", "test")),
        script=_flatten(get("script")),
        before_script=_flatten(get("before_script")),
        after_script=_flatten(get("after_script")),
        image=_image(get("image"), variables),
        services=tuple(i for s in service_items if (i := _image(s, variables))),
        rules=_rules(get("rules")),
        when=str(_value(node, "when", "on_success")),
        needs=_needs(get("needs")),
        environment=_environment(get("environment")),
        resource_group=None if resource_group is None else str(resource_group),
        id_tokens=id_tokens if isinstance(id_tokens, dict) else {},
        artifacts=_artifacts(get("artifacts")),
        variables=variables,
        keys=dict(node.keys),
        data=plain(node),
    )


def _defaults(config: YMap) -> YMap:
    """``default:`` merged over the deprecated global keywords."""
    legacy = YMap(
        config.location,
        {k: v for k, v in config.entries.items() if k in LEGACY_DEFAULTS},
        {k: v for k, v in config.keys.items() if k in LEGACY_DEFAULTS},
    )
    default = config.entries.get("default")
    if default is None:
        return legacy
    if not isinstance(default, YMap):
        where = default.location
        raise LoadError(where.file, where.line, "default must be a mapping")
    return deep_merge(legacy, default)


def _stages(config: YMap) -> tuple[tuple[str, ...], Location]:
    node = config.entries.get("stages")
    if node is None:
        return DEFAULT_STAGES, config.location
    value = plain(node)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        where = node.location
        raise LoadError(where.file, where.line, "stages must be a list of names")
    return tuple(value), config.keys["stages"]


def _workflow(config: YMap) -> tuple[tuple[Rule, ...], Location | None]:
    node = config.entries.get("workflow")
    if node is None:
        return (), None
    if not isinstance(node, YMap):
        raise LoadError(node.location.file, node.location.line, "workflow: mapping")
    return _rules(node.entries.get("rules")), config.keys["workflow"]


def resolve(evidence: Evidence, relative: str = CI_FILE) -> Pipeline:
    """Read and resolve the pipeline configuration at ``relative``.

    Raises LoadError for anything GitLab itself would refuse, and for every
    include that is not local.
    """
    # 1-2. the file and its local includes
    files: list[str] = []
    config = _with_includes(evidence, relative, (relative,), files)

    # 3. extends (hidden jobs included: they may be extended and referenced)
    names = _job_names(config)
    extended = dict(config.entries)
    for name in names:
        extended[name] = _extend(config, name, ())
    config = YMap(config.location, extended, config.keys)

    # 4. !reference
    resolved = _resolve(config, config, ())
    if not isinstance(resolved, YMap):  # _resolve keeps a mapping a mapping
        raise LoadError(relative, None, "the configuration is not a mapping")

    # 5. defaults, variables, and the job models
    defaults = _defaults(resolved)
    globals_ = _variables(resolved.entries.get("variables"))
    jobs: dict[str, Job] = {}
    templates: dict[str, Location] = {}
    for name in names:
        if name.startswith("."):
            templates[name] = resolved.keys[name]
            continue
        node = _apply_defaults(resolved.entries[name], defaults)  # type: ignore[arg-type]
        jobs[name] = _build_job(name, node, globals_, resolved.keys[name])

    log.debug(
        "%s: %d jobs, %d templates, files %s",
        relative,
        len(jobs),
        len(templates),
        files,
    )
    stages, stages_location = _stages(resolved)
    rules, workflow_location = _workflow(resolved)
    return Pipeline(
        file=relative,
        stages=stages,
        stages_location=stages_location,
        workflow_rules=rules,
        workflow_location=workflow_location,
        variables=globals_,
        jobs=jobs,
        templates=templates,
        files=tuple(files),
    )


def load(evidence: Evidence) -> Pipeline:
    """The repository's pipeline (memoize with ``evidence.load("gitlab_ci", load)``).

    Raises LoadError when .gitlab-ci.yml is absent or cannot be resolved.
    """
    if not (evidence.root / CI_FILE).is_file():
        raise LoadError(CI_FILE, None, "the pipeline configuration is missing")
    return resolve(evidence, CI_FILE)
