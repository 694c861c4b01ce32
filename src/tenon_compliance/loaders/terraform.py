"""The Terraform model: stacks, modules and resource instances, resolved statically.

Layout read (relative to the repository root)::

    infra/terraform/modules/<name>/*.tf      reusable modules
    infra/terraform/envs/<env>/*.tf          one root module (stack) per environment
    infra/terraform/envs/<env>/terraform.tfvars, *.auto.tfvars
    infra/terraform/bootstrap/*.tf           the state bucket and its key

Module calls with a local source are expanded recursively, their arguments
evaluated in the caller's context; a non-local source is recorded (a control
fails it) and never fetched. Each file is read once through
``evidence.read_bytes``, so its sha256 is an input of the run.

``load`` raises ``LoadError`` (``file:line: reason``) for a file that cannot be
parsed, a symlink that leaves the repository, a duplicate resource, local or
variable, and a local module source that does not exist.

Known shortcomings (each leaves a value Unknown, so controls fail closed):

- declared variable ``type``s are not applied: a tfvars string "3" stays a
  string where Terraform would convert it to a number;
- outputs of a module called with ``count``/``for_each`` are not indexed;
- ``*_override.tf`` files are not merged, and ``moved``, ``import`` and
  ``check`` blocks are ignored (they change no resolved attribute);
- ``file()``, ``templatefile()`` and provider-defined functions are evaluated
  only at apply;
- a value's origin (``Attr.origin``) is followed only through direct
  ``var.<name>`` pass-through, not through locals or expressions.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence
from tenon_compliance.loaders import hcl
from tenon_compliance.loaders.terraform_eval import (
    Reference,
    Scope,
    evaluate,
    unknown,
)
from tenon_compliance.model import Location, Unknown

log = logging.getLogger(__name__)

TERRAFORM_ROOT = "infra/terraform"
_INSTANCE_KEY = re.compile(r"\[[^\[\]]*\]$")
MAX_MODULE_DEPTH = 8


# --- Resolved values with locations -----------------------------------------


@dataclass(frozen=True)
class Attr:
    """One resolved attribute: its value (Python, Reference or Unknown) and place."""

    name: str
    value: Any
    location: Location
    origin: Location | None = None

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Missing:
    """An attribute or block that is not set; ``location`` is the enclosing block."""

    path: str
    location: Location
    value: None = None

    def __bool__(self) -> bool:
        return False


@dataclass
class BlockValue:
    """A resolved block: attributes by name and nested blocks in order."""

    type: str
    labels: tuple[str, ...]
    location: Location
    attributes: dict[str, Attr] = field(default_factory=dict)
    blocks: list[BlockValue] = field(default_factory=list)
    unknown: Unknown | None = None

    def blocks_of(self, kind: str) -> list[BlockValue]:
        """The nested blocks of one type, in file order."""
        return [block for block in self.blocks if block.type == kind]

    def attr(self, *path: str) -> Attr | Missing:
        """Follow nested blocks (first of each type) down to an attribute.

        Returns ``Missing`` with the location of the deepest block found.
        """
        block: BlockValue = self
        for step in path[:-1]:
            inner = block.blocks_of(step)
            if not inner:
                return Missing(".".join(path), block.location)
            block = inner[0]
        found = block.attributes.get(path[-1])
        return found if found is not None else Missing(".".join(path), block.location)

    def value(self, *path: str, default: Any = None) -> Any:
        """The attribute's value, or ``default`` when it is missing."""
        found = self.attr(*path)
        return found.value if found else default


@dataclass
class ResourceInstance:
    """One instance of a managed resource or data source in a stack."""

    address: str
    mode: str
    type: str
    name: str
    module: str
    body: BlockValue
    key: Any = None
    count_unknown: Unknown | None = None

    @property
    def location(self) -> Location:
        return self.body.location

    @property
    def local_address(self) -> str:
        """The address inside its module (``aws_kms_key.this``)."""
        base = f"{self.type}.{self.name}"
        return f"data.{base}" if self.mode == "data" else base

    def attr(self, *path: str) -> Attr | Missing:
        """See ``BlockValue.attr``."""
        return self.body.attr(*path)

    def value(self, *path: str, default: Any = None) -> Any:
        """See ``BlockValue.value``."""
        return self.body.value(*path, default=default)

    def blocks_of(self, kind: str) -> list[BlockValue]:
        """See ``BlockValue.blocks_of``."""
        return self.body.blocks_of(kind)


@dataclass
class ModuleCall:
    """A ``module`` block: where it points and what it was given."""

    address: str
    name: str
    source: Attr | Missing
    local_dir: str | None
    location: Location
    version: Attr | Missing
    arguments: dict[str, Location] = field(default_factory=dict)


@dataclass
class Module:
    """A reusable module under infra/terraform/modules/."""

    name: str
    directory: str
    files: list[hcl.HclFile]

    @property
    def location(self) -> Location:
        return (
            Location(self.files[0].path, 1) if self.files else Location(self.directory)
        )


@dataclass
class Stack:
    """One root module: an environment stack or the bootstrap stack."""

    name: str
    directory: str
    files: list[hcl.HclFile]
    tfvars: dict[str, Attr] = field(default_factory=dict)
    variables: dict[str, Attr] = field(default_factory=dict)
    terraform: BlockValue | None = None
    backend: BlockValue | None = None
    required_providers: dict[str, Attr] = field(default_factory=dict)
    providers: list[BlockValue] = field(default_factory=list)
    resources: list[ResourceInstance] = field(default_factory=list)
    module_calls: list[ModuleCall] = field(default_factory=list)
    _cache: _StackIndex | None = field(default=None, repr=False, compare=False)

    @property
    def is_environment(self) -> bool:
        return self.directory.startswith(f"{TERRAFORM_ROOT}/envs/")

    @property
    def location(self) -> Location:
        main = [f for f in self.files if f.path.endswith("/main.tf")]
        chosen = main[0] if main else (self.files[0] if self.files else None)
        return Location(chosen.path, 1) if chosen else Location(self.directory)

    def resources_of(self, kind: str, mode: str = "managed") -> list[ResourceInstance]:
        """Every instance of one resource type, in every module of the stack."""
        return self._index().by_type.get((kind, mode), [])

    def resource(self, address: str) -> ResourceInstance | None:
        """The instance with this full address, if any."""
        return self._index().by_address.get(address)

    def referenced(self, reference: Reference) -> list[ResourceInstance]:
        """The instances a Reference points at (every instance when unindexed)."""
        index = self._index()
        target = reference.target
        exact = index.by_address.get(target)
        return [exact] if exact else index.by_base.get(target, [])

    def referencing(
        self, kind: str, attribute: str, target: ResourceInstance
    ) -> list[ResourceInstance]:
        """Instances of kind whose attribute is a Reference to target."""
        index = self._index()
        key = (kind, attribute)
        if key not in index.referencing:
            found: dict[str, list[ResourceInstance]] = {}
            for candidate in self.resources_of(kind):
                value = candidate.value(attribute)
                if isinstance(value, Reference):
                    found.setdefault(value.target, []).append(candidate)
            index.referencing[key] = found
        return index.referencing[key].get(target.address, [])

    def _index(self) -> _StackIndex:
        # Built on first use after loading, so that 10,000-instance estates
        # are not searched linearly by every control and every subject.
        if self._cache is None or self._cache.size != len(self.resources):
            self._cache = _StackIndex.of(self.resources)
        return self._cache


@dataclass
class _StackIndex:
    """Lookups over a stack's instances: by type, by address, by reference."""

    size: int
    by_type: dict[tuple[str, str], list[ResourceInstance]]
    by_address: dict[str, ResourceInstance]
    by_base: dict[str, list[ResourceInstance]]
    referencing: dict[tuple[str, str], dict[str, list[ResourceInstance]]]

    @classmethod
    def of(cls, resources: list[ResourceInstance]) -> _StackIndex:
        index = cls(len(resources), {}, {}, {}, {})
        for resource in resources:
            index.by_type.setdefault((resource.type, resource.mode), []).append(
                resource
            )
            index.by_address[resource.address] = resource
            base = _INSTANCE_KEY.sub("", resource.address)
            index.by_base.setdefault(base, []).append(resource)
        return index


@dataclass
class TerraformModel:
    """Every stack and module of the repository."""

    stacks: list[Stack]
    modules: list[Module]

    def stack(self, name: str) -> Stack | None:
        """The stack with this name, if any."""
        for candidate in self.stacks:
            if candidate.name == name:
                return candidate
        return None

    @property
    def environment_stacks(self) -> list[Stack]:
        return [stack for stack in self.stacks if stack.is_environment]


# --- Reading files ----------------------------------------------------------


class _Files:
    """Reads and parses each file once, refusing symlinks that leave the root."""

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence
        self.root = evidence.root.resolve()
        self.parsed: dict[str, hcl.HclFile] = {}

    def inside(self, relative: str) -> Path:
        path = self.evidence.root / relative
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise LoadError(
                relative, None, "is a symlink that points outside the repository"
            )
        return path

    def parse(self, relative: str) -> hcl.HclFile:
        if relative not in self.parsed:
            self.inside(relative)
            try:
                data = self.evidence.read_bytes(relative)
            except OSError as error:
                raise LoadError(relative, None, f"cannot be read: {error}") from error
            self.parsed[relative] = hcl.parse_bytes(data, relative)
        return self.parsed[relative]

    def directory(self, relative: str, pattern: str = "*.tf") -> list[hcl.HclFile]:
        path = self.inside(relative)
        names = sorted(
            p.name for p in path.glob(pattern) if p.is_file() or p.is_symlink()
        )
        return [self.parse(f"{relative}/{name}") for name in names]

    def subdirectories(self, relative: str) -> list[str]:
        path = self.evidence.root / relative
        if not path.is_dir():
            return []
        found = []
        for child in sorted(path.iterdir()):
            rel = f"{relative}/{child.name}"
            self.inside(rel)
            if child.is_dir():
                found.append(rel)
        return found


# --- Module instances -------------------------------------------------------


@dataclass
class _Context:
    """What is shared while expanding one stack."""

    files: _Files
    stack: Stack
    depth: int = 0


def _location(file: str, line: int) -> Location:
    return Location(file, line)


def _declarations(files: list[hcl.HclFile], kind: str) -> Iterator[hcl.Block]:
    for file in files:
        for block in file.body.blocks:
            if block.type == kind:
                yield block


def _variables(
    files: list[hcl.HclFile], given: dict[str, Any], directory: str
) -> dict[str, Any]:
    """Variable values: what the caller gave, else the default, else Unknown."""
    values: dict[str, Any] = {}
    seen: dict[str, hcl.Block] = {}
    for block in _declarations(files, "variable"):
        name = block.labels[0] if block.labels else ""
        if name in seen:
            raise LoadError(block.file, block.line, f"variable {name!r} declared twice")
        seen[name] = block
        default = block.body.attributes.get("default")
        if name in given:
            values[name] = given[name]
        elif default is not None:
            scope = Scope(block.file, "", directory, {})
            values[name] = evaluate(default.expr, scope)
        else:
            values[name] = Unknown(
                f"var.{name} ({block.file}:{block.line}) has no value and no default"
            )
    return values


def _origins(
    files: list[hcl.HclFile], given_at: dict[str, Location]
) -> dict[str, Location]:
    """Where each variable got its value: the caller, the tfvars or the default."""
    origins: dict[str, Location] = {}
    for block in _declarations(files, "variable"):
        name = block.labels[0] if block.labels else ""
        default = block.body.attributes.get("default")
        if name in given_at:
            origins[name] = given_at[name]
        elif default is not None:
            origins[name] = Location(block.file, default.line)
    return origins


def _origin_of(expr: Any, scope: Scope) -> Location | None:
    """The origin of a value that is exactly ``var.<name>``, else None."""
    if (
        isinstance(expr, hcl.GetAttr)
        and isinstance(expr.source, hcl.Variable)
        and expr.source.name == "var"
    ):
        return scope.origins.get(expr.name)
    return None


def _locals(
    files: list[hcl.HclFile],
) -> tuple[dict[str, hcl.Attribute], dict[str, str]]:
    found: dict[str, hcl.Attribute] = {}
    where: dict[str, str] = {}
    for block in _declarations(files, "locals"):
        for name, attribute in block.body.attributes.items():
            if name in found:
                raise LoadError(
                    block.file, attribute.line, f"local {name!r} defined twice"
                )
            found[name] = attribute
            where[name] = block.file
    return found, where


def _expand_module(
    context: _Context,
    files: list[hcl.HclFile],
    *,
    directory: str,
    module_path: str,
    given: dict[str, Any],
    given_at: dict[str, Location],
) -> Scope:
    """Resolve one module instance into context.stack; returns its scope."""
    locals_, local_files = _locals(files)
    scope = Scope(
        file=files[0].path if files else directory,
        module=module_path,
        module_dir=directory,
        variables=_variables(files, given, directory),
        locals=locals_,
        local_files=local_files,
        origins=_origins(files, given_at),
    )
    # Module outputs may be read before the module's block in file order, so
    # every call is registered first and expanded on first use (or below).
    pending = {
        block.labels[0] if block.labels else "": block
        for block in _declarations(files, "module")
    }
    for name in pending:
        scope.module_outputs[name] = _deferred(context, pending, name, scope)
    for name in pending:
        scope.module_outputs[name]("")
    for kind in ("resource", "data"):
        for block in _declarations(files, kind):
            _resource(context, block, scope.in_file(block.file), kind)
    return scope


def _instances(
    block: hcl.Block, scope: Scope
) -> list[tuple[Any, Scope, Unknown | None]]:
    """The (key, scope, unknown-count) of each instance of a counted block."""
    count = block.body.attributes.get("count")
    for_each = block.body.attributes.get("for_each")
    if count is None and for_each is None:
        return [(None, scope, None)]
    attribute = count if count is not None else for_each
    assert attribute is not None
    value = evaluate(attribute.expr, scope)
    if count is not None and isinstance(value, int) and not isinstance(value, bool):
        return [(i, scope.bind(count={"index": i}), None) for i in range(value)]
    if for_each is not None and isinstance(value, dict | list):
        pairs = value.items() if isinstance(value, dict) else ((v, v) for v in value)
        return [(k, scope.bind(each={"key": k, "value": v}), None) for k, v in pairs]
    reason = (
        value
        if isinstance(value, Unknown)
        else unknown(
            scope, attribute.expr, "gives an instance count known only at apply"
        )
    )
    marker = Unknown(f"{block.file}:{attribute.line}: {reason.reason}")
    names = (
        {"count": {"index": marker}}
        if count is not None
        else {"each": {"key": marker, "value": marker}}
    )
    return [(None, scope.bind(**names), marker)]


def _instance_suffix(key: Any) -> str:
    if key is None:
        return ""
    return f"[{key}]" if isinstance(key, int) else f'["{key}"]'


def _resource(context: _Context, block: hcl.Block, scope: Scope, kind: str) -> None:
    if len(block.labels) != 2:
        raise LoadError(block.file, block.line, f"{kind} block needs two labels")
    rtype, name = block.labels
    mode = "data" if kind == "data" else "managed"
    local = f"data.{rtype}.{name}" if mode == "data" else f"{rtype}.{name}"
    if local in scope.resources:
        raise LoadError(block.file, block.line, f"{local} is declared twice")
    scope.resources.add(local)
    prefix = f"{scope.module}." if scope.module else ""
    for key, inner, count_unknown in _instances(block, scope):
        body = resolve_block(block, inner)
        context.stack.resources.append(
            ResourceInstance(
                address=f"{prefix}{local}{_instance_suffix(key)}",
                mode=mode,
                type=rtype,
                name=name,
                module=scope.module,
                body=body,
                key=key,
                count_unknown=count_unknown,
            )
        )


_META = frozenset({"count", "for_each", "depends_on", "provider", "lifecycle"})


def resolve_block(block: hcl.Block, scope: Scope) -> BlockValue:
    """Evaluate a block's attributes and nested blocks (``dynamic`` expanded)."""
    value = BlockValue(block.type, block.labels, _location(block.file, block.line))
    for name, attribute in block.body.attributes.items():
        if name in ("count", "for_each", "depends_on"):
            continue
        value.attributes[name] = Attr(
            name,
            evaluate(attribute.expr, scope),
            _location(block.file, attribute.line),
            _origin_of(attribute.expr, scope),
        )
    for inner in block.body.blocks:
        inner.file = inner.file or block.file
        if inner.type == "dynamic":
            value.blocks.extend(_dynamic(inner, scope))
        else:
            value.blocks.append(resolve_block(inner, scope))
    return value


def _dynamic(block: hcl.Block, scope: Scope) -> list[BlockValue]:
    label = block.labels[0] if block.labels else "dynamic"
    iterator_attr = block.body.attributes.get("iterator")
    iterator = label
    if iterator_attr is not None and isinstance(iterator_attr.expr, hcl.Variable):
        iterator = iterator_attr.expr.name
    contents = [b for b in block.body.blocks if b.type == "content"]
    for_each = block.body.attributes.get("for_each")
    if not contents or for_each is None:
        raise LoadError(
            block.file, block.line, f"dynamic {label!r} needs for_each and content"
        )
    collection = evaluate(for_each.expr, scope)
    content = contents[0]
    content.file = block.file
    if not isinstance(collection, dict | list):
        placeholder = BlockValue(label, (), _location(block.file, block.line))
        placeholder.unknown = (
            collection
            if isinstance(collection, Unknown)
            else unknown(
                scope, for_each.expr, "gives dynamic blocks known only at apply"
            )
        )
        return [placeholder]
    pairs = (
        collection.items() if isinstance(collection, dict) else enumerate(collection)
    )
    result = []
    for key, item in pairs:
        inner = scope.bind(**{iterator: {"key": key, "value": item}})
        resolved = resolve_block(content, inner)
        resolved.type = label
        resolved.location = _location(block.file, block.line)
        result.append(resolved)
    return result


def _deferred(
    context: _Context, pending: dict[str, hcl.Block], name: str, scope: Scope
) -> Any:
    """A reader of module ``name``'s outputs that expands the module once."""
    state: dict[str, Any] = {}

    def read(output: str) -> Any:
        if "reader" not in state:
            if state.get("expanding"):
                block = pending[name]
                return Unknown(
                    f"module.{name}.{output} ({block.file}:{block.line}) depends "
                    "on itself through module arguments"
                )
            state["expanding"] = True
            state["reader"] = _module_call(context, pending[name], scope)
        return state["reader"](output) if output else None

    return read


def _module_call(context: _Context, block: hcl.Block, scope: Scope) -> Any:
    name = block.labels[0] if block.labels else ""
    prefix = f"{scope.module}." if scope.module else ""
    address = f"{prefix}module.{name}"
    source_attr = block.body.attributes.get("source")
    location = _location(block.file, block.line)
    source: Attr | Missing = Missing("source", location)
    if source_attr is not None:
        source = Attr(
            "source",
            evaluate(source_attr.expr, scope),
            _location(block.file, source_attr.line),
        )
    version_attr = block.body.attributes.get("version")
    version: Attr | Missing = Missing("version", location)
    if version_attr is not None:
        version = Attr(
            "version",
            evaluate(version_attr.expr, scope),
            _location(block.file, version_attr.line),
        )
    local_dir = _local_source(source, scope.module_dir)
    arguments = {
        arg: _location(block.file, attribute.line)
        for arg, attribute in block.body.attributes.items()
        if arg not in ("source", "version", "providers") and arg not in _META
    }
    context.stack.module_calls.append(
        ModuleCall(address, name, source, local_dir, location, version, arguments)
    )
    if local_dir is None:
        return lambda output: unknown(
            scope, block, f"module.{name}.{output} comes from a non-local module"
        )
    return _expand_call(context, block, scope, address, local_dir)


def _local_source(source: Attr | Missing, module_dir: str) -> str | None:
    value = source.value if source else None
    if not isinstance(value, str) or not value.startswith(("./", "../")):
        return None
    joined = PurePosixPath(module_dir) / value
    parts: list[str] = []
    for part in joined.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _expand_call(
    context: _Context, block: hcl.Block, scope: Scope, address: str, local_dir: str
) -> Any:
    name = block.labels[0]
    if context.depth >= MAX_MODULE_DEPTH:
        raise LoadError(
            block.file, block.line, f"modules nest deeper than {MAX_MODULE_DEPTH}"
        )
    if not (context.files.root / local_dir).is_dir():
        raise LoadError(
            block.file, block.line, f"module source {local_dir} does not exist"
        )
    files = context.files.directory(local_dir)
    outputs: dict[str, Any] = {}
    for key, inner, _count_unknown in _instances(block, scope):
        arguments = {
            arg: attribute
            for arg, attribute in block.body.attributes.items()
            if arg not in ("source", "version", "providers") and arg not in _META
        }
        given = {
            arg: evaluate(attribute.expr, inner.in_file(block.file))
            for arg, attribute in arguments.items()
        }
        # A value passed straight through (name = var.name) keeps its origin.
        given_at = {
            arg: _origin_of(attribute.expr, inner)
            or Location(block.file, attribute.line)
            for arg, attribute in arguments.items()
        }
        context.depth += 1
        child = _expand_module(
            context,
            files,
            directory=local_dir,
            module_path=f"{address}{_instance_suffix(key)}",
            given=given,
            given_at=given_at,
        )
        context.depth -= 1
        outputs[str(key)] = _output_reader(files, child)
    reader = outputs.get("None")
    if reader is None:
        return lambda output: Unknown(
            f"module.{name}.{output} ({block.file}:{block.line}) is read from a "
            "module with count or for_each, which the evaluator does not index"
        )
    return reader


def _output_reader(files: list[hcl.HclFile], child: Scope) -> Any:
    declared = {b.labels[0]: b for b in _declarations(files, "output") if b.labels}

    def read(output: str) -> Any:
        block = declared.get(output)
        if block is None or "value" not in block.body.attributes:
            return Unknown(f"output {output!r} is not declared in {child.module_dir}")
        return evaluate(block.body.attributes["value"].expr, child.in_file(block.file))

    return read


# --- Stacks -----------------------------------------------------------------


def _tfvars(files: _Files, directory: str) -> dict[str, Attr]:
    values: dict[str, Attr] = {}
    chosen = files.directory(directory, "terraform.tfvars")
    chosen += files.directory(directory, "*.auto.tfvars")
    for file in chosen:
        if file.body.blocks:
            block = file.body.blocks[0]
            raise LoadError(
                file.path, block.line, "a tfvars file holds only attributes"
            )
        scope = Scope(file.path, "", directory, {})
        for name, attribute in file.body.attributes.items():
            value = evaluate(attribute.expr, scope)
            values[name] = Attr(name, value, Location(file.path, attribute.line))
    return values


def _settings(stack: Stack) -> None:
    """The terraform block (merged over files), backend and required providers."""
    scope = Scope(stack.directory, "", stack.directory, {})
    for block in _declarations(stack.files, "terraform"):
        resolved = resolve_block(block, scope.in_file(block.file))
        if stack.terraform is None:
            stack.terraform = resolved
        else:
            stack.terraform.attributes.update(resolved.attributes)
            stack.terraform.blocks.extend(resolved.blocks)
        for inner in resolved.blocks_of("backend"):
            stack.backend = inner
        for inner in resolved.blocks_of("required_providers"):
            stack.required_providers.update(inner.attributes)


def _stack(files: _Files, directory: str, name: str) -> Stack:
    parsed = files.directory(directory)
    stack = Stack(name=name, directory=directory, files=parsed)
    stack.tfvars = _tfvars(files, directory)
    _settings(stack)
    given = {key: attr.value for key, attr in stack.tfvars.items()}
    given_at = {key: attr.location for key, attr in stack.tfvars.items()}
    context = _Context(files, stack)
    scope = _expand_module(
        context,
        parsed,
        directory=directory,
        module_path="",
        given=given,
        given_at=given_at,
    )
    stack.variables = {
        key: Attr(key, value, _variable_location(stack, key))
        for key, value in scope.variables.items()
    }
    for block in _declarations(parsed, "provider"):
        stack.providers.append(resolve_block(block, scope.in_file(block.file)))
    return stack


def _variable_location(stack: Stack, name: str) -> Location:
    if name in stack.tfvars:
        return stack.tfvars[name].location
    for block in _declarations(stack.files, "variable"):
        if block.labels and block.labels[0] == name:
            return Location(block.file, block.line)
    return stack.location


def load(evidence: Evidence) -> TerraformModel:
    """Discover, parse and resolve every stack and module; raises LoadError."""
    files = _Files(evidence)
    modules = [
        Module(PurePosixPath(d).name, d, files.directory(d))
        for d in files.subdirectories(f"{TERRAFORM_ROOT}/modules")
    ]
    stacks = [
        _stack(files, d, PurePosixPath(d).name)
        for d in files.subdirectories(f"{TERRAFORM_ROOT}/envs")
    ]
    bootstrap = f"{TERRAFORM_ROOT}/bootstrap"
    if (evidence.root / bootstrap).is_dir():
        stacks.append(_stack(files, bootstrap, "bootstrap"))
    log.debug("terraform: %d stacks, %d modules", len(stacks), len(modules))
    return TerraformModel(stacks, modules)


def model(evidence: Evidence) -> TerraformModel:
    """The run's Terraform model, loaded once; raises LoadError."""
    return evidence.load("terraform", load)
