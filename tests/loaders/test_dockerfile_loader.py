"""The Dockerfile and .dockerignore parser: every syntax feature, every refusal."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.loaders.dockerfile import (
    dockerfile_paths,
    load,
    parse,
    parse_dockerignore,
    parse_image_reference,
)
from tests.conftest import REPO

DIGEST = "sha256:" + "a" * 64
FILE = "docker/Dockerfile"


def dockerfile(text: str) -> bytes:
    return textwrap.dedent(text).lstrip("\n").encode()


def test_real_dockerfile_has_a_build_and_a_runtime_stage() -> None:
    parsed = load(Evidence(Options(root=REPO)))
    main = next(item for item in parsed if item.path == FILE)
    assert [stage.name for stage in main.stages] == ["build", "runtime"]
    assert main.final.base.name == "gcr.io/distroless/python3-debian13"
    assert main.final.base.pinned


def test_parser_directives_are_read_and_escape_changes_continuations() -> None:
    parsed = parse(
        dockerfile(
            """
            # syntax=docker/dockerfile:1.7
            # escape=`
            FROM scratch
            RUN echo one `
                two
            COPY a b
            """
        ),
        FILE,
    )
    assert parsed.directives == {"syntax": "docker/dockerfile:1.7", "escape": "`"}
    run, copy = parsed.final.instructions
    assert (run.keyword, run.line, run.end_line) == ("RUN", 4, 5)
    assert run.arguments == "echo one     two"
    assert copy.line == 6


def test_a_directive_after_a_comment_is_only_a_comment() -> None:
    parsed = parse(b"# hello\n# escape=`\nFROM scratch\n", FILE)
    assert parsed.directives == {}


def test_continuations_skip_comments_and_blank_lines_and_keep_the_first_line() -> None:
    parsed = parse(
        dockerfile(
            """
            FROM scratch

            RUN --mount=type=cache,target=/root/.cache \\
                # a comment inside the continuation

                pip install \\
                  -r requirements.txt
            USER 65532
            """
        ),
        FILE,
    )
    run, user = parsed.final.instructions
    assert (run.line, run.end_line) == (3, 7)
    assert "# a comment" not in run.arguments
    assert run.mounts == [{"type": "cache", "target": "/root/.cache"}]
    assert user.line == 8


def test_heredocs_keep_their_body_and_the_lines_after_them() -> None:
    parsed = parse(
        dockerfile(
            """
            FROM scratch
            RUN <<EOF
            set -e
            echo done
            EOF
            COPY --chown=65532:65532 <<-"CONF" /etc/app.conf
            \tkey = value
            \tCONF
            USER 65532
            """
        ),
        FILE,
    )
    run, copy, user = parsed.final.instructions
    assert run.heredocs[0].body == "set -e\necho done\n"
    assert run.heredocs[0].line == 3
    assert copy.heredocs[0].word == "CONF"
    assert copy.flag("chown") == "65532:65532"
    assert user.line == 9


def test_exec_and_shell_forms_are_told_apart() -> None:
    parsed = parse(
        dockerfile(
            """
            FROM scratch
            ENTRYPOINT ["python3", "-m", "tenon_probe"]
            CMD python3 -m tenon_probe
            RUN [ -f /etc/passwd ] && echo yes
            """
        ),
        FILE,
    )
    entrypoint, cmd, run = parsed.final.instructions
    assert entrypoint.exec_form == ("python3", "-m", "tenon_probe")
    assert cmd.exec_form is None
    assert cmd.words == ["python3", "-m", "tenon_probe"]
    assert run.exec_form is None


def test_flags_from_platform_and_chown_are_parsed() -> None:
    parsed = parse(
        dockerfile(
            f"""
            FROM --platform=linux/amd64 python:3.13@{DIGEST} AS build
            FROM scratch
            COPY --from=build --chown=1:1 /opt /opt
            """
        ),
        FILE,
    )
    build, final = parsed.stages
    assert build.platform == "linux/amd64"
    assert final.instructions[0].flag("from") == "build"
    assert final.instructions[0].flag("chown") == "1:1"


def test_arg_before_from_is_substituted_with_defaults_and_nested_args() -> None:
    parsed = parse(
        dockerfile(
            f"""
            ARG PY=3.13
            ARG BASE=python:${{PY}}-slim
            ARG DIGEST
            FROM ${{BASE}}@${{DIGEST:-{DIGEST}}} AS build
            FROM $UNSET_BASE
            """
        ),
        FILE,
    )
    build, other = parsed.stages
    assert build.base.name == "python"
    assert build.base.tag == "3.13-slim"
    assert build.base.digest == DIGEST
    assert build.base.pinned
    assert build.base.substituted
    assert other.base.unresolved == ("UNSET_BASE",)


def test_from_an_earlier_stage_is_recognised() -> None:
    parsed = parse(b"FROM scratch AS one\nFROM one AS two\n", FILE)
    assert parsed.stages[1].base_stage == "one"


def test_arg_env_and_label_pairs_including_quotes_and_legacy_form() -> None:
    parsed = parse(
        dockerfile(
            """
            FROM scratch
            ARG VERSION REVISION=abc
            ENV A=1 B="two words"
            ENV LEGACY value with spaces
            LABEL org.opencontainers.image.version="${VERSION}"
            """
        ),
        FILE,
    )
    arg, env, legacy, label = parsed.final.instructions
    assert arg.pairs == (("VERSION", None), ("REVISION", "abc"))
    assert env.pairs == (("A", "1"), ("B", "two words"))
    assert legacy.pairs == (("LEGACY", "value with spaces"),)
    assert label.pairs == (("org.opencontainers.image.version", "${VERSION}"),)


@pytest.mark.parametrize(
    ("text", "reference", "expected"),
    [
        ("python:3.13", "python", ("3.13", None)),
        (f"registry:5000/a/b@{DIGEST}", "registry:5000/a/b", (None, DIGEST)),
        (f"gcr.io/x/y:nonroot@{DIGEST}", "gcr.io/x/y", ("nonroot", DIGEST)),
    ],
    ids=["tag", "registry-port-digest", "tag-and-digest"],
)
def test_image_references_split_into_name_tag_and_digest(
    text: str, reference: str, expected: tuple[str | None, str | None]
) -> None:
    parsed = parse_image_reference(text, {})
    assert (parsed.name, (parsed.tag, parsed.digest)) == (reference, expected)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"FROM scratch\nRUNN echo\n",
            r"^docker/Dockerfile:2: unknown instruction 'RUNN'",
        ),
        (
            b"FROM scratch\nRUN <<EOF\necho\n",
            r"^docker/Dockerfile:2: heredoc <<EOF is never terminated",
        ),
        (
            b'FROM scratch\n\nENTRYPOINT ["python3", \n',
            r"^docker/Dockerfile:3: malformed JSON \(exec\) form",
        ),
        (b"FROM scratch\nCMD [1, 2]\n", r"^docker/Dockerfile:2: exec form must be"),
        (b"# only a comment\n", r"^docker/Dockerfile: no FROM instruction"),
        (b"FROM scratch\nRUN \xff\xfe\n", r"^docker/Dockerfile:2: not valid UTF-8"),
        (b"FROM scratch\n\x00\x01", r"^docker/Dockerfile:2: binary content"),
        (b"RUN echo\nFROM scratch\n", r"^docker/Dockerfile:1: RUN before the first"),
        (b"FROM scratch\nRUN echo \\\n", r"^docker/Dockerfile:2: file ends inside"),
        (b"FROM a b c d\n", r"^docker/Dockerfile:1: FROM expects"),
        (b"FROM scratch\nENV A='x\n", r"^docker/Dockerfile:2: cannot split"),
        (b"# escape=x\nFROM scratch\n", r"^docker/Dockerfile:1: escape directive"),
    ],
    ids=[
        "unknown-instruction",
        "unterminated-heredoc",
        "malformed-json",
        "json-not-strings",
        "no-from",
        "not-utf8",
        "binary",
        "instruction-before-from",
        "continuation-at-eof",
        "malformed-from",
        "unbalanced-quote",
        "bad-escape",
    ],
)
def test_malformed_dockerfiles_are_refused_with_file_and_line(
    data: bytes, message: str
) -> None:
    with pytest.raises(LoadError, match=message):
        parse(data, FILE)


def test_dockerfiles_are_found_outside_tests(tmp_path: Path) -> None:
    for name in ("docker/Dockerfile", "tools/x.Dockerfile", "tests/Dockerfile"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("FROM scratch\n")
    assert dockerfile_paths(tmp_path) == ["docker/Dockerfile", "tools/x.Dockerfile"]


def test_dockerignore_last_matching_pattern_wins_and_parents_exclude_children() -> None:
    ignore = parse_dockerignore(
        b"# comment\n*\n!src/tenon_probe/\n**/__pycache__\n!docker/req.txt\n",
        ".dockerignore",
    )
    assert [p.line for p in ignore.patterns] == [2, 3, 4, 5]
    assert ignore.excludes(".git/config")
    assert ignore.excludes("infra/terraform/main.tf")
    assert not ignore.excludes("src/tenon_probe/app.py")
    assert ignore.excludes("src/tenon_probe/__pycache__/app.pyc")
    assert not ignore.excludes("docker/req.txt")


def test_dockerignore_double_star_matches_at_any_depth() -> None:
    ignore = parse_dockerignore(b"**/*.tfstate\n/.env\n", ".dockerignore")
    assert ignore.excludes("terraform.tfstate")
    assert ignore.excludes("a/b/terraform.tfstate")
    assert ignore.excludes(".env")
    assert not ignore.excludes("src/.env")


def test_binary_dockerignore_is_refused() -> None:
    with pytest.raises(LoadError, match=r"^\.dockerignore:1: binary content"):
        parse_dockerignore(b"\x00", ".dockerignore")


def _refusal(data: bytes) -> str | None:
    """The LoadError message parsing data raises, or None when it parses."""
    try:
        parse(data, FILE)
    except LoadError as error:
        return str(error)
    return None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_load_error(data: bytes) -> None:
    message = _refusal(data)
    assert message is None or message.startswith(FILE)


_LINES = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "FROM scratch",
                "FROM python:3.13 AS b",
                "RUN echo \\",
                "RUN <<EOF",
                "EOF",
                "# comment",
                "",
                'CMD ["a"',
                "ENV A=1",
                "ARG X",
                "COPY --from=b /a /b",
                "# escape=`",
            ]
        ),
        st.text(max_size=30),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(_LINES)
def test_random_dockerfile_like_text_never_raises_anything_but_load_error(
    lines: list[str],
) -> None:
    message = _refusal("\n".join(lines).encode("utf-8", "surrogatepass"))
    assert message is None or message.startswith(FILE)
