"""The own HCL parser agrees with the hcl2 library on every .tf file of the repository.

Compared: every attribute name (and object key) together with its literal
value — strings without interpolation or newlines, numbers and bools. The
library renders expressions as strings, so only literals can be compared.
Two output formats of the library are understood: python-hcl2 8 (strings
keep their quotes) and the 0.x line that bc-python-hcl2 continues
(attribute values wrapped in a one-element list).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenon_compliance.loaders import hcl

hcl2 = pytest.importorskip("hcl2")

REPO = Path(__file__).resolve().parents[2]
TF_FILES = sorted((REPO / "infra" / "terraform").rglob("*.tf"))
_META = {"__start_line__", "__end_line__", "__is_block__", "__comments__"}

Pair = tuple[str, Any]


def _comparable(value: Any) -> bool:
    if isinstance(value, bool | int | float):
        return True
    return isinstance(value, str) and "${" not in value and "\n" not in value


def _own_pairs(body: hcl.Body) -> Iterator[Pair]:
    for name, attribute in body.attributes.items():
        yield from _own_value(name, attribute.expr)
    for block in body.blocks:
        yield from _own_pairs(block.body)


def _own_value(name: str, node: Any) -> Iterator[Pair]:
    if (
        isinstance(node, hcl.Unary)
        and node.op == "-"
        and isinstance(node.operand, hcl.Literal)
    ):
        yield name, -node.operand.value
    elif isinstance(node, hcl.Literal) and _comparable(node.value):
        yield name, node.value
    elif isinstance(node, hcl.TupleExpr):
        for item in node.items:
            yield from _own_value("", item)
    elif isinstance(node, hcl.ObjectExpr):
        for key, value in node.items:
            if isinstance(key, hcl.Literal):
                yield from _own_value(str(key.value), value)


def _unquote(value: Any) -> Any:
    """The library keeps quotes (version 8) and escapes (every version) raw."""
    if not isinstance(value, str):
        return value
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value.replace('\\"', '"').replace("\\\\", "\\")


def _library_pairs(name: str, value: Any, *, attribute: bool) -> Iterator[Pair]:
    if attribute and isinstance(value, list) and len(value) == 1 and LEGACY:
        value = value[0]
    if isinstance(value, dict):
        for key, inner in value.items():
            if key not in _META:
                yield from _library_pairs(_unquote(key), inner, attribute=True)
    elif isinstance(value, list):
        for item in value:
            yield from _library_pairs(
                "" if not isinstance(item, dict) else name, item, attribute=False
            )
    elif LEGACY or not isinstance(value, str) or value.startswith('"'):
        # Version 8 writes an expression (``type = string``) without quotes.
        value = _unquote(value)
        if _comparable(value):
            yield name, value


LEGACY = str(getattr(hcl2, "__version__", "0")).startswith("0.")


@pytest.mark.parametrize(
    "path", TF_FILES, ids=[str(p.relative_to(REPO)) for p in TF_FILES]
)
def test_attribute_names_and_literals_match_the_hcl2_library(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    own = Counter(_own_pairs(hcl.parse(text, str(path)).body))
    library = Counter(_library_pairs("", hcl2.loads(text), attribute=False))
    assert own == library
    assert own, "the file has no literal to compare"


def test_the_repository_has_terraform_files_to_compare() -> None:
    assert len(TF_FILES) >= 10
