"""Dockerfiles and .dockerignore, parsed with exact line numbers.

The parser follows the BuildKit frontend (dockerfile:1) closely enough for
the controls: parser directives, line continuations with the escape
character, comments and blank lines inside continuations, heredocs, flags,
exec (JSON) and shell forms, ``ARG`` before ``FROM`` and variable substitution
in ``FROM``. Anything it cannot read is a ``LoadError`` naming ``file:line``:
it never guesses.

Known limits: arguments are split with POSIX quoting even when the escape
character is a backtick (Windows-style Dockerfiles are not a target);
``ONBUILD`` triggers are kept as text and not parsed further; substitution in
instructions other than ``FROM`` is not performed (the controls read the
literal text); a ``RUN`` whose text starts with ``[`` but not ``["`` is read
as shell form (``RUN [ -f x ]`` is a test command, not JSON).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence

KEYWORDS = frozenset(
    {
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "FROM",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    }
)
DIRECTIVES = frozenset({"syntax", "escape", "check"})
# Instructions whose argument may be written as a JSON array (exec form).
_JSON_FORMS = frozenset({"CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
_HEREDOC_FORMS = frozenset({"RUN", "COPY", "ADD"})
_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_DIRECTIVE = re.compile(r"^#\s*([A-Za-z]+)\s*=\s*(.*?)\s*$")
_VARIABLE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-+])(?P<word>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
MAX_BYTES = 1_000_000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageReference:
    """A base image as written in ``FROM``, after ARG substitution.

    ``unresolved`` names the variables that had no value; the reference is
    then not usable and the pinning control reports it.
    """

    raw: str
    text: str
    name: str
    tag: str | None
    digest: str | None
    substituted: bool = False
    unresolved: tuple[str, ...] = ()

    @property
    def pinned(self) -> bool:
        """True when the reference carries a well-formed sha256 digest."""
        return self.digest is not None and bool(_DIGEST.match(self.digest))


@dataclass(frozen=True)
class Heredoc:
    """The body of one ``<<WORD`` heredoc, with the line its body starts on."""

    word: str
    body: str
    line: int


@dataclass(frozen=True)
class Instruction:
    """One instruction: keyword, flags, arguments, and the line it starts on.

    ``exec_form`` holds the argv of a JSON-form instruction, else None;
    ``pairs`` holds the key/value pairs of ARG, ENV and LABEL (the value of an
    ARG without default is None).
    """

    keyword: str
    line: int
    end_line: int
    arguments: str
    flags: tuple[tuple[str, str], ...] = ()
    exec_form: tuple[str, ...] | None = None
    pairs: tuple[tuple[str, str | None], ...] = ()
    heredocs: tuple[Heredoc, ...] = ()

    @property
    def is_exec_form(self) -> bool:
        """True when written as a JSON array."""
        return self.exec_form is not None

    def flag(self, name: str) -> str | None:
        """The value of the last ``--name=`` flag, or None."""
        values = self.flag_values(name)
        return values[-1] if values else None

    def flag_values(self, name: str) -> list[str]:
        """Every value of ``--name=`` flags, in order."""
        return [value for key, value in self.flags if key == name]

    @property
    def mounts(self) -> list[dict[str, str]]:
        """The ``--mount=`` options of a RUN, each parsed into a dict."""
        return [_parse_mount(value) for value in self.flag_values("mount")]

    @property
    def words(self) -> list[str]:
        """The arguments split like a shell would (exec form: the argv)."""
        if self.exec_form is not None:
            return list(self.exec_form)
        try:
            return shlex.split(self.arguments, comments=False)
        except ValueError:
            return self.arguments.split()


@dataclass
class Stage:
    """One ``FROM`` and the instructions that follow it."""

    index: int
    name: str | None
    base: ImageReference
    line: int
    platform: str | None
    base_stage: str | None = None
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def label(self) -> str:
        """The stage's name, or its index when it has none."""
        return self.name or str(self.index)

    def of(self, *keywords: str) -> list[Instruction]:
        """The stage's instructions with one of the given keywords."""
        return [item for item in self.instructions if item.keyword in keywords]


@dataclass
class Dockerfile:
    """A parsed Dockerfile: directives, global ARGs and stages."""

    path: str
    directives: dict[str, str]
    global_args: list[Instruction]
    stages: list[Stage]
    escape: str = "\\"

    @property
    def final(self) -> Stage:
        """The last stage: what ``docker build`` produces without ``--target``."""
        return self.stages[-1]

    def stage(self, reference: str) -> Stage | None:
        """The stage named (or numbered) ``reference``, if one exists."""
        for stage in self.stages:
            if reference in (stage.name, str(stage.index)):
                return stage
        return None


@dataclass(frozen=True)
class IgnorePattern:
    """One .dockerignore line: the pattern, whether it re-includes, its line."""

    pattern: str
    negated: bool
    line: int
    regex: re.Pattern[str]


@dataclass(frozen=True)
class DockerIgnore:
    """A parsed .dockerignore file (last matching pattern wins)."""

    path: str
    patterns: tuple[IgnorePattern, ...]

    def excludes(self, relative: str) -> bool:
        """True when ``relative`` (or a parent directory) is left out of the context."""
        parts = relative.strip("/").split("/")
        candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
        excluded = False
        for pattern in self.patterns:
            if any(pattern.regex.fullmatch(path) for path in candidates):
                excluded = not pattern.negated
        return excluded


# --- reading ---------------------------------------------------------------


def decode(data: bytes, file: str) -> str:
    """Decode a text input as UTF-8, refusing binary, oversized and invalid bytes.

    Raises LoadError naming the file and the line of the offending byte.
    """
    if len(data) > MAX_BYTES:
        raise LoadError(file, None, f"file is larger than {MAX_BYTES} bytes")
    if b"\0" in data:
        line = data[: data.index(b"\0")].count(b"\n") + 1
        raise LoadError(file, line, "binary content (NUL byte): not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise LoadError(file, line, f"not valid UTF-8: {error.reason}") from error
    return text.removeprefix("\ufeff")


def _read_directives(lines: list[str], file: str) -> tuple[dict[str, str], int]:
    """Parser directives at the top of the file and the index of the first other line.

    Raises LoadError for a repeated directive or an invalid escape character.
    """
    directives: dict[str, str] = {}
    end = len(lines)
    for index, raw in enumerate(lines):
        match = _DIRECTIVE.match(raw.strip())
        if not match or match.group(1).lower() not in DIRECTIVES:
            end = index
            break
        name = match.group(1).lower()
        if name in directives:
            raise LoadError(file, index + 1, f"parser directive {name!r} repeated")
        directives[name] = match.group(2)
    if directives.get("escape", "\\") not in ("\\", "`"):
        raise LoadError(file, 1, "escape directive must be '\\' or '`'")
    return directives, end


def _continues(line: str, escape: str) -> bool:
    """True when a line ends with the escape character (trailing blanks allowed)."""
    return line.rstrip().endswith(escape)


@dataclass
class _Logical:
    """An instruction's text once continuations are joined."""

    text: str
    line: int
    end_line: int


def _logical_lines(
    lines: list[str], start: int, escape: str, file: str
) -> list[tuple[_Logical, list[Heredoc]]]:
    """Join continuations, drop comments, read heredoc bodies.

    Raises LoadError for an unterminated heredoc or a file ending inside a
    continuation.
    """
    result: list[tuple[_Logical, list[Heredoc]]] = []
    index = start
    while index < len(lines):
        stripped = lines[index].strip()
        if not stripped or stripped.startswith("#"):
            index += 1
            continue

        # 1. join the continuation lines; comments and blank lines inside vanish
        first = index
        pieces: list[str] = []
        while True:
            current = lines[index]
            if _continues(current, escape):
                pieces.append(current.rstrip()[:-1])
                index += 1
                while index < len(lines) and (
                    not lines[index].strip() or lines[index].lstrip().startswith("#")
                ):
                    index += 1
                if index >= len(lines):
                    raise LoadError(
                        file, first + 1, "file ends inside a line continuation"
                    )
                continue
            pieces.append(current)
            index += 1
            break
        logical = _Logical("".join(pieces).strip(), first + 1, index)

        # 2. heredoc bodies follow the instruction line
        heredocs, index = _read_heredocs(logical, lines, index, file)
        result.append((logical, heredocs))
    return result


def _read_heredocs(
    logical: _Logical, lines: list[str], index: int, file: str
) -> tuple[list[Heredoc], int]:
    """Read the bodies of the heredocs an instruction opens.

    Raises LoadError when a heredoc's terminator never appears.
    """
    keyword = logical.text.split(None, 1)[0].upper()
    if keyword not in _HEREDOC_FORMS:
        return [], index
    heredocs: list[Heredoc] = []
    for match in _HEREDOC.finditer(logical.text):
        strip_tabs, word = match.group(1) == "-", match.group(3)
        body_start = index
        body: list[str] = []
        while True:
            if index >= len(lines):
                raise LoadError(
                    file, logical.line, f"heredoc <<{word} is never terminated"
                )
            current = lines[index].lstrip("\t") if strip_tabs else lines[index]
            index += 1
            if current == word:
                break
            body.append(current)
        heredocs.append(Heredoc(word, "\n".join(body) + "\n", body_start + 1))
        logical.end_line = index
    return heredocs, index


# --- instruction arguments -------------------------------------------------


def _split_flags(text: str) -> tuple[list[tuple[str, str]], str]:
    """Leading ``--name=value`` flags and the rest of the arguments."""
    flags: list[tuple[str, str]] = []
    rest = text
    while rest.startswith("--"):
        token, _, after = rest.partition(" ")
        name, _, value = token[2:].partition("=")
        flags.append((name, value.strip("\"'")))
        rest = after.lstrip()
    return flags, rest


def _parse_json_form(text: str, file: str, line: int) -> tuple[str, ...]:
    """A JSON array of strings (exec form).

    Raises LoadError when the text is not a JSON array of strings.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise LoadError(
            file, line, f"malformed JSON (exec) form: {error.msg}"
        ) from error
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LoadError(file, line, "exec form must be a JSON array of strings")
    return tuple(value)


def _wants_json(keyword: str, rest: str) -> bool:
    """True when the arguments are written (or meant) as a JSON array."""
    if keyword == "RUN":
        return rest.startswith('["')
    return keyword in _JSON_FORMS and rest.startswith("[")


def _split_words(text: str, file: str, line: int) -> list[str]:
    """Shell-like word splitting (quotes honoured).

    Raises LoadError on an unbalanced quote.
    """
    try:
        return shlex.split(text, comments=False, posix=True)
    except ValueError as error:
        raise LoadError(file, line, f"cannot split arguments: {error}") from error


def _parse_pairs(
    keyword: str, rest: str, file: str, line: int
) -> tuple[tuple[str, str | None], ...]:
    """The key/value pairs of ARG, ENV or LABEL.

    Raises LoadError for an empty instruction or a malformed pair.
    """
    words = _split_words(rest, file, line)
    if not words:
        raise LoadError(file, line, f"{keyword} needs at least one argument")
    if keyword in ("ENV", "LABEL") and "=" not in words[0]:
        # legacy form: ENV KEY value with spaces
        if len(words) < 2:
            raise LoadError(file, line, f"{keyword} {words[0]} has no value")
        return ((words[0], rest.split(None, 1)[1].strip()),)
    pairs: list[tuple[str, str | None]] = []
    for word in words:
        name, equals, value = word.partition("=")
        if not name:
            raise LoadError(file, line, f"{keyword} has an empty name in {word!r}")
        if not equals and keyword != "ARG":
            raise LoadError(file, line, f"{keyword} {name} has no value")
        pairs.append((name, value if equals else None))
    return tuple(pairs)


def _parse_mount(value: str) -> dict[str, str]:
    """``type=secret,id=x,target=/y`` as a dict (a bare word maps to "true")."""
    options: dict[str, str] = {}
    for part in value.split(","):
        key, equals, item = part.partition("=")
        options[key.strip().lower()] = item.strip() if equals else "true"
    options.setdefault("type", "bind")
    return options


def _instruction(logical: _Logical, heredocs: list[Heredoc], file: str) -> Instruction:
    """Parse one logical line into an Instruction.

    Raises LoadError for an unknown keyword or malformed arguments.
    """
    keyword, _, rest = logical.text.partition(" ")
    keyword, rest = keyword.strip().upper(), rest.strip()
    if "\t" in keyword:
        keyword, _, tail = keyword.partition("\t")
        rest = (tail + " " + rest).strip()
    if keyword not in KEYWORDS:
        raise LoadError(file, logical.line, f"unknown instruction {keyword!r}")

    flags, rest = _split_flags(rest) if keyword != "ONBUILD" else ([], rest)
    exec_form = None
    if _wants_json(keyword, rest) and not heredocs:
        exec_form = _parse_json_form(rest, file, logical.line)
    pairs: tuple[tuple[str, str | None], ...] = ()
    if keyword in ("ARG", "ENV", "LABEL"):
        pairs = _parse_pairs(keyword, rest, file, logical.line)
    return Instruction(
        keyword=keyword,
        line=logical.line,
        end_line=logical.end_line,
        arguments=rest,
        flags=tuple(flags),
        exec_form=exec_form,
        pairs=pairs,
        heredocs=tuple(heredocs),
    )


# --- FROM ------------------------------------------------------------------


def substitute(text: str, values: dict[str, str | None]) -> tuple[str, list[str]]:
    """Replace $VAR, ${VAR}, ${VAR:-word}, ${VAR:+word} from values.

    Returns the text and the names of variables that had no value.
    """
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("bare")
        value = values.get(name)
        operator, word = match.group("op"), match.group("word") or ""
        if operator in (":-", "-"):
            unset = value is None or (operator == ":-" and value == "")
            return word if unset else str(value)
        if operator in (":+", "+"):
            return word if value else ""
        if value is None:
            missing.append(name)
            return ""
        return value

    return _VARIABLE.sub(replace, text), missing


def parse_image_reference(raw: str, values: dict[str, str | None]) -> ImageReference:
    """Split ``[registry/]repository[:tag][@digest]`` after ARG substitution."""
    text, missing = substitute(raw, values)
    remainder, _, digest = text.partition("@")
    last = remainder.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        tag = last.rsplit(":", 1)[1]
        remainder = remainder[: len(remainder) - len(tag) - 1]
    return ImageReference(
        raw=raw,
        text=text,
        name=remainder,
        tag=tag or None,
        digest=digest or None,
        substituted=text != raw or bool(missing),
        unresolved=tuple(missing),
    )


def _new_stage(
    instruction: Instruction,
    index: int,
    args: dict[str, str | None],
    stages: list[Stage],
    file: str,
) -> Stage:
    """The Stage a FROM opens.

    Raises LoadError for a FROM without image or with a malformed ``AS``.
    """
    words = _split_words(instruction.arguments, file, instruction.line)
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise LoadError(file, instruction.line, "FROM expects 'image [AS name]'")
    name = words[2].lower() if len(words) == 3 else None
    base = parse_image_reference(words[0], args)
    known = {stage.name for stage in stages if stage.name}
    base_stage = base.text.lower() if base.text.lower() in known else None
    return Stage(
        index=index,
        name=name,
        base=base,
        line=instruction.line,
        platform=instruction.flag("platform"),
        base_stage=base_stage,
    )


def global_values(global_args: list[Instruction]) -> dict[str, str | None]:
    """The values of the ARGs before the first FROM, each default expanded in turn."""
    values: dict[str, str | None] = {}
    for arg in global_args:
        for name, default in arg.pairs:
            values[name] = None if default is None else substitute(default, values)[0]
    return values


def parse(data: bytes, file: str) -> Dockerfile:
    """Parse Dockerfile bytes; ``file`` is the path used in messages.

    Raises LoadError (file:line) for anything that is not a valid Dockerfile.
    """
    text = decode(data, file)
    lines = text.splitlines()
    directives, start = _read_directives(lines, file)
    escape = directives.get("escape", "\\")

    global_args: list[Instruction] = []
    stages: list[Stage] = []
    for logical, heredocs in _logical_lines(lines, start, escape, file):
        instruction = _instruction(logical, heredocs, file)
        if instruction.keyword == "FROM":
            values = global_values(global_args)
            stages.append(_new_stage(instruction, len(stages), values, stages, file))
        elif stages:
            stages[-1].instructions.append(instruction)
        elif instruction.keyword == "ARG":
            global_args.append(instruction)
        else:
            raise LoadError(
                file,
                instruction.line,
                f"{instruction.keyword} before the first FROM (only ARG may come "
                "before FROM)",
            )
    if not stages:
        raise LoadError(file, None, "no FROM instruction: not a Dockerfile")
    return Dockerfile(file, directives, global_args, stages, escape)


# --- .dockerignore ---------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a .dockerignore pattern (Go filepath.Match plus ``**``)."""
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if pattern.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", index)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append(
                    pattern[index : end + 1].replace("[^", "[!").replace("[!", "[^")
                )
                index = end
        elif char == "\\" and index + 1 < len(pattern):
            index += 1
            out.append(re.escape(pattern[index]))
        else:
            out.append(re.escape(char))
        index += 1
    return re.compile("".join(out))


def parse_dockerignore(data: bytes, file: str) -> DockerIgnore:
    """Parse .dockerignore bytes into patterns.

    Raises LoadError for binary or non-UTF-8 content or a malformed pattern.
    """
    patterns: list[IgnorePattern] = []
    for number, raw in enumerate(decode(data, file).splitlines(), start=1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        negated = text.startswith("!")
        cleaned = text[1:].strip() if negated else text
        cleaned = "/".join(part for part in cleaned.split("/") if part not in ("", "."))
        try:
            regex = _pattern_regex(cleaned)
        except re.error as error:
            raise LoadError(file, number, f"malformed pattern {text!r}") from error
        patterns.append(IgnorePattern(cleaned, negated, number, regex))
    return DockerIgnore(file, tuple(patterns))


# --- evidence --------------------------------------------------------------

# Not part of the deployment: test fixtures, tool caches, reports, Git data.
_SKIPPED_DIRS = frozenset({"tests", "node_modules", "reports"})


def _is_dockerfile(relative: str, name: str) -> bool:
    if name.endswith(".dockerignore"):
        return False
    in_docker = relative.startswith("docker/") and "Dockerfile" in name
    return in_docker or name == "Dockerfile" or name.endswith(".Dockerfile")


def dockerfile_paths(root: Path) -> list[str]:
    """Every Dockerfile of the repository (docker/**, plus Dockerfile/*.Dockerfile).

    Hidden directories (.git, caches) and tests/ are not walked; symbolic
    links to directories are not followed.
    """
    found: list[str] = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = [
            name
            for name in subdirectories
            if not name.startswith(".") and name not in _SKIPPED_DIRS
        ]
        base = Path(directory).relative_to(root).as_posix()
        for name in files:
            relative = name if base == "." else f"{base}/{name}"
            if _is_dockerfile(relative, name):
                found.append(relative)
    return sorted(found)


def load(evidence: Evidence) -> list[Dockerfile]:
    """Every Dockerfile of the repository, parsed (memoize with evidence.load).

    Raises LoadError for the first file that cannot be parsed.
    """
    paths = dockerfile_paths(evidence.root)
    log.debug("Dockerfiles found: %s", paths)
    return [parse(evidence.read_bytes(relative), relative) for relative in paths]


def load_dockerignore(evidence: Evidence) -> DockerIgnore | None:
    """The build context's .dockerignore (context = repository root), or None.

    Raises LoadError when it exists but cannot be parsed.
    """
    if not (evidence.root / ".dockerignore").is_file():
        return None
    return parse_dockerignore(evidence.read_bytes(".dockerignore"), ".dockerignore")
