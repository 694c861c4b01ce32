"""Properties of the HCL parser, checked on generated input.

- A random valid document, rendered as HCL, parses back to the same values.
- Random bytes and random HCL-looking text never raise anything but LoadError.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenon_compliance.errors import LoadError
from tenon_compliance.loaders import hcl
from tenon_compliance.loaders.terraform_eval import Scope, evaluate

KEYWORDS = {"true", "false", "null", "for", "in", "if"}

names = st.builds(
    str.__add__,
    st.sampled_from("abcxyz_"),
    st.text(alphabet="abcxyz019_-", max_size=8),
).filter(lambda name: name not in KEYWORDS)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=0, max_value=10**12)
    | st.text(max_size=20)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4)
    ),
    max_leaves=12,
)


@st.composite
def bodies(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    """A body: attributes by name and a list of (type, labels, body) blocks."""
    attributes = draw(st.dictionaries(names, values, max_size=4))
    blocks = []
    if depth < 2:
        for _ in range(draw(st.integers(min_value=0, max_value=2))):
            labels = draw(st.lists(st.text(max_size=6), max_size=2))
            blocks.append((draw(names), labels, draw(bodies(depth + 1))))
    return {"attributes": attributes, "blocks": blocks}


_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def quote(text: str) -> str:
    """An HCL quoted string for text, escaping what HCL would interpret."""
    escaped = "".join(
        _ESCAPES.get(char, f"\\u{ord(char):04x}" if ord(char) < 0x20 else char)
        for char in text
    )
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def render_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, list):
        return "[" + ", ".join(render_value(item) for item in value) + "]"
    items = "\n".join(f"{key} = {render_value(item)}" for key, item in value.items())
    return "{\n" + items + "\n}"


def render_body(body: dict[str, Any], indent: str = "") -> str:
    lines = [
        f"{indent}{key} = {render_value(v)}" for key, v in body["attributes"].items()
    ]
    for kind, labels, inner in body["blocks"]:
        head = " ".join([kind, *(quote(label) for label in labels)])
        lines.append(f"{indent}{head} {{")
        lines.append(render_body(inner, indent + "  "))
        lines.append(f"{indent}}}")
    return "\n".join(lines)


def read_back(body: hcl.Body) -> dict[str, Any]:
    scope = Scope("generated.tf", "", ".", {})
    return {
        "attributes": {
            name: evaluate(attribute.expr, scope)
            for name, attribute in body.attributes.items()
        },
        "blocks": [
            (block.type, list(block.labels), read_back(block.body))
            for block in body.blocks
        ],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies())
def test_a_rendered_document_parses_back_to_the_same_values(
    body: dict[str, Any],
) -> None:
    source = render_body(body) + "\n"
    assert read_back(hcl.parse(source, "generated.tf").body) == body


def _raised(parse: Callable[[], object]) -> LoadError | None:
    """The LoadError parse raised, or None; any other exception propagates."""
    try:
        parse()
    except LoadError as error:
        return error
    return None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_raise_nothing_but_load_error(data: bytes) -> None:
    error = _raised(lambda: hcl.parse_bytes(data, "random.tf"))
    assert error is None or str(error).startswith("random.tf")


HCL_ALPHABET = st.sampled_from(
    [
        *'abcxyz_-019 \t\n"\\${}%[]().,:=?!<>+*/#&|~',
        "<<EOT\n",
        "\nEOT\n",
        "for ",
        " in ",
        "//",
        "/*",
        "*/",
        "${",
        "%{",
        "...",
        "9" * 4400,  # beyond Python's default limit for int("...")
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(HCL_ALPHABET, max_size=60).map("".join))
def test_random_hcl_looking_text_raises_nothing_but_load_error(text: str) -> None:
    error = _raised(lambda: hcl.parse(text, "random.tf"))
    assert error is None or str(error).startswith("random.tf:")


@pytest.mark.parametrize("depth", [10, 60])
def test_nesting_within_the_bound_parses(depth: int) -> None:
    source = "a = " + "[" * depth + "]" * depth + "\n"
    assert hcl.parse(source, "ok.tf").body.attributes["a"].line == 1
