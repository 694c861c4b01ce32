"""Static evaluation of Terraform expressions.

The evaluator computes what can be known before ``terraform apply``:
literals, ``var.*``, ``local.*``, module outputs, interpolation, operators,
conditionals, ``for`` expressions and the common built-in functions. What
depends on the outcome of an apply is never guessed:

- a reference to a managed resource evaluates to a ``Reference`` (for
  example ``aws_kms_key.this.arn``), which controls use to check that an
  attribute points at a resource of the same stack;
- a string that interpolates references becomes a ``Symbolic`` string;
- everything else that cannot be known (data sources, unknown functions,
  ``count.index`` of an instance whose count is unknown, files read at apply
  time) becomes ``Unknown`` with a reason naming the expression and its
  ``file:line``.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenon_compliance.loaders import hcl
from tenon_compliance.model import Location, Unknown

# --- Values -----------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """An attribute of a managed resource or data source, known only after apply.

    ``resource`` is the address inside the module (``aws_kms_key.this`` or
    ``data.aws_iam_policy_document.runtime``), ``module`` the module path
    (``module.secrets`` or ``""``), ``attribute`` the rest (``arn``).
    """

    module: str
    resource: str
    attribute: str = ""

    @property
    def target(self) -> str:
        """The full address of the referenced resource."""
        return f"{self.module}.{self.resource}" if self.module else self.resource

    def extend(self, step: str) -> Reference:
        """The reference one attribute or index deeper."""
        joined = f"{self.attribute}.{step}" if self.attribute else step
        if step.startswith("["):
            if not self.attribute:
                return Reference(self.module, f"{self.resource}{step}")
            joined = f"{self.attribute}{step}"
        return Reference(self.module, self.resource, joined)

    def __str__(self) -> str:
        return f"{self.target}.{self.attribute}" if self.attribute else self.target


@dataclass(frozen=True)
class Symbolic:
    """A string of literal text and references: ``${aws_s3_bucket.x.arn}/*``."""

    text: str
    references: tuple[Reference, ...]

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Encoded:
    """``jsonencode`` of a value that holds references: the structure is kept."""

    value: Any

    def __str__(self) -> str:
        return json.dumps(self.value, default=str, sort_keys=True)


# What a built-in function raises on arguments Terraform would reject.
_FUNCTION_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    ZeroDivisionError,
    OverflowError,
    AttributeError,
    StopIteration,
)


class EvalFailure(Exception):
    """An expression that Terraform itself would reject (inside ``try``)."""


# --- Scope ------------------------------------------------------------------


@dataclass
class Scope:
    """What names mean while evaluating one module instance."""

    file: str
    module: str
    module_dir: str
    variables: dict[str, Any]
    locals: dict[str, hcl.Attribute] = field(default_factory=dict)
    local_values: dict[str, Any] = field(default_factory=dict)
    module_outputs: dict[str, Callable[[str], Any]] = field(default_factory=dict)
    bindings: dict[str, Any] = field(default_factory=dict)
    resources: set[str] = field(default_factory=set)
    local_files: dict[str, str] = field(default_factory=dict)
    _evaluating: set[str] = field(default_factory=set)
    origins: dict[str, Location] = field(default_factory=dict)

    def bind(self, **names: Any) -> Scope:
        """A copy of the scope with extra names (``each``, ``count``, for vars)."""
        copy = Scope(
            self.file,
            self.module,
            self.module_dir,
            self.variables,
            self.locals,
            self.local_values,
            self.module_outputs,
            {**self.bindings, **names},
            self.resources,
            self.local_files,
            self._evaluating,
            self.origins,
        )
        return copy

    def in_file(self, file: str) -> Scope:
        """The same scope, reporting locations in another file of the module."""
        copy = self.bind()
        copy.file = file
        return copy


def where(scope: Scope, node: Any) -> str:
    return f"{scope.file}:{getattr(node, 'line', '?')}"


def unknown(scope: Scope, node: Any, reason: str) -> Unknown:
    """An Unknown naming the expression, its location and why."""
    return Unknown(f"{render(node)} ({where(scope, node)}) {reason}")


def render(node: Any) -> str:  # noqa: PLR0911 - one return per node kind
    """A short source-like rendering of an expression, for reasons."""
    if isinstance(node, hcl.Variable):
        return node.name
    if isinstance(node, hcl.GetAttr):
        return f"{render(node.source)}.{node.name}"
    if isinstance(node, hcl.Index):
        return f"{render(node.source)}[{render(node.key)}]"
    if isinstance(node, hcl.Splat):
        return f"{render(node.source)}[*]{render(node.each)[1:]}"
    if isinstance(node, hcl.Call):
        return f"{node.name}(...)"
    if isinstance(node, hcl.Literal):
        return json.dumps(node.value)
    return type(node).__name__.lower()


def is_unknown(value: Any) -> bool:
    """True when the value or anything inside it is Unknown."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(is_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(is_unknown(item) for item in value)
    return False


def first_unknown(value: Any) -> Unknown | None:
    """The first Unknown inside a value, if any."""
    if isinstance(value, Unknown):
        return value
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | list):
        for item in items:
            found = first_unknown(item)
            if found:
                return found
    return None


def is_symbolic(value: Any) -> bool:
    """True when the value holds a Reference, Symbolic or Encoded part."""
    if isinstance(value, Reference | Symbolic | Encoded):
        return True
    if isinstance(value, dict):
        return any(is_symbolic(item) for item in value.values())
    if isinstance(value, list):
        return any(is_symbolic(item) for item in value)
    return False


# --- The evaluator ----------------------------------------------------------

_ROOTS_OF_RESOURCES = frozenset({"data"})


def evaluate(node: Any, scope: Scope) -> Any:
    """The value of an expression; failures inside become Unknown at the top."""
    try:
        return _eval(node, scope)
    except EvalFailure as failure:
        return Unknown(str(failure))
    except RecursionError:
        return unknown(scope, node, "is nested too deeply to evaluate")


def _eval(node: Any, scope: Scope) -> Any:
    handler = _HANDLERS.get(type(node))
    if handler is None:
        return unknown(scope, node, "is an expression the evaluator does not know")
    return handler(node, scope)


def _literal(node: hcl.Literal, scope: Scope) -> Any:
    return node.value


def _tuple(node: hcl.TupleExpr, scope: Scope) -> Any:
    return [_eval(item, scope) for item in node.items]


def _object(node: hcl.ObjectExpr, scope: Scope) -> Any:
    result: dict[str, Any] = {}
    for key_node, value_node in node.items:
        key = _eval(key_node, scope)
        if isinstance(key, Unknown | Reference | Symbolic):
            return unknown(scope, key_node, "is an object key known only at apply")
        result[_to_string(key, scope, key_node)] = _eval(value_node, scope)
    return result


def _variable(node: hcl.Variable, scope: Scope) -> Any:
    name = node.name
    if name in scope.bindings:
        return scope.bindings[name]
    if name in ("count", "each"):
        return unknown(scope, node, f"uses {name} outside a {name} block")
    if name == "self":
        return Reference(scope.module, "self")
    return _Namespace(name)


@dataclass(frozen=True)
class _Namespace:
    """A root name waiting for its first attribute (``var``, ``aws_s3_bucket``)."""

    name: str


def _get_attr(node: hcl.GetAttr, scope: Scope) -> Any:
    source = _eval(node.source, scope)
    if isinstance(source, _Namespace):
        return _namespace_attr(source.name, node, scope)
    return _step(source, node.name, node, scope)


def _namespace_attr(  # noqa: PLR0911 - one return per root name
    root: str, node: hcl.GetAttr, scope: Scope
) -> Any:
    name = node.name
    if root == "var":
        if name not in scope.variables:
            raise EvalFailure(f"var.{name} ({where(scope, node)}) is not declared")
        return scope.variables[name]
    if root == "local":
        return _local(name, node, scope)
    if root == "module":
        return _ModuleRef(name)
    if root == "path":
        paths = {"module": scope.module_dir, "root": scope.module_dir, "cwd": "."}
        if name in paths:
            return paths[name]
    if root == "terraform" and name == "workspace":
        return unknown(scope, node, "depends on the workspace chosen at apply")
    if root == "data":
        return _DataType(name)
    if root in ("var", "local", "path", "terraform"):
        raise EvalFailure(f"{root}.{name} ({where(scope, node)}) is not defined")
    return Reference(scope.module, f"{root}.{name}")


@dataclass(frozen=True)
class _ModuleRef:
    name: str


@dataclass(frozen=True)
class _DataType:
    type: str


def _local(name: str, node: Any, scope: Scope) -> Any:
    if name in scope.local_values:
        return scope.local_values[name]
    if name not in scope.locals:
        raise EvalFailure(f"local.{name} ({where(scope, node)}) is not defined")
    if name in scope._evaluating:
        return unknown(scope, node, f"local.{name} refers to itself")
    scope._evaluating.add(name)
    attribute = scope.locals[name]
    file = scope.local_files.get(name, scope.file)
    value = evaluate(attribute.expr, scope.in_file(file))
    scope._evaluating.discard(name)
    scope.local_values[name] = value
    return value


def _step(source: Any, name: str, node: Any, scope: Scope) -> Any:
    """``source.name`` for any evaluated source."""
    if isinstance(source, _ModuleRef):
        output = scope.module_outputs.get(source.name)
        if output is None:
            raise EvalFailure(f"module.{source.name} ({where(scope, node)}) is unknown")
        return output(name)
    if isinstance(source, _DataType):
        return Reference(scope.module, f"data.{source.type}.{name}")
    if isinstance(source, Reference):
        return source.extend(name)
    if isinstance(source, Unknown):
        return source
    if isinstance(source, dict):
        if name not in source:
            raise EvalFailure(
                f"{render(node)} ({where(scope, node)}) has no attribute {name!r}"
            )
        return source[name]
    raise EvalFailure(f"{render(node)} ({where(scope, node)}) has no attributes")


def _index(node: hcl.Index, scope: Scope) -> Any:
    source = _eval(node.source, scope)
    key = _eval(node.key, scope)
    if isinstance(key, Unknown):
        return key
    if isinstance(source, Reference):
        return source.extend(f"[{json.dumps(key)}]")
    if isinstance(source, _ModuleRef | _DataType | _Namespace):
        return unknown(scope, node, "indexes a name that is not a value")
    if isinstance(source, Unknown):
        return source
    return _lookup_index(source, key, node, scope)


def _lookup_index(source: Any, key: Any, node: Any, scope: Scope) -> Any:
    try:
        if isinstance(source, list):
            return source[int(key)]
        if isinstance(source, dict):
            return source[str(key)]
    except (IndexError, KeyError, ValueError, TypeError) as error:
        raise EvalFailure(
            f"{render(node)} ({where(scope, node)}) has no element {key!r}"
        ) from error
    raise EvalFailure(f"{render(node)} ({where(scope, node)}) cannot be indexed")


def _splat(node: hcl.Splat, scope: Scope) -> Any:
    source = _eval(node.source, scope)
    if isinstance(source, Reference):
        return source.extend("[*]")
    if isinstance(source, Unknown):
        return source
    if source is None:
        return []
    items = source if isinstance(source, list) else [source]
    return [_eval(node.each, scope.bind(**{"*": item})) for item in items]


def _call(node: hcl.Call, scope: Scope) -> Any:  # noqa: PLR0911 - fail-closed exits
    name = node.name.removeprefix("core::")
    if name in ("try", "can"):
        return _try(node, scope, can=name == "can")
    function = FUNCTIONS.get(name)
    if function is None:
        return unknown(scope, node, f"calls {name}(), which is evaluated only at apply")
    args = [_eval(arg, scope) for arg in node.args]
    if node.expand:
        if not isinstance(args[-1], list):
            return unknown(scope, node, "expands an argument that is not a list")
        args = args[:-1] + args[-1]
    for arg in args:
        if isinstance(arg, Unknown):
            return arg
        if isinstance(arg, Reference | Symbolic) and name not in _PASS_THROUGH:
            return unknown(
                scope, node, f"passes a value known only at apply to {name}()"
            )
    if name not in _SYMBOLIC_SAFE:
        for arg in args:
            found = first_unknown(arg)
            if found:
                return found
            if is_symbolic(arg):
                return unknown(
                    scope, node, f"passes a value known only at apply to {name}()"
                )
    try:
        return function(*args)
    except _FUNCTION_ERRORS as error:
        raise EvalFailure(f"{name}() ({where(scope, node)}) failed: {error}") from error


def _try(node: hcl.Call, scope: Scope, *, can: bool) -> Any:
    for arg in node.args:
        try:
            value = _eval(arg, scope)
        except EvalFailure:
            continue
        if is_unknown(value):
            return value
        return True if can else value
    if can:
        return False
    raise EvalFailure(f"try() ({where(scope, node)}): every argument failed")


def _unary(node: hcl.Unary, scope: Scope) -> Any:
    value = _eval(node.operand, scope)
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Reference | Symbolic):
        return unknown(scope, node, "negates a value known only at apply")
    if node.op == "!":
        if not isinstance(value, bool):
            raise EvalFailure(f"! ({where(scope, node)}) needs a bool")
        return not value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EvalFailure(f"- ({where(scope, node)}) needs a number")
    return -value


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "%": lambda a, b: math.fmod(a, b) if isinstance(a, float) else a % b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _binary(node: hcl.Binary, scope: Scope) -> Any:
    left = _eval(node.left, scope)
    right = _eval(node.right, scope)
    if node.op in ("&&", "||"):
        return _logic(node, left, right, scope)
    for value in (left, right):
        found = first_unknown(value)
        if found:
            return found
        if is_symbolic(value):
            return unknown(scope, node, f"applies {node.op} to a value known at apply")
    if node.op == "==":
        return _number_or_self(left) == _number_or_self(right)
    if node.op == "!=":
        return _number_or_self(left) != _number_or_self(right)
    left, right = _number(left, node, scope), _number(right, node, scope)
    try:
        result = _ARITHMETIC[node.op](left, right)
    except (ZeroDivisionError, OverflowError, TypeError, ValueError) as error:
        raise EvalFailure(
            f"{node.op} ({where(scope, node)}) failed: {error}"
        ) from error
    return _normalise_number(result) if node.op in "+-*/%" else result


def _logic(node: hcl.Binary, left: Any, right: Any, scope: Scope) -> Any:
    decisive = node.op == "||"
    if left is decisive or right is decisive:
        return decisive
    for value in (left, right):
        if isinstance(value, Unknown):
            return value
        if not isinstance(value, bool):
            raise EvalFailure(f"{node.op} ({where(scope, node)}) needs bools")
    return not decisive


def _number_or_self(value: Any) -> Any:
    return _normalise_number(value) if isinstance(value, float) else value


def _normalise_number(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _number(value: Any, node: Any, scope: Scope) -> Any:
    if isinstance(value, bool):
        raise EvalFailure(f"{node.op} ({where(scope, node)}) needs numbers")
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return _normalise_number(float(value))
        except ValueError:
            pass
    raise EvalFailure(f"{node.op} ({where(scope, node)}) needs numbers, got {value!r}")


def _conditional(node: hcl.Conditional, scope: Scope) -> Any:
    condition = _eval(node.condition, scope)
    if isinstance(condition, Unknown):
        return condition
    if not isinstance(condition, bool):
        return unknown(scope, node, "has a condition known only at apply")
    return _eval(node.then if condition else node.otherwise, scope)


def _for(node: hcl.ForExpr, scope: Scope) -> Any:
    collection = _eval(node.collection, scope)
    if isinstance(collection, Unknown):
        return collection
    if not isinstance(collection, list | dict):
        return unknown(scope, node, "iterates over a collection known only at apply")
    pairs = (
        list(collection.items())
        if isinstance(collection, dict)
        else list(enumerate(collection))
    )
    if node.key is None:
        return _for_tuple(node, pairs, scope)
    return _for_object(node, pairs, scope)


def _for_scope(node: hcl.ForExpr, key: Any, value: Any, scope: Scope) -> Scope:
    names = {node.value_var: value}
    if node.key_var:
        names[node.key_var] = key
    return scope.bind(**names)


def _keep(node: hcl.ForExpr, inner: Scope) -> Any:
    if node.condition is None:
        return True
    return _eval(node.condition, inner)


def _for_tuple(node: hcl.ForExpr, pairs: list[Any], scope: Scope) -> Any:
    result = []
    for key, value in pairs:
        inner = _for_scope(node, key, value, scope)
        keep = _keep(node, inner)
        if isinstance(keep, Unknown):
            return keep
        if keep:
            result.append(_eval(node.value, inner))
    return result


def _for_object(node: hcl.ForExpr, pairs: list[Any], scope: Scope) -> Any:
    result: dict[str, Any] = {}
    for key, value in pairs:
        inner = _for_scope(node, key, value, scope)
        keep = _keep(node, inner)
        if isinstance(keep, Unknown):
            return keep
        if not keep:
            continue
        new_key = _eval(node.key, inner)
        if isinstance(new_key, Unknown | Reference | Symbolic):
            return unknown(scope, node, "builds object keys known only at apply")
        text = _to_string(new_key, scope, node)
        item = _eval(node.value, inner)
        if node.grouping:
            result.setdefault(text, []).append(item)
        elif text in result:
            raise EvalFailure(f"for ({where(scope, node)}) repeats the key {text!r}")
        else:
            result[text] = item
    return result


def _template(node: hcl.Template, scope: Scope) -> Any:
    pieces: list[Any] = []
    for part in node.parts:
        value = part if isinstance(part, str) else _eval(part, scope)
        if isinstance(value, Unknown):
            return value
        pieces.append(value)
    if any(isinstance(piece, Reference | Symbolic) for piece in pieces):
        return _symbolic(pieces, scope, node)
    return "".join(_to_string(piece, scope, node) for piece in pieces)


def _symbolic(pieces: list[Any], scope: Scope, node: Any) -> Any:
    text: list[str] = []
    references: list[Reference] = []
    for piece in pieces:
        if isinstance(piece, Reference):
            text.append(f"${{{piece}}}")
            references.append(piece)
        elif isinstance(piece, Symbolic):
            text.append(piece.text)
            references.extend(piece.references)
        else:
            text.append(_to_string(piece, scope, node))
    return Symbolic("".join(text), tuple(references))


def _template_if(node: hcl.TemplateIf, scope: Scope) -> Any:
    condition = _eval(node.condition, scope)
    if not isinstance(condition, bool):
        return unknown(scope, node, "has a %{if} condition known only at apply")
    return _template(node.then if condition else node.otherwise, scope)


def _template_for(node: hcl.TemplateFor, scope: Scope) -> Any:
    collection = _eval(node.collection, scope)
    if not isinstance(collection, list | dict):
        return unknown(scope, node, "has a %{for} collection known only at apply")
    pairs = (
        collection.items() if isinstance(collection, dict) else enumerate(collection)
    )
    pieces = []
    for key, value in pairs:
        names = {node.value_var: value}
        if node.key_var:
            names[node.key_var] = key
        piece = _template(node.body, scope.bind(**names))
        if not isinstance(piece, str):
            return piece
        pieces.append(piece)
    return "".join(pieces)


def _to_string(value: Any, scope: Scope, node: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(_normalise_number(value))
    if isinstance(value, int | str):
        return str(value)
    raise EvalFailure(
        f"{render(node)} ({where(scope, node)}) puts a "
        f"{type(value).__name__} in a string"
    )


_HANDLERS: dict[type, Callable[[Any, Scope], Any]] = {
    hcl.Literal: _literal,
    hcl.TupleExpr: _tuple,
    hcl.ObjectExpr: _object,
    hcl.Variable: _variable,
    hcl.GetAttr: _get_attr,
    hcl.Index: _index,
    hcl.Splat: _splat,
    hcl.Call: _call,
    hcl.Unary: _unary,
    hcl.Binary: _binary,
    hcl.Conditional: _conditional,
    hcl.ForExpr: _for,
    hcl.Template: _template,
    hcl.TemplateIf: _template_if,
    hcl.TemplateFor: _template_for,
}


# --- Functions --------------------------------------------------------------


def _jsonencode(value: Any) -> Any:
    if is_symbolic(value):
        return Encoded(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _merge(*maps: Any) -> Any:
    result: dict[str, Any] = {}
    for item in maps:
        if item is None:
            continue
        if not isinstance(item, dict):
            raise TypeError("merge() takes maps")
        result.update(item)
    return result


def _lookup(mapping: dict[str, Any], key: str, *default: Any) -> Any:
    if key in mapping:
        return mapping[key]
    if default:
        return default[0]
    raise KeyError(f"no key {key!r} and no default")


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise ValueError("no non-null, non-empty argument")


def _format(spec: str, *args: Any) -> str:
    converted = re.sub(r"%(-?\d*)v", r"%\1s", spec.replace("%q", '"%s"'))
    return converted % tuple(_plain(arg) for arg in args)


def _plain(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _replace(text: str, search: str, replacement: str) -> str:
    if len(search) > 1 and search.startswith("/") and search.endswith("/"):
        go_style = re.sub(r"\$\{?(\w+)\}?", r"\\g<\1>", replacement)
        return re.sub(search[1:-1], go_style, text)
    return text.replace(search, replacement)


def _cidrsubnet(prefix: str, newbits: int, netnum: int) -> str:
    network = ipaddress.ip_network(prefix, strict=False)
    new_prefix = network.prefixlen + int(newbits)
    subnets = network.subnets(new_prefix=new_prefix)
    for index, subnet in enumerate(subnets):
        if index == int(netnum):
            return str(subnet)
    raise ValueError(f"netnum {netnum} does not fit in {prefix}")


def _cidrhost(prefix: str, hostnum: int) -> str:
    network = ipaddress.ip_network(prefix, strict=False)
    return str(network[int(hostnum)])


def _element(items: list[Any], index: int) -> Any:
    if not items:
        raise IndexError("element() of an empty list")
    return items[int(index) % len(items)]


def _toset(items: Any) -> list[Any]:
    unique: list[Any] = []
    for item in items:
        if item not in unique:
            unique.append(item)
    if all(isinstance(item, str) for item in unique):
        return sorted(unique)
    return unique


def _tolist(items: Any) -> list[Any]:
    if isinstance(items, dict):
        raise TypeError("tolist() takes a list or set")
    return list(items)


def _tomap(mapping: Any) -> dict[str, Any]:
    if not isinstance(mapping, dict):
        raise TypeError("tomap() takes an object or map")
    return dict(mapping)


def _flatten(items: list[Any]) -> list[Any]:
    result: list[Any] = []
    for item in items:
        result.extend(_flatten(item) if isinstance(item, list) else [item])
    return result


def _keys(mapping: dict[str, Any]) -> list[str]:
    return sorted(mapping)


def _values(mapping: dict[str, Any]) -> list[Any]:
    return [mapping[key] for key in sorted(mapping)]


def _length(value: Any) -> int:
    if isinstance(value, str | list | dict):
        return len(value)
    raise TypeError("length() takes a string or collection")


def _contains(items: list[Any], value: Any) -> bool:
    return value in items


def _one(items: list[Any]) -> Any:
    if len(items) > 1:
        raise ValueError("one() of more than one element")
    return items[0] if items else None


def _tostring(value: Any) -> Any:
    if value is None:
        return None
    return _plain(value) if isinstance(value, bool) else str(_plain(value))


def _tonumber(value: Any) -> Any:
    if value is None:
        return None
    return _normalise_number(float(value))


def _tobool(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    return {"true": True, "false": False}[value]


def _distinct(items: list[Any]) -> list[Any]:
    result: list[Any] = []
    for item in items:
        if item not in result:
            result.append(item)
    return result


def _index_of(items: list[Any], value: Any) -> int:
    return items.index(value)


def _setunion(*sets: Any) -> list[Any]:
    return _toset([item for each in sets for item in each])


def _setintersection(first: Any, *others: Any) -> list[Any]:
    return _toset([item for item in first if all(item in other for other in others)])


def _slice(items: list[Any], start: int, end: int) -> list[Any]:
    return items[int(start) : int(end)]


def _zipmap(keys: list[str], values: list[Any]) -> dict[str, Any]:
    return dict(zip(keys, values, strict=True))


def _range(*args: Any) -> list[Any]:
    return [_normalise_number(x) for x in range(*(int(a) for a in args))]


def _formatlist(spec: str, *lists: Any) -> list[str]:
    return [_format(spec, *row) for row in zip(*lists, strict=True)]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "alltrue": all,
    "anytrue": any,
    "base64encode": lambda text: base64.b64encode(text.encode()).decode(),
    "ceil": math.ceil,
    "chomp": lambda text: text.rstrip("\r\n"),
    "cidrhost": _cidrhost,
    "cidrsubnet": _cidrsubnet,
    "coalesce": _coalesce,
    "coalescelist": lambda *lists: next(x for x in lists if x),
    "compact": lambda items: [x for x in items if x not in (None, "")],
    "concat": lambda *lists: [item for each in lists for item in each],
    "contains": _contains,
    "distinct": _distinct,
    "element": _element,
    "endswith": lambda text, suffix: text.endswith(suffix),
    "flatten": _flatten,
    "floor": math.floor,
    "format": _format,
    "formatlist": _formatlist,
    "index": _index_of,
    "join": lambda sep, items: sep.join(str(_plain(item)) for item in items),
    "jsondecode": json.loads,
    "jsonencode": _jsonencode,
    "keys": _keys,
    "length": _length,
    "lookup": _lookup,
    "lower": lambda text: text.lower(),
    "max": max,
    "md5": lambda text: hashlib.md5(text.encode()).hexdigest(),  # noqa: S324
    "merge": _merge,
    "min": min,
    "one": _one,
    "range": _range,
    "replace": _replace,
    "reverse": lambda items: list(reversed(items)),
    "setintersection": _setintersection,
    "setunion": _setunion,
    "sha256": lambda text: hashlib.sha256(text.encode()).hexdigest(),
    "slice": _slice,
    "sort": sorted,
    "split": lambda sep, text: text.split(sep),
    "startswith": lambda text, prefix: text.startswith(prefix),
    "strcontains": lambda text, part: part in text,
    "substr": lambda text, start, length: text[
        start : None if length < 0 else start + length
    ],
    "sum": lambda items: _normalise_number(sum(items)),
    "title": lambda text: text.title(),
    "tobool": _tobool,
    "tolist": _tolist,
    "tomap": _tomap,
    "tonumber": _tonumber,
    "toset": _toset,
    "tostring": _tostring,
    "trim": lambda text, chars: text.strip(chars),
    "trimprefix": lambda text, prefix: text.removeprefix(prefix),
    "trimspace": lambda text: text.strip(),
    "trimsuffix": lambda text, suffix: text.removesuffix(suffix),
    "upper": lambda text: text.upper(),
    "values": _values,
    "zipmap": _zipmap,
}

# Functions that may take a reference itself as an argument.
_PASS_THROUGH = frozenset({"coalesce", "jsonencode", "tolist", "toset", "one"})

# Functions that only move values around, so references may pass through.
_SYMBOLIC_SAFE = frozenset(
    {
        "merge",
        "concat",
        "lookup",
        "tolist",
        "toset",
        "tomap",
        "jsonencode",
        "coalesce",
        "element",
        "flatten",
        "compact",
        "distinct",
        "values",
        "one",
        "coalescelist",
        "setunion",
        "keys",
        "length",
        "contains",
    }
)
