"""The engine fails closed: empty selections, missing evidence and load errors."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from tenon_compliance.controls.base import Control
from tenon_compliance.engine import Outcome, cases, run_case
from tenon_compliance.errors import EvidenceMissingError, LoadError
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.model import Location, Method, Severity, Subject, Violation


def make_control(select: object, check: object) -> Control:
    return Control(
        id="TEST-CONTROL",
        title="a control made for this test",
        clauses=("ORC-2",),
        severity=Severity.HIGH,
        method=Method.STATIC,
        rationale="why",
        remedy="do the right thing",
        select=select,  # type: ignore[arg-type]
        check=check,  # type: ignore[arg-type]
    )


def nothing(_subject: Subject, _evidence: Evidence) -> Iterator[Violation]:
    yield from ()


def evidence(tmp_path: Path) -> Evidence:
    return Evidence(Options(root=tmp_path))


def test_a_control_that_selects_no_subject_fails(tmp_path: Path) -> None:
    control = make_control(lambda _e: [], nothing)
    (case,) = cases(control, evidence(tmp_path))
    result = run_case(case, evidence(tmp_path))
    assert result.outcome is Outcome.FAILED
    assert result.reason == "TEST-CONTROL selected no subject: nothing was checked"


def test_missing_evidence_is_not_evaluated_with_its_reason(tmp_path: Path) -> None:
    def select(_e: Evidence) -> Iterable[Subject]:
        raise EvidenceMissingError("no image evidence: pass --image")

    (case,) = cases(make_control(select, nothing), evidence(tmp_path))
    assert case.problem is Outcome.NOT_EVALUATED
    assert case.reason == "no image evidence: pass --image"


def test_an_input_that_cannot_be_parsed_is_an_error_naming_file_and_line(
    tmp_path: Path,
) -> None:
    def select(_e: Evidence) -> Iterable[Subject]:
        raise LoadError("k8s/base/deployment.yaml", 7, "mapping values not allowed")

    (case,) = cases(make_control(select, nothing), evidence(tmp_path))
    result = run_case(case, evidence(tmp_path))
    assert result.outcome is Outcome.ERROR
    assert result.reason == "k8s/base/deployment.yaml:7: mapping values not allowed"


def test_violations_become_findings_with_control_clause_and_remedy(
    tmp_path: Path,
) -> None:
    subject = Subject("prod:Deployment/runtime-api", Location("k8s/base/d.yaml", 3))

    def check(_s: Subject, _e: Evidence) -> Iterator[Violation]:
        yield Violation(
            Location("k8s/overlays/prod/k.yaml", 14),
            "one replica",
            expected="3 or more",
            actual="1",
        )

    (case,) = cases(make_control(lambda _e: [subject], check), evidence(tmp_path))
    result = run_case(case, evidence(tmp_path))
    assert result.outcome is Outcome.FAILED
    assert [finding.line() for finding in result.findings] == [
        "k8s/overlays/prod/k.yaml:14: [TEST-CONTROL ORC-2] "
        "prod:Deployment/runtime-api: one replica (expected: 3 or more; found: 1) "
        "fix: do the right thing"
    ]


def test_a_loader_error_is_remembered_not_reparsed(tmp_path: Path) -> None:
    calls = []

    def loader(_e: Evidence) -> object:
        calls.append(1)
        raise LoadError("infra/terraform/envs/prod/main.tf", 3, "unexpected '}'")

    shared = evidence(tmp_path)
    for _ in range(3):
        with pytest.raises(LoadError, match=r"^infra/terraform/envs/prod/main.tf:3: "):
            shared.load("terraform", loader)
    assert calls == [1]
