"""The main job end to end: `pytest compliance/ --root COPY` in a real subprocess.

These tests run the suite as CI does, on copies of the repository, and read
what a merge request and an auditor would see: the exit code, the terminal
and reports/junit.xml.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from tests.conftest import REPO, copy_repository

SCHEMA = REPO / "src/tenon_compliance/report/junit.xsd"
NON_ROOT_USER = "USER 65532:65532"


def run_suite(
    root: Path, report: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "compliance/",
            "-q",
            "-rs",
            "--root",
            str(root),
            "--junit-report",
            str(report),
            *extra,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def junit_cases(report: Path) -> dict[str, ET.Element]:
    tree = ET.parse(report)
    return {case.get("name", ""): case for case in tree.iter("testcase")}


def properties(element: ET.Element) -> dict[str, str]:
    return {
        prop.get("name", ""): prop.get("value", "")
        for prop in element.findall("properties/property")
    }


def make_runtime_root(repo: Path) -> Path:
    dockerfile = repo / "docker" / "Dockerfile"
    text = dockerfile.read_text(encoding="utf-8")
    assert NON_ROOT_USER in text
    dockerfile.write_text(text.replace(NON_ROOT_USER, "USER 0"), encoding="utf-8")
    return dockerfile


def user_line(dockerfile: Path) -> int:
    lines = dockerfile.read_text(encoding="utf-8").splitlines()
    return lines.index("USER 0") + 1


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    root = copy_repository(tmp_path_factory.mktemp("clean") / "repo")
    report = root.parent / "junit.xml"
    done = run_suite(root, report)
    return report, done.stdout + done.stderr, done.returncode


def test_the_repository_passes_its_own_main_job(
    clean_run: tuple[Path, str, int],
) -> None:
    _, output, code = clean_run
    assert code == 0, output[-5000:]


def test_report_is_schema_valid_and_carries_provenance(
    clean_run: tuple[Path, str, int],
) -> None:
    report, _, _ = clean_run
    xmlschema.XMLSchema(SCHEMA).validate(report)
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    props = properties(suite)
    assert props["catalog.version"].startswith("1+")
    assert props["tool.python"] == sys.version.split()[0]
    assert "git.commit" in props
    dockerfile_digest = props["input.sha256:docker/Dockerfile"]
    assert (
        dockerfile_digest
        == hashlib.sha256((REPO / "docker/Dockerfile").read_bytes()).hexdigest()
    )


def test_every_control_case_carries_its_audit_properties(
    clean_run: tuple[Path, str, int],
) -> None:
    report, _, _ = clean_run
    cases = junit_cases(report)
    case = cases["DOCKER-USER-NONROOT[Dockerfile:runtime]"]
    props = properties(case)
    assert props["control"] == "DOCKER-USER-NONROOT"
    assert props["clauses"] == "CON-3"
    assert props["severity"] in {"critical", "high", "medium", "low"}
    assert props["subject"] == "Dockerfile:runtime"
    assert props["file"] == "docker/Dockerfile"
    assert int(props["line"]) > 0
    assert props["outcome"] == "passed"


def test_image_controls_without_image_are_not_evaluated_and_listed(
    clean_run: tuple[Path, str, int],
) -> None:
    report, output, _ = clean_run
    skipped = [
        case
        for name, case in junit_cases(report).items()
        if name.startswith("IMG-") and case.find("skipped") is not None
    ]
    assert skipped, "image controls should be reported as not evaluated"
    assert all(properties(c)["outcome"] == "not-evaluated" for c in skipped)
    assert "controls not evaluated" in output
    assert "RFC-16 clauses not proven yet" in output


def test_a_violation_fails_the_run_with_file_line_and_clause(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    dockerfile = make_runtime_root(root)
    report = tmp_path / "junit.xml"
    done = run_suite(root, report)
    assert done.returncode == 1
    line = user_line(dockerfile)
    assert f"docker/Dockerfile:{line}: [DOCKER-USER-NONROOT CON-3]" in done.stdout
    failure = junit_cases(report)["DOCKER-USER-NONROOT[Dockerfile:runtime]"].find(
        "failure"
    )
    assert failure is not None
    assert f"docker/Dockerfile:{line}" in (failure.text or "")


def test_a_waiver_turns_the_failure_into_a_visible_waived_case(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    make_runtime_root(root)
    (root / "compliance/waivers.yaml").write_text(
        "waivers:\n"
        "  - control: DOCKER-USER-NONROOT\n"
        "    subject: Dockerfile:runtime\n"
        "    reason: root needed while the base image is replaced\n"
        "    approver: jane.doe\n"
        "    expiry: 2999-01-01\n",
        encoding="utf-8",
    )
    report = tmp_path / "junit.xml"
    done = run_suite(root, report)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "WAIVED DOCKER-USER-NONROOT: waived by jane.doe until 2999-01-01" in (
        done.stdout
    )
    case = junit_cases(report)["DOCKER-USER-NONROOT[Dockerfile:runtime]"]
    skipped = case.find("skipped")
    assert skipped is not None
    assert "root needed while the base image is replaced" in skipped.get("message", "")
    assert properties(case)["outcome"] == "waived"


def test_an_expired_waiver_fails_the_run(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    (root / "compliance/waivers.yaml").write_text(
        "waivers:\n"
        "  - control: DOCKER-USER-NONROOT\n"
        "    subject: Dockerfile:runtime\n"
        "    reason: temporary\n"
        "    approver: jane.doe\n"
        "    expiry: 2001-01-01\n",
        encoding="utf-8",
    )
    done = run_suite(root, tmp_path / "junit.xml")
    assert done.returncode == 1
    assert (
        "compliance/waivers.yaml:2: waiver for DOCKER-USER-NONROOT on " in done.stdout
    )
    assert "expired on 2001-01-01" in done.stdout


def test_strict_makes_missing_image_evidence_a_failure(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    report = tmp_path / "junit.xml"
    done = run_suite(root, report, "--strict")
    assert done.returncode == 1
    failed = [
        name
        for name, case in junit_cases(report).items()
        if name.startswith("IMG-") and case.find("failure") is not None
    ]
    assert failed
    assert "(--strict)" in done.stdout
