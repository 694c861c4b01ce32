"""Shared test helpers: a copy of the real repository and a way to run one control."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tenon_compliance.controls.base import Control, all_controls
from tenon_compliance.engine import Outcome, Result, cases, run_case
from tenon_compliance.evidence import Evidence, Options

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def repository_files(root: Path = REPO) -> list[str]:
    """The files of the working tree that git tracks or would track."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=root,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (root / name).exists()]


def copy_repository(destination: Path) -> Path:
    """Copy the repository's deployment files (not reports) into destination."""
    for name in repository_files():
        if name.startswith("reports/"):
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    return destination


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A throw-away copy of the real repository, to mutate in a test."""
    return copy_repository(tmp_path / "repo")


def control_by_id(control_id: str) -> Control:
    for candidate in all_controls():
        if candidate.id == control_id:
            return candidate
    raise KeyError(control_id)


def run_control(control_id: str, root: Path, **options: object) -> list[Result]:
    """Run one control over the repository at root and return one result per case."""
    evidence = Evidence(Options(root=root, **options))  # type: ignore[arg-type]
    control = control_by_id(control_id)
    return [run_case(case, evidence) for case in cases(control, evidence)]


def failures(results: list[Result]) -> list[str]:
    """Every finding line and every failure reason of the results."""
    lines: list[str] = []
    for result in results:
        if result.outcome is Outcome.PASSED:
            continue
        lines.extend(finding.line() for finding in result.findings)
        if result.reason:
            lines.append(f"{result.outcome.value}: {result.reason}")
    return lines


def shared_data(relative: str) -> Path:
    """A file of the shared Sigstore test data; skips the test where it is absent."""
    path = SHARED / "sigstore-data" / relative
    if not path.exists():
        pytest.skip(f"shared test data {path} is absent on this machine")
    return path
