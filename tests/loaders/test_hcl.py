"""The HCL parser: a line on every node; bad input is a LoadError at file:line."""

from __future__ import annotations

import pytest

from tenon_compliance.errors import LoadError
from tenon_compliance.loaders import hcl

SAMPLE = """\
# a comment
terraform {
  required_version = "1.11.4" // trailing comment
  backend "s3" {
    key     = "envs/prod/terraform.tfstate"
    encrypt = true
  }
}

/* a block
   comment */
locals {
  name   = "tenon-${var.environment}"
  tags   = merge(var.tags, { Environment = var.environment, "x-y" = 1 })
  upper  = [for s in var.names : upper(s) if s != ""]
  byname = { for k, v in var.map : k => v... }
  pick   = var.a > 1 && !var.b ? -1 : 2 * 3 + 4 % 2
  ids    = aws_instance.web[*].id
  legacy = var.list.0
  path   = var.items[0].name
  text   = <<-EOT
    hello ${var.who}
    %{ if var.loud }!%{ else }.%{ endif }
    EOT
  escape = "a\\"b $${literal} 50%"
  fn     = provider::aws::arn_parse("x")
}

resource "aws_s3_bucket" "this" { bucket = local.name }
"""


@pytest.fixture(scope="module")
def sample() -> hcl.HclFile:
    return hcl.parse(SAMPLE, "sample.tf")


def _locals(sample: hcl.HclFile) -> dict[str, hcl.Attribute]:
    return sample.body.blocks[1].body.attributes


def test_every_attribute_carries_its_own_line(sample: hcl.HclFile) -> None:
    lines = {name: attr.line for name, attr in _locals(sample).items()}
    assert lines["name"] == 13
    assert lines["pick"] == 17
    assert lines["text"] == 21
    assert lines["fn"] == 26
    backend = sample.body.blocks[0].body.blocks[0]
    assert (backend.type, backend.labels, backend.line) == ("backend", ("s3",), 4)
    assert backend.body.attributes["encrypt"].line == 6


def test_nested_nodes_carry_lines_of_a_multiline_expression() -> None:
    parsed = hcl.parse('x = jsonencode({\n  a = [\n    "b",\n  ]\n})\n', "f.tf")
    call = parsed.body.attributes["x"].expr
    obj = call.args[0]
    key, value = obj.items[0]
    assert (call.line, obj.line, key.line, value.line, value.items[0].line) == (
        1,
        1,
        2,
        2,
        3,
    )


def test_interpolation_becomes_a_template_with_a_traversal(sample: hcl.HclFile) -> None:
    name = _locals(sample)["name"].expr
    assert isinstance(name, hcl.Template)
    assert name.parts[0] == "tenon-"
    assert name.parts[1] == hcl.GetAttr(hcl.Variable("var", 13), "environment", 13)


def test_operators_follow_hcl_precedence(sample: hcl.HclFile) -> None:
    pick = _locals(sample)["pick"].expr
    assert isinstance(pick, hcl.Conditional)
    assert pick.condition.op == "&&"
    assert pick.otherwise.op == "+"
    assert pick.otherwise.left.op == "*"
    assert pick.otherwise.right.op == "%"


def test_for_expressions_splat_and_legacy_index(sample: hcl.HclFile) -> None:
    attrs = _locals(sample)
    assert isinstance(attrs["upper"].expr, hcl.ForExpr)
    assert attrs["upper"].expr.condition is not None
    assert attrs["byname"].expr.grouping is True
    assert isinstance(attrs["ids"].expr, hcl.Splat)
    assert attrs["legacy"].expr.key == hcl.Literal(0, 19)


def test_heredoc_is_dedented_and_keeps_directives(sample: hcl.HclFile) -> None:
    text = _locals(sample)["text"].expr
    assert text.parts[0] == "hello "
    assert isinstance(text.parts[3], hcl.TemplateIf)
    assert text.parts[3].line == 23


def test_escapes_and_literal_dollar_braces(sample: hcl.HclFile) -> None:
    assert _locals(sample)["escape"].expr == hcl.Literal('a"b ${literal} 50%', 25)


def test_one_line_block_and_provider_function(sample: hcl.HclFile) -> None:
    bucket = sample.body.blocks[2]
    assert bucket.labels == ("aws_s3_bucket", "this")
    assert _locals(sample)["fn"].expr.name == "provider::aws::arn_parse"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param(
            'a = "x"\nb = \n', r"^bad\.tf:2: expected an expression", id="no-value"
        ),
        pytest.param('a = "x\n', r"^bad\.tf:1: unterminated string", id="open-string"),
        pytest.param(
            "block {\n  a = 1\n", r"^bad\.tf:3: unclosed block", id="open-block"
        ),
        pytest.param(
            "a = 1 b = 2\n", r"^bad\.tf:1: expected a newline", id="two-on-a-line"
        ),
        pytest.param(
            "x {\n  a = 1\n  a = 2\n}\n",
            r"^bad\.tf:3: duplicate attribute 'a' \(first set on line 2\)",
            id="duplicate-attribute",
        ),
        pytest.param(
            "a = <<EOT\nnever closed\n",
            r"^bad\.tf:1: unterminated heredoc",
            id="open-heredoc",
        ),
        pytest.param(
            'a = "%{ if x }y"\n', r"^bad\.tf:1: template directive", id="open-if"
        ),
        pytest.param(
            'a = "\\q"\n', r"^bad\.tf:1: invalid escape sequence", id="bad-escape"
        ),
        pytest.param(
            "a = [1, 2\n", r"^bad\.tf:2: expected ',' or '\]'", id="open-tuple"
        ),
    ],
)
def test_invalid_syntax_names_file_and_line(source: str, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        hcl.parse(source, "bad.tf")


def test_deep_nesting_is_refused_without_exhausting_the_stack() -> None:
    deep = "a = " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(LoadError, match=r"^deep\.tf:1: nesting deeper than 64 levels"):
        hcl.parse(deep, "deep.tf")


def test_deeply_nested_blocks_are_refused() -> None:
    deep = "b {\n" * 100 + "}\n" * 100
    with pytest.raises(LoadError, match=r"^deep\.tf:65: nesting deeper than 64"):
        hcl.parse(deep, "deep.tf")


def test_long_unary_chain_is_refused() -> None:
    with pytest.raises(LoadError, match=r"^deep\.tf:1: nesting deeper"):
        hcl.parse("a = " + "!" * 5000 + "true\n", "deep.tf")


def test_non_utf8_bytes_name_the_line() -> None:
    data = b'a = "ok"\nb = "\xff\xfe"\n'
    with pytest.raises(LoadError, match=r"^latin\.tf:2: not valid UTF-8"):
        hcl.parse_bytes(data, "latin.tf")


def test_binary_file_named_tf_is_refused() -> None:
    data = b"\x7fELF\x02\x01\x01\x00\x00\x00"
    with pytest.raises(LoadError, match=r"^binary\.tf:1: binary content"):
        hcl.parse_bytes(data, "binary.tf")


def test_byte_order_mark_and_crlf_are_accepted() -> None:
    parsed = hcl.parse_bytes(b'\xef\xbb\xbfa = "x"\r\nb = 2\r\n', "win.tf")
    assert parsed.body.attributes["b"] == hcl.Attribute("b", hcl.Literal(2, 2), 2)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        pytest.param(
            "a = " + "1" * 5000 + "\n", r"^big\.tf:1: number too long", id="long-number"
        ),
        pytest.param(
            "a = x." + "1" * 5000 + "\n",
            r"^big\.tf:1: number too long",
            id="long-legacy-index",
        ),
        pytest.param(
            'a = "\\UFFFFFFFF"\n',
            r"^big\.tf:1: invalid unicode escape",
            id="escape-beyond-unicode",
        ),
    ],
)
def test_out_of_range_literals_are_load_errors(source: str, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        hcl.parse(source, "big.tf")
