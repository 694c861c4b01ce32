"""The evaluator never crashes: any expression that parses evaluates to a value.

Expressions are built from HCL fragments (operators, function calls, literals,
traversals); whatever Terraform would reject becomes Unknown with a reason.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tenon_compliance.errors import LoadError
from tenon_compliance.loaders import hcl
from tenon_compliance.loaders.terraform_eval import FUNCTIONS, Scope, evaluate

atoms = st.sampled_from(
    [
        "1",
        "0",
        "-3",
        "2.5",
        "1e400",
        "9" * 30,
        '"a"',
        '"10.0.0.0/16"',
        "true",
        "null",
        "[]",
        "{}",
        '["x", 1]',
        "{ a = 1 }",
        "var.v",
        "local.l",
        "aws_s3_bucket.b.arn",
        "data.aws_region.r.name",
        "count.index",
        "each.key",
        '"${var.v}-x"',
        "[for x in var.v : x]",
    ]
)
function_names = st.sampled_from([*sorted(FUNCTIONS), "try", "can", "nope"])


def expressions() -> st.SearchStrategy[str]:
    return st.recursive(
        atoms,
        lambda inner: st.one_of(
            st.tuples(
                inner, st.sampled_from([*list("+-*/%<>"), "==", "&&", "||"]), inner
            ).map(" ".join),
            st.tuples(function_names, st.lists(inner, max_size=3)).map(
                lambda call: f"{call[0]}({', '.join(call[1])})"
            ),
            st.tuples(inner, inner, inner).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
            inner.map(lambda e: f"[{e}][0]"),
            inner.map(lambda e: f"!{e}"),
        ),
        max_leaves=8,
    )


@settings(max_examples=300, deadline=None)
@given(expressions())
def test_any_parsed_expression_evaluates_without_raising(source: str) -> None:
    try:
        parsed = hcl.parse(f"x = {source}\n", "expr.tf")
    except LoadError:
        return
    scope = Scope("expr.tf", "", ".", {"v": ["a", "b"]})
    scope.locals = {"l": hcl.Attribute("l", hcl.Literal(3, 1), 1)}
    evaluate(parsed.body.attributes["x"].expr, scope)
