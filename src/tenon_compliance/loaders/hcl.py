"""A parser for the HCL2 native syntax that Terraform files use.

Every node of the tree carries the 1-based line where it starts, so a finding
can point at the exact attribute that causes it. The parser is hand-written
(a scanner-less recursive descent over regular expressions) because the
library parsers give lines only per block and are slower; see
``benchmarks/hcl_parse.py`` for the measurement behind that choice.

What it reads: blocks, attributes, one-line blocks, ``#``, ``//`` and ``/* */``
comments, numbers, ``true``/``false``/``null``, quoted templates with
``${}`` interpolation and ``%{if}``/``%{for}`` directives, heredocs
(``<<EOF`` and ``<<-EOF``), tuples, objects, unary/binary operators,
conditionals, function calls (with ``...`` expansion), ``for`` expressions,
splats (``.*`` and ``[*]``), attribute, index and legacy ``.0`` traversals.

Raises ``LoadError`` (message ``file:line: reason``) on invalid syntax,
bytes that are not UTF-8, a duplicate attribute in one body, or nesting
deeper than ``MAX_DEPTH``.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import Any

from tenon_compliance.errors import LoadError

# Nesting deeper than this is refused: no real Terraform gets near it, and a
# bound keeps a hostile file from exhausting the Python stack.
MAX_DEPTH = 64
# A hand-written .tf file is kilobytes; anything above this is generated or
# hostile, and parsing it would cost seconds and hundreds of megabytes.
MAX_BYTES = 4 * 1024 * 1024


# --- The tree ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Literal:
    """A number, string without interpolation, bool or null."""

    value: Any
    line: int


@dataclass(frozen=True, slots=True)
class Template:
    """A string with interpolations: parts are ``str`` or expression nodes."""

    parts: tuple[Any, ...]
    line: int


@dataclass(frozen=True, slots=True)
class TemplateIf:
    """A ``%{ if }`` directive inside a template."""

    condition: Any
    then: Template
    otherwise: Template
    line: int


@dataclass(frozen=True, slots=True)
class TemplateFor:
    """A ``%{ for }`` directive inside a template."""

    key_var: str | None
    value_var: str
    collection: Any
    body: Template
    line: int


@dataclass(frozen=True, slots=True)
class TupleExpr:
    """``[a, b, ...]``."""

    items: tuple[Any, ...]
    line: int


@dataclass(frozen=True, slots=True)
class ObjectExpr:
    """``{ key = value, ... }``; a bare identifier key is a literal string."""

    items: tuple[tuple[Any, Any], ...]
    line: int


@dataclass(frozen=True, slots=True)
class Variable:
    """A root name such as ``var``, ``local``, ``aws_kms_key`` or ``each``."""

    name: str
    line: int


@dataclass(frozen=True, slots=True)
class GetAttr:
    """``source.name``."""

    source: Any
    name: str
    line: int


@dataclass(frozen=True, slots=True)
class Index:
    """``source[key]`` (or the legacy ``source.0``)."""

    source: Any
    key: Any
    line: int


@dataclass(frozen=True, slots=True)
class Splat:
    """``source[*].a.b`` or ``source.*.a``: ``each`` is applied to every element.

    ``each`` is a traversal rooted at a ``Variable`` named ``*``.
    """

    source: Any
    each: Any
    line: int


@dataclass(frozen=True, slots=True)
class Call:
    """``name(args...)``; ``expand`` is true when the last argument ends in ``...``."""

    name: str
    args: tuple[Any, ...]
    expand: bool
    line: int


@dataclass(frozen=True, slots=True)
class Unary:
    """``!x`` or ``-x``."""

    op: str
    operand: Any
    line: int


@dataclass(frozen=True, slots=True)
class Binary:
    """``left op right`` for arithmetic, comparison and logic operators."""

    op: str
    left: Any
    right: Any
    line: int


@dataclass(frozen=True, slots=True)
class Conditional:
    """``condition ? then : otherwise``."""

    condition: Any
    then: Any
    otherwise: Any
    line: int


@dataclass(frozen=True, slots=True)
class ForExpr:
    """``[for k, v in c : value if cond]`` or ``{for k, v in c : key => value}``."""

    key_var: str | None
    value_var: str
    collection: Any
    key: Any | None
    value: Any
    condition: Any | None
    grouping: bool
    line: int


@dataclass(frozen=True, slots=True)
class Attribute:
    """``name = expression`` inside a body."""

    name: str
    expr: Any
    line: int


@dataclass(slots=True)
class Body:
    """The attributes (by name) and blocks (in order) of a file or block."""

    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)


@dataclass(slots=True)
class Block:
    """``type "label" ... { body }``."""

    type: str
    labels: tuple[str, ...]
    body: Body
    line: int
    file: str = ""

    def blocks_of(self, kind: str) -> list[Block]:
        """The nested blocks of one type, in file order."""
        return [block for block in self.body.blocks if block.type == kind]


@dataclass(slots=True)
class HclFile:
    """One parsed file: its path (relative to the root) and its top-level body."""

    path: str
    body: Body
    source: str = ""


# --- The scanner ------------------------------------------------------------

_SPACE = re.compile(r"(?:[ \t\r]+|#[^\n]*|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)+")
_SPACE_NL = re.compile(r"(?:[ \t\r\n]+|#[^\n]*|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)+")
_SPACE_START = frozenset(" \t\r\n#/")
_IDENT = re.compile(r"[^\W\d][\w-]*")
_DIGITS = re.compile(r"\d+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_HEREDOC = re.compile(r"<<(-?)([^\W\d][\w-]*)[ \t]*\r?\n")
_PLAIN_QUOTED = re.compile(r'"([^"\\$%\n]*)"')
_TEMPLATE_TEXT = re.compile(r"[^\"\\$%\n]+")
_HEREDOC_TEXT = re.compile(r"[^$%]+")
_OPERATORS = (
    ("||", 1),
    ("&&", 2),
    ("==", 3),
    ("!=", 3),
    ("<=", 4),
    (">=", 4),
    ("<", 4),
    (">", 4),
    ("+", 5),
    ("-", 5),
    ("*", 6),
    ("/", 6),
    ("%", 6),
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
_KEYWORDS = {"true": True, "false": False, "null": None}


class _Parser:
    """Parses one text; ``nl`` > 0 while newlines are insignificant."""

    def __init__(self, text: str, path: str, first_line: int = 1) -> None:
        self.text = text
        self.path = path
        self.pos = 0
        self.nl = 0
        self.depth = 0
        self.first_line = first_line
        self._newlines = [i for i, char in enumerate(text) if char == "\n"]

    # Positions and errors.

    def line(self, pos: int | None = None) -> int:
        where = self.pos if pos is None else pos
        return self.first_line + bisect.bisect_right(self._newlines, where - 1)

    def error(self, message: str, pos: int | None = None) -> LoadError:
        return LoadError(self.path, self.line(pos), message)

    def describe(self) -> str:
        if self.pos >= len(self.text):
            return "end of file"
        return repr(self.text[self.pos : self.pos + 12].split("\n")[0] or "\n")

    def skipped(self) -> int:
        """The position after the whitespace and comments at the cursor."""
        pos = self.pos
        if self.text[pos : pos + 1] not in _SPACE_START:
            return pos  # the common case: a token starts right here
        pattern = _SPACE_NL if self.nl else _SPACE
        match = pattern.match(self.text, pos)
        return match.end() if match else pos

    def skip(self) -> None:
        self.pos = self.skipped()

    def skip_all(self) -> None:
        match = _SPACE_NL.match(self.text, self.pos)
        if match:
            self.pos = match.end()

    def peek(self, token: str) -> bool:
        return self.text.startswith(token, self.skipped())

    def accept(self, token: str) -> bool:
        after = self.skipped()
        if self.text.startswith(token, after):
            self.pos = after + len(token)
            return True
        return False

    def accept_word(self, word: str) -> bool:
        after = self.skipped()
        match = _IDENT.match(self.text, after)
        if match and match.group() == word:
            self.pos = match.end()
            return True
        return False

    def expect(self, token: str, what: str) -> None:
        if not self.accept(token):
            self.skip()
            raise self.error(f"expected {what}, found {self.describe()}")

    def ident(self, what: str = "a name") -> str:
        self.skip()
        match = _IDENT.match(self.text, self.pos)
        if not match:
            raise self.error(f"expected {what}, found {self.describe()}")
        self.pos = match.end()
        return match.group()

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels")

    # Bodies.

    def body(self, closing: str | None) -> Body:
        body = Body()
        while True:
            self.skip_all()
            if closing and self.text.startswith(closing, self.pos):
                self.pos += 1
                return body
            if self.pos >= len(self.text):
                if closing:
                    raise self.error("unclosed block: expected '}'")
                return body
            self.item(body, closing)

    def item(self, body: Body, closing: str | None) -> None:
        start = self.pos
        name = self.ident("an attribute or block name")
        if self.accept("="):
            if self.text.startswith("=", self.pos):
                raise self.error("expected an expression, found '='")
            self.attribute(body, name, start)
        else:
            body.blocks.append(self.block(name, start))
        self.end_of_item(closing)

    def attribute(self, body: Body, name: str, start: int) -> None:
        if name in body.attributes:
            first = body.attributes[name].line
            raise self.error(
                f"duplicate attribute {name!r} (first set on line {first})", start
            )
        body.attributes[name] = Attribute(name, self.expression(), self.line(start))

    def block(self, kind: str, start: int) -> Block:
        labels: list[str] = []
        while True:
            self.skip()
            if self.text.startswith('"', self.pos):
                labels.append(self.label())
            elif self.text.startswith("{", self.pos):
                break
            else:
                labels.append(self.ident("a block label or '{'"))
        self.pos += 1
        self.enter()
        inner = self.body("}")
        self.depth -= 1
        return Block(kind, tuple(labels), inner, self.line(start), self.path)

    def label(self) -> str:
        node = self.template_string()
        if not isinstance(node, Literal):
            raise self.error("a block label cannot hold an interpolation")
        return str(node.value)

    def end_of_item(self, closing: str | None) -> None:
        match = _SPACE.match(self.text, self.pos)
        if match:
            self.pos = match.end()
        if self.pos >= len(self.text) or self.text[self.pos] == "\n":
            return
        if closing and self.text.startswith(closing, self.pos):
            return
        raise self.error(f"expected a newline after the item, found {self.describe()}")

    # Expressions.

    def expression(self) -> Any:
        self.enter()
        condition = self.binary(1)
        if self.accept("?"):
            self.nl += 1
            then = self.expression()
            self.expect(":", "':' of the conditional")
            otherwise = self.expression()
            self.nl -= 1
            condition = Conditional(condition, then, otherwise, condition.line)
        self.depth -= 1
        return condition

    def operator(self) -> tuple[str, int, int] | None:
        """The binary operator after the cursor, its precedence and its end."""
        text, pos = self.text, self.skipped()
        for op, precedence in _OPERATORS:
            if text.startswith(op, pos):
                if op == "<" and text.startswith("<<", pos):
                    return None
                return op, precedence, pos + len(op)
        return None

    def binary(self, minimum: int) -> Any:
        left = self.unary()
        while True:
            found = self.operator()
            if found is None or found[1] < minimum:
                return left
            op, precedence, self.pos = found
            right = self.binary(precedence + 1)
            left = Binary(op, left, right, left.line)

    def unary(self) -> Any:
        self.skip()
        char = self.text[self.pos : self.pos + 1]
        if char in ("!", "-") and not self.text.startswith("!=", self.pos):
            line = self.line()
            self.pos += 1
            self.enter()
            operand = self.unary()
            self.depth -= 1
            return Unary(char, operand, line)
        return self.postfix(self.primary())

    def postfix(self, node: Any) -> Any:
        while True:
            text, pos = self.text, self.skipped()
            if text.startswith(".*", pos):
                self.pos = pos + 2
                return Splat(node, self.splat_each(attributes_only=True), node.line)
            if text.startswith("[*]", pos):
                self.pos = pos + 3
                return Splat(node, self.splat_each(attributes_only=False), node.line)
            if text.startswith(".", pos) and not text.startswith("...", pos):
                self.pos = pos
                node = self.dot(node)
            elif text.startswith("[", pos):
                self.pos = pos
                node = self.index(node)
            else:
                return node

    def dot(self, node: Any) -> Any:
        self.pos += 1
        number = _DIGITS.match(self.text, self.pos)
        if number:
            self.pos = number.end()
            index = self.number(number.group(), is_float=False)
            return Index(node, Literal(index, node.line), node.line)
        return GetAttr(node, self.ident("an attribute name after '.'"), node.line)

    def index(self, node: Any) -> Index:
        self.pos += 1
        self.nl += 1
        key = self.expression()
        self.expect("]", "']'")
        self.nl -= 1
        return Index(node, key, node.line)

    def splat_each(self, *, attributes_only: bool) -> Any:
        each: Any = Variable("*", self.line())
        while True:
            text, pos = self.text, self.skipped()
            if text.startswith(".", pos) and not text.startswith("...", pos):
                self.pos = pos
                each = self.dot(each)
            elif text.startswith("[", pos) and not attributes_only:
                self.pos = pos
                each = self.index(each)
            else:
                return each

    def primary(self) -> Any:  # noqa: PLR0911 - one return per kind of expression
        self.skip()
        text, pos = self.text, self.pos
        char = text[pos : pos + 1]
        if char == '"':
            return self.template_string()
        if char == "(":
            return self.parenthesised()
        if char == "[":
            return self.tuple_or_for()
        if char == "{":
            return self.object_or_for()
        if text.startswith("<<", pos):
            return self.heredoc()
        number = _NUMBER.match(text, pos)
        if number:
            self.pos = number.end()
            literal = number.group()
            is_float = "." in literal or "e" in literal or "E" in literal
            return Literal(self.number(literal, is_float=is_float), self.line(pos))
        if _IDENT.match(text, pos):
            return self.name_or_call()
        raise self.error(f"expected an expression, found {self.describe()}")

    def number(self, literal: str, *, is_float: bool) -> int | float:
        try:
            return float(literal) if is_float else int(literal)
        except ValueError as error:
            raise self.error(f"number too long ({len(literal)} digits)") from error

    def name_or_call(self) -> Any:
        line = self.line()
        name = self.ident()
        if name in _KEYWORDS:
            return Literal(_KEYWORDS[name], line)
        if self.text.startswith("(", self.pos) or (
            self.text.startswith("::", self.pos)
        ):
            return self.call(name, line)
        return Variable(name, line)

    def call(self, name: str, line: int) -> Call:
        while self.text.startswith("::", self.pos):
            self.pos += 2
            name = f"{name}::{self.ident('a function name')}"
        self.expect("(", "'(' of the function call")
        self.nl += 1
        args: list[Any] = []
        expand = False
        while not self.accept(")"):
            args.append(self.expression())
            if self.accept("..."):
                expand = True
                self.expect(")", "')' after '...'")
                break
            if not self.accept(","):
                self.expect(")", "',' or ')' in the function call")
                break
        self.nl -= 1
        return Call(name, tuple(args), expand, line)

    def parenthesised(self) -> Any:
        self.pos += 1
        self.nl += 1
        inner = self.expression()
        self.expect(")", "')'")
        self.nl -= 1
        return inner

    def is_for(self) -> bool:
        self.skip()
        match = _IDENT.match(self.text, self.pos)
        if not match or match.group() != "for":
            return False
        after = _SPACE_NL.match(self.text, match.end())
        end = after.end() if after else match.end()
        return bool(after) and bool(_IDENT.match(self.text, end))

    def tuple_or_for(self) -> Any:
        line = self.line()
        self.pos += 1
        self.nl += 1
        node: Any
        if self.is_for():
            node = self.for_expr(line, is_object=False)
        else:
            items: list[Any] = []
            while not self.accept("]"):
                items.append(self.expression())
                if not self.accept(","):
                    self.expect("]", "',' or ']' in the tuple")
                    break
            node = TupleExpr(tuple(items), line)
        self.nl -= 1
        return node

    def object_or_for(self) -> Any:
        line = self.line()
        self.pos += 1
        if self.is_for():
            self.nl += 1
            node: Any = self.for_expr(line, is_object=True)
            self.nl -= 1
        else:
            # Inside an object constructor a newline separates the items.
            saved, self.nl = self.nl, 0
            node = self.object_items(line)
            self.nl = saved
        return node

    def object_items(self, line: int) -> ObjectExpr:
        items: list[tuple[Any, Any]] = []
        while True:
            self.skip_all()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return ObjectExpr(tuple(items), line)
            key = self.object_key()
            if not (self.accept("=") or self.accept(":")):
                raise self.error(
                    f"expected '=' or ':' after the key, found {self.describe()}"
                )
            items.append((key, self.expression()))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith(("\n", "}"), self.pos):
                raise self.error(
                    f"expected ',' or a newline in the object, found {self.describe()}"
                )

    def object_key(self) -> Any:
        self.skip()
        match = _IDENT.match(self.text, self.pos)
        if match and match.group() not in _KEYWORDS:
            after = _SPACE.match(self.text, match.end())
            end = after.end() if after else match.end()
            if self.text.startswith(("=", ":"), end) and not self.text.startswith(
                ("==", "::"), end
            ):
                self.pos = match.end()
                return Literal(match.group(), self.line(match.start()))
        return self.expression()

    def for_expr(self, line: int, *, is_object: bool) -> ForExpr:
        self.ident()  # the keyword "for"
        first = self.ident("a variable name")
        key_var, value_var = None, first
        if self.accept(","):
            key_var, value_var = first, self.ident("a variable name")
        if self.ident("'in'") != "in":
            raise self.error("expected 'in' in the for expression")
        collection = self.expression()
        self.expect(":", "':' of the for expression")
        key = None
        if is_object:
            key = self.expression()
            self.expect("=>", "'=>' of the object for expression")
        value = self.expression()
        grouping = is_object and self.accept("...")
        condition = None
        if self.accept_word("if"):
            condition = self.expression()
        self.expect("}" if is_object else "]", "the end of the for expression")
        return ForExpr(
            key_var, value_var, collection, key, value, condition, grouping, line
        )

    # Templates.

    def template_string(self) -> Any:
        line = self.line()
        plain = _PLAIN_QUOTED.match(self.text, self.pos)
        if plain:
            self.pos = plain.end()
            return Literal(plain.group(1), line)
        self.pos += 1
        parts = self.template_parts(quoted=True)
        return _build_template(parts, line, self)

    def heredoc(self) -> Any:
        line = self.line()
        match = _HEREDOC.match(self.text, self.pos)
        if not match:
            raise self.error("malformed heredoc: expected <<NAME or <<-NAME")
        indented, marker = match.group(1) == "-", match.group(2)
        end = re.compile(rf"^[ \t]*{re.escape(marker)}[ \t]*\r?$", re.MULTILINE)
        closing = end.search(self.text, match.end())
        if not closing:
            raise self.error(f"unterminated heredoc: no line with {marker!r}")
        content = self.text[match.end() : closing.start()]
        if indented:
            content = _dedent(content)
        self.pos = closing.end()
        inner = _Parser(content, self.path, self.line(match.end()))
        inner.depth = self.depth
        parts = inner.template_parts(quoted=False)
        return _build_template(parts, line, inner)

    def template_parts(self, *, quoted: bool) -> list[Any]:
        """Scan template text up to the closing quote (or the end of a heredoc)."""
        parts: list[Any] = []
        text = self.text
        literal = _TEMPLATE_TEXT if quoted else _HEREDOC_TEXT
        while True:
            match = literal.match(text, self.pos)
            if match:
                parts.append(match.group())
                self.pos = match.end()
            if self.pos >= len(text):
                if quoted:
                    raise self.error("unterminated string")
                return parts
            char = text[self.pos]
            if quoted and char == '"':
                self.pos += 1
                return parts
            if quoted and char == "\n":
                raise self.error(
                    "unterminated string: newline before the closing quote"
                )
            if quoted and char == "\\":
                parts.append(self.escape())
            elif text.startswith(("$${", "%%{"), self.pos):
                parts.append(text[self.pos + 1 : self.pos + 3])
                self.pos += 3
            elif text.startswith("${", self.pos):
                parts.append(self.interpolation())
            elif text.startswith("%{", self.pos):
                parts.append(self.directive())
            else:
                parts.append(char)
                self.pos += 1

    def escape(self) -> str:
        char = self.text[self.pos + 1 : self.pos + 2]
        if char in _ESCAPES:
            self.pos += 2
            return _ESCAPES[char]
        width = {"u": 4, "U": 8}.get(char)
        digits = self.text[self.pos + 2 : self.pos + 2 + (width or 0)]
        if width and re.fullmatch(r"[0-9a-fA-F]+", digits) and len(digits) == width:
            self.pos += 2 + width
            try:
                return chr(int(digits, 16))
            except (ValueError, OverflowError) as error:
                raise self.error(f"invalid unicode escape \\{char}{digits}") from error
        raise self.error(f"invalid escape sequence \\{char}")

    def strip_marker(self) -> bool:
        if self.text.startswith("~", self.pos):
            self.pos += 1
            return True
        return False

    def interpolation(self) -> tuple[str, Any, bool, bool]:
        self.pos += 2
        left = self.strip_marker()
        self.nl += 1
        expr = self.expression()
        self.skip()
        self.nl -= 1
        right = self.strip_marker()
        self.expect("}", "'}' closing the interpolation")
        return ("${", expr, left, right)

    def directive(self) -> tuple[Any, ...]:
        line = self.line()
        self.pos += 2
        left = self.strip_marker()
        self.nl += 1
        keyword = self.ident("a template directive")
        if keyword == "if":
            payload: tuple[Any, ...] = ("if", self.expression())
        elif keyword == "for":
            first = self.ident("a variable name")
            names: tuple[str | None, str] = (None, first)
            if self.accept(","):
                names = (first, self.ident("a variable name"))
            if self.ident("'in'") != "in":
                raise self.error("expected 'in' in the %{for} directive")
            payload = ("for", names, self.expression())
        elif keyword in ("else", "endif", "endfor"):
            payload = (keyword,)
        else:
            raise self.error(f"unknown template directive %{{{keyword}}}")
        self.skip()
        self.nl -= 1
        right = self.strip_marker()
        self.expect("}", "'}' closing the directive")
        return ("%{", payload, left, right, line)


def _dedent(content: str) -> str:
    lines = content.split("\n")
    indents = [len(x) - len(x.lstrip(" \t")) for x in lines if x.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines)


def _apply_strips(parts: list[Any]) -> list[Any]:
    """Apply ``~`` strip markers to the literal text around them."""
    result = list(parts)
    for position, part in enumerate(result):
        if not isinstance(part, tuple):
            continue
        left, right = part[2], part[3]
        if left and position > 0 and isinstance(result[position - 1], str):
            result[position - 1] = result[position - 1].rstrip()
        if (
            right
            and position + 1 < len(result)
            and isinstance(result[position + 1], str)
        ):
            result[position + 1] = result[position + 1].lstrip()
    return result


def _build_template(parts: list[Any], line: int, parser: _Parser) -> Any:
    """Turn scanned parts into a Literal or a Template with nested directives."""
    stack: list[tuple[Any, list[Any], list[Any] | None]] = [(None, [], None)]
    for part in _apply_strips(parts):
        if isinstance(part, str):
            _append_text(stack[-1][1], part)
        elif part[0] == "${":
            stack[-1][1].append(part[1])
        else:
            _directive(stack, part[1], part[4], parser)
    if len(stack) > 1:
        raise parser.error(
            f"template directive opened on line {stack[-1][0][-1]} is never closed"
        )
    items = stack[0][1]
    if all(isinstance(item, str) for item in items):
        return Literal("".join(items), line)
    return Template(tuple(items), line)


def _append_text(items: list[Any], text: str) -> None:
    if items and isinstance(items[-1], str):
        items[-1] += text
    elif text:
        items.append(text)


def _directive(
    stack: list[tuple[Any, list[Any], list[Any] | None]],
    payload: tuple[Any, ...],
    line: int,
    parser: _Parser,
) -> None:
    keyword = payload[0]
    if keyword in ("if", "for"):
        stack.append(((*payload, line), [], None))
        return
    opener = stack[-1][0]
    if keyword == "else":
        if opener is None or opener[0] != "if" or stack[-1][2] is not None:
            raise parser.error("%{else} without a matching %{if}")
        stack[-1] = (opener, [], stack[-1][1])
        return
    expected = "if" if keyword == "endif" else "for"
    if opener is None or opener[0] != expected:
        raise parser.error(f"%{{{keyword}}} without a matching %{{{expected}}}")
    _, items, before_else = stack.pop()
    stack[-1][1].append(_close_directive(opener, items, before_else, line))


def _close_directive(
    opener: tuple[Any, ...], items: list[Any], before_else: list[Any] | None, line: int
) -> Any:
    if opener[0] == "if":
        then_items = before_else if before_else is not None else items
        else_items = items if before_else is not None else []
        return TemplateIf(
            opener[1],
            Template(tuple(then_items), opener[-1]),
            Template(tuple(else_items), opener[-1]),
            opener[-1],
        )
    key_var, value_var = opener[1]
    return TemplateFor(
        key_var, value_var, opener[2], Template(tuple(items), opener[-1]), opener[-1]
    )


# --- Entry points -----------------------------------------------------------


def decode(data: bytes, path: str) -> str:
    """Decode a file's bytes as UTF-8; raises LoadError naming the bad line."""
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise LoadError(path, line, "binary content (NUL byte) in an HCL file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise LoadError(path, line, f"not valid UTF-8: {error.reason}") from error


def parse(text: str, path: str) -> HclFile:
    """Parse HCL source text; raises LoadError with ``path:line`` on bad syntax."""
    if text.startswith("\ufeff"):
        text = text[1:]
    parser = _Parser(text, path)
    try:
        body = parser.body(None)
    except RecursionError as error:
        raise parser.error("nesting too deep to parse") from error
    return HclFile(path, body, text)


def parse_bytes(data: bytes, path: str) -> HclFile:
    """Decode and parse one file's bytes; raises LoadError (also above MAX_BYTES)."""
    if len(data) > MAX_BYTES:
        raise LoadError(
            path,
            None,
            f"file is {len(data)} bytes, above the {MAX_BYTES}-byte limit for an "
            "HCL input",
        )
    return parse(decode(data, path), path)
