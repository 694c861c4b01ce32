"""Applies controls to subjects and turns violations into findings.

The pytest suite, the CLI and the reports all go through ``run_control`` so
that they agree on every result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tenon_compliance.controls.base import Control
from tenon_compliance.errors import (
    ComplianceError,
    EvidenceMissingError,
)
from tenon_compliance.evidence import Evidence
from tenon_compliance.model import Finding, Subject


class Outcome(StrEnum):
    """What happened to one control on one subject."""

    PASSED = "passed"
    FAILED = "failed"
    WAIVED = "waived"
    NOT_EVALUATED = "not-evaluated"
    ERROR = "error"


@dataclass(frozen=True)
class Case:
    """One control paired with one subject (or with the reason there is none)."""

    control: Control
    subject: Subject | None
    problem: Outcome | None = None
    reason: str = ""

    @property
    def id(self) -> str:
        if self.subject is None:
            return f"{self.control.id}[{self.problem.value if self.problem else ''}]"
        return f"{self.control.id}[{self.subject.id}]"


@dataclass
class Result:
    """The outcome of one case, with its findings (waived ones kept apart)."""

    case: Case
    outcome: Outcome
    findings: list[Finding] = field(default_factory=list)
    waived: list[tuple[Finding, str]] = field(default_factory=list)
    reason: str = ""


def cases(control: Control, evidence: Evidence) -> list[Case]:
    """Select the control's subjects; a selection problem becomes a single case.

    An empty selection is a failing case: a control with nothing to check
    proves nothing.
    """
    try:
        subjects = list(control.select(evidence))
    except EvidenceMissingError as missing:
        return [Case(control, None, Outcome.NOT_EVALUATED, str(missing))]
    except ComplianceError as error:
        return [Case(control, None, Outcome.ERROR, str(error))]
    if not subjects:
        reason = f"{control.id} selected no subject: nothing was checked"
        return [Case(control, None, Outcome.FAILED, reason)]
    return [Case(control, subject) for subject in subjects]


def run_case(case: Case, evidence: Evidence) -> Result:
    """Run one case and return its result (waivers are applied by the caller)."""
    if case.subject is None:
        return Result(case, case.problem or Outcome.ERROR, reason=case.reason)

    control, subject = case.control, case.subject
    try:
        violations = list(control.check(subject, evidence))
    except EvidenceMissingError as missing:
        return Result(case, Outcome.NOT_EVALUATED, reason=str(missing))
    except ComplianceError as error:
        return Result(case, Outcome.ERROR, reason=str(error))

    findings = [
        Finding(
            control=control.id,
            clauses=control.clauses,
            subject=subject.id,
            location=violation.location,
            message=violation.message,
            expected=violation.expected,
            actual=violation.actual,
            remedy=control.remedy,
        )
        for violation in violations
    ]
    return Result(case, Outcome.FAILED if findings else Outcome.PASSED, findings)
