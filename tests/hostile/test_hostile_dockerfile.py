"""Dockerfile syntax at its edges: parsed right (lines included), or a clear error.

The copy's real docker/Dockerfile is rewritten with an escape directive and
backtick continuations, comments inside continuations and a heredoc: every
DOCKER-* control must still pass, and a violation added after them must be
reported at its true line. Broken syntax must make every DOCKER-* control
error with the file and line, never pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome, Result, cases, run_case
from tenon_compliance.evidence import Evidence, Options
from tests.conftest import copy_repository

DOCKERFILE = "docker/Dockerfile"
HEREDOC = "RUN <<EOF\nset -eu\n# a comment inside the heredoc\npython3 --version\nEOF\n"


def docker_results(root: Path) -> list[Result]:
    evidence = Evidence(Options(root=root))
    return [
        run_case(case, evidence)
        for control in all_controls()
        if control.id.startswith("DOCKER-")
        for case in cases(control, evidence)
    ]


def rewritten(root: Path) -> Path:
    """The Dockerfile with escape=`, commented continuations and a heredoc."""
    path = root / DOCKERFILE
    text = path.read_text(encoding="utf-8")
    assert text.count(" \\\n") >= 4
    text = text.replace(" \\\n", " `\n")
    text = text.replace(
        "    PYTHONDONTWRITEBYTECODE=1\n\nWORKDIR /build\n",
        "    PYTHONDONTWRITEBYTECODE=1\n\nWORKDIR /build\n" + HEREDOC,
    )
    text = text.replace(
        "        --target /opt/tenon/site-packages `\n",
        "        --target /opt/tenon/site-packages `\n"
        "        # the requirements are hash-pinned\n\n",
    )
    path.write_text("# escape=`\n" + text, encoding="utf-8")
    return path


def test_escape_directive_continuations_and_heredoc_parse_and_pass(
    repo_copy: Path,
) -> None:
    rewritten(repo_copy)

    results = docker_results(repo_copy)

    assert results
    assert {r.outcome for r in results} == {Outcome.PASSED}, [
        (r.case.id, r.reason, [f.line() for f in r.findings]) for r in results
    ]


def test_a_violation_after_them_is_reported_at_its_true_line(repo_copy: Path) -> None:
    path = rewritten(repo_copy)
    text = path.read_text(encoding="utf-8").replace("USER 65532:65532\n", "USER 0\n")
    path.write_text(text, encoding="utf-8")
    line = text.splitlines().index("USER 0") + 1

    findings = [
        finding.line()
        for result in docker_results(repo_copy)
        for finding in result.findings
    ]

    assert len(findings) == 1
    assert findings[0].startswith(f"{DOCKERFILE}:{line}: [DOCKER-USER-NONROOT")


BROKEN = [
    pytest.param(
        "WORKDIR /build\n",
        "WORKDIR /build\nRUN <<EOF\necho never closed\n",
        "heredoc <<EOF is never terminated",
        id="unterminated-heredoc",
    ),
    pytest.param(
        'ENTRYPOINT ["python3", "-m", "tenon_probe"]\n',
        'ENTRYPOINT ["python3", "-m", "tenon_probe"]\nRUN echo \\\n',
        "file ends inside a line continuation",
        id="continuation-at-end-of-file",
    ),
    pytest.param(
        'ENTRYPOINT ["python3", "-m", "tenon_probe"]\n',
        'ENTRYPOINT ["python3", "-m",\n',
        "malformed JSON (exec) form",
        id="broken-exec-form",
    ),
    pytest.param(
        "WORKDIR /build\n",
        "WORKDIR /build\nCOPPY . .\n",
        "unknown instruction 'COPPY'",
        id="unknown-instruction",
    ),
]


@pytest.mark.parametrize(("old", "new", "reason"), BROKEN)
def test_broken_syntax_errors_every_dockerfile_control_at_its_line(
    tmp_path: Path, old: str, new: str, reason: str
) -> None:
    root = copy_repository(tmp_path / "repo")
    path = root / DOCKERFILE
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    line = text[: text.index(old)].count("\n") + 1 + old.count("\n")
    if new.startswith('ENTRYPOINT ["python3", "-m",\n'):
        line -= 1  # the broken instruction is the ENTRYPOINT itself

    results = docker_results(root)

    uses_dockerfile = [r for r in results if r.case.control.id != "DOCKER-IGNORE"]
    assert uses_dockerfile
    assert {r.outcome for r in uses_dockerfile} == {Outcome.ERROR}
    assert all(
        r.reason.startswith(f"{DOCKERFILE}:{line}: {reason}") for r in uses_dockerfile
    ), {r.reason for r in uses_dockerfile}


@pytest.mark.parametrize(
    ("directives", "line", "reason"),
    [
        pytest.param(
            "# escape=x\n", 1, "escape directive must be '\\' or '`'", id="bad-escape"
        ),
        pytest.param(
            "# escape=`\n# escape=\\\n",
            2,
            "parser directive 'escape' repeated",
            id="repeated-directive",
        ),
    ],
)
def test_bad_parser_directives_are_refused(
    repo_copy: Path, directives: str, line: int, reason: str
) -> None:
    path = repo_copy / DOCKERFILE
    path.write_text(directives + path.read_text(encoding="utf-8"), encoding="utf-8")

    results = docker_results(repo_copy)

    errors = {r.reason for r in results if r.outcome is Outcome.ERROR}
    assert errors == {f"{DOCKERFILE}:{line}: {reason}"}
    assert Outcome.PASSED not in {
        r.outcome for r in results if r.case.control.id != "DOCKER-IGNORE"
    }
