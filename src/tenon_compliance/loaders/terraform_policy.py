"""IAM policy documents of the Terraform model, normalised to statements.

A policy reaches a resource in one of three shapes: a reference to a
``data "aws_iam_policy_document"`` (the statements are its blocks), a JSON
string, or ``jsonencode({...})`` of a structure that holds references. Each
becomes a list of ``Statement`` with the place it is written, so a control
can report the exact line of an over-broad statement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tenon_compliance.loaders.terraform import Attr, BlockValue, Missing, Stack
from tenon_compliance.loaders.terraform_eval import Encoded, Reference, Symbolic
from tenon_compliance.model import Location, Unknown


@dataclass(frozen=True)
class Condition:
    """One condition of a statement: ``test`` on ``variable`` against ``values``."""

    test: Any
    variable: Any
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Statement:
    """One policy statement; fields hold strings, Symbolic, Reference or Unknown."""

    effect: Any
    actions: tuple[Any, ...]
    resources: tuple[Any, ...]
    location: Location
    principals: tuple[tuple[Any, Any], ...] = ()
    conditions: tuple[Condition, ...] = ()
    not_actions: tuple[Any, ...] = field(default=())
    not_resources: tuple[Any, ...] = field(default=())


def statements(  # noqa: PLR0911 - one return per policy shape
    stack: Stack, attribute: Attr | Missing
) -> list[Statement] | Unknown:
    """The statements of the policy an attribute holds, or Unknown with the reason."""
    if isinstance(attribute, Missing):
        return Unknown(f"{attribute.path} is not set ({attribute.location})")
    value = attribute.value
    if isinstance(value, Unknown):
        return value
    if isinstance(value, Reference):
        return _from_reference(stack, value, attribute.location)
    if isinstance(value, Encoded):
        return _from_json(value.value, attribute.location)
    if isinstance(value, str):
        try:
            return _from_json(json.loads(value), attribute.location)
        except json.JSONDecodeError as error:
            return Unknown(f"{attribute.location}: the policy is not JSON: {error}")
    return Unknown(f"{attribute.location}: the policy is a {type(value).__name__}")


def _from_reference(
    stack: Stack, reference: Reference, location: Location
) -> list[Statement] | Unknown:
    documents = [
        r for r in stack.referenced(reference) if r.type == "aws_iam_policy_document"
    ]
    if len(documents) != 1 or reference.attribute not in ("json", "minified_json"):
        return Unknown(
            f"{location}: {reference} is not a policy document of this stack"
        )
    return from_document(documents[0].body)


def from_document(document: BlockValue) -> list[Statement] | Unknown:
    """The statements of a ``data "aws_iam_policy_document"`` block."""
    for merged in ("source_policy_documents", "override_policy_documents"):
        if merged in document.attributes:
            where = document.attributes[merged].location
            return Unknown(f"{where}: {merged} merges documents known only at apply")
    result = []
    for block in document.blocks_of("statement"):
        principals = tuple(
            (p.value("type"), tuple(_listed(p.value("identifiers"))))
            for p in block.blocks_of("principals")
        )
        conditions = tuple(
            Condition(c.value("test"), c.value("variable"), _listed(c.value("values")))
            for c in block.blocks_of("condition")
        )
        result.append(
            Statement(
                effect=block.value("effect", default="Allow"),
                actions=_listed(block.value("actions")),
                resources=_listed(block.value("resources")),
                location=block.location,
                principals=principals,
                conditions=conditions,
                not_actions=_listed(block.value("not_actions")),
                not_resources=_listed(block.value("not_resources")),
            )
        )
    return result


def _listed(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(value)
    return (value,)


def _from_json(document: Any, location: Location) -> list[Statement] | Unknown:
    if not isinstance(document, dict):
        return Unknown(f"{location}: the policy is not a JSON object")
    raw = document.get("Statement", [])
    items = raw if isinstance(raw, list) else [raw]
    result = []
    for item in items:
        if not isinstance(item, dict):
            return Unknown(f"{location}: a statement is not an object")
        principal = item.get("Principal", {})
        principals: tuple[tuple[Any, Any], ...] = (
            (("*", ("*",)),)
            if principal == "*"
            else tuple((k, _listed(v)) for k, v in dict(principal).items())
        )
        conditions = tuple(
            Condition(test, variable, _listed(values))
            for test, pairs in dict(item.get("Condition", {})).items()
            for variable, values in dict(pairs).items()
        )
        result.append(
            Statement(
                effect=item.get("Effect"),
                actions=_listed(item.get("Action")),
                resources=_listed(item.get("Resource")),
                location=location,
                principals=principals,
                conditions=conditions,
                not_actions=_listed(item.get("NotAction")),
                not_resources=_listed(item.get("NotResource")),
            )
        )
    return result


def text(value: Any) -> str | None:
    """A statement field as text (Symbolic keeps its ``${...}`` form), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, Symbolic):
        return value.text
    if isinstance(value, Reference):
        return f"${{{value}}}"
    return None
