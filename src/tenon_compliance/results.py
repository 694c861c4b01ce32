"""A whole run's results as plain data: what the pytest items report.

``evaluate`` applies every control to every subject it selects and keeps each
result as a ``CaseResult``: strings and numbers only, so that a result can be
stored by the result cache, carried by pytest-xdist and written to the JUnit
without the evidence it came from. Waivers and ``--strict`` are applied when a
result is reported (``settle``), never stored: a waiver expires with the date,
not with the inputs.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Case, Outcome, Result, cases, run_case
from tenon_compliance.evidence import Evidence
from tenon_compliance.waivers import Waiver


@dataclass(frozen=True)
class CaseResult:
    """One control on one subject (or on no subject), before waivers.

    ``findings`` are the findings' report lines; ``reason`` says why there are
    none when the outcome is not *passed* or *failed*.
    """

    name: str
    control: str
    title: str
    clauses: str
    severity: str
    method: str
    subject: str
    file: str
    line: int | None
    outcome: str
    reason: str = ""
    findings: tuple[str, ...] = ()
    headline: str = ""

    @classmethod
    def of(cls, result: Result) -> CaseResult:
        control, subject = result.case.control, result.case.subject
        location = subject.location if subject else None
        return cls(
            name=result.case.id,
            control=control.id,
            title=control.title,
            clauses=" ".join(control.clauses),
            severity=control.severity.value,
            method=control.method.value,
            subject=subject.id if subject else "",
            file=location.file if location else "",
            line=location.line if location and location.line else None,
            outcome=result.outcome.value,
            reason=result.reason,
            findings=tuple(finding.line() for finding in result.findings),
            headline=_headline(result),
        )

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> CaseResult:
        """Raises TypeError or ValueError when data is not a stored CaseResult."""
        result = cls(**{**data, "findings": tuple(data["findings"])})
        Outcome(result.outcome)
        return result

    def plain(self) -> dict[str, Any]:
        return {**asdict(self), "findings": list(self.findings)}


@dataclass(frozen=True)
class SubjectResults:
    """What one pytest item reports: every control that selected one subject.

    A control that could not select anything has an item of its own, named
    after the control.
    """

    name: str
    file: str
    line: int | None
    cases: tuple[CaseResult, ...]

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> SubjectResults:
        """Raises TypeError, ValueError or KeyError for anything else."""
        return cls(
            name=str(data["name"]),
            file=str(data["file"]),
            line=data["line"] if isinstance(data["line"], int) else None,
            cases=tuple(CaseResult.from_plain(case) for case in data["cases"]),
        )

    def plain(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "line": self.line,
            "cases": [case.plain() for case in self.cases],
        }


@dataclass
class Evaluation:
    """Every subject's results, and whether the run may be stored for replay.

    ``internal_errors`` counts the cases whose control raised something other
    than a compliance error (a bug of the suite): such a run is reported, never
    replayed.
    """

    subjects: list[SubjectResults] = field(default_factory=list)
    internal_errors: int = 0


def evaluate(evidence: Evidence) -> Evaluation:
    """Apply every registered control to every subject it selects."""
    by_subject: dict[str, list[Case]] = {}
    for control in all_controls():
        for case in cases(control, evidence):
            key = case.subject.id if case.subject else control.id
            by_subject.setdefault(key, []).append(case)

    evaluation = Evaluation()
    for key, grouped in by_subject.items():
        results = [run_guarded(case, evidence) for case in grouped]
        evaluation.internal_errors += sum(
            1 for result in results if result.reason.startswith(INTERNAL_ERROR)
        )
        first = grouped[0].subject
        evaluation.subjects.append(
            SubjectResults(
                name=f"[{key}]",
                file=first.location.file if first else "",
                line=first.location.line if first else None,
                cases=tuple(CaseResult.of(result) for result in results),
            )
        )
    return evaluation


INTERNAL_ERROR = "internal error of the suite"


def run_guarded(case: Case, evidence: Evidence) -> Result:
    """run_case, with a bug of the suite kept as an error result of its case.

    One crashing control must not hide the outcomes of the others.
    """
    try:
        return run_case(case, evidence)
    except Exception as error:  # noqa: BLE001 - one broken control must not hide the others
        trace = "".join(traceback.format_exception(error)).rstrip()
        return Result(case, Outcome.ERROR, reason=f"{INTERNAL_ERROR}: {trace}")


# --- reporting one case ------------------------------------------------------


@dataclass(frozen=True)
class Settled:
    """A case as reported: its outcome after waivers and --strict, and its text."""

    case: CaseResult
    outcome: Outcome
    message: str
    text: str


def settle(
    case: CaseResult, waivers: Iterable[Waiver] | None, *, strict: bool
) -> Settled:
    """Apply the waivers (None: the waivers file is broken) and --strict.

    A broken waivers file waives nothing; its own test fails the run.
    """
    outcome = Outcome(case.outcome)
    if outcome is Outcome.FAILED and case.subject and waivers is not None:
        matching = [w for w in waivers if w.matches(case.control, case.subject)]
        if matching:
            note = matching[0].describe()
            text = "\n".join(f"WAIVED {line}" for line in case.findings)
            return Settled(case, Outcome.WAIVED, f"WAIVED {case.control}: {note}", text)

    if outcome is Outcome.NOT_EVALUATED and strict:
        reason = f"{case.reason} (--strict)"
        outcome = Outcome.FAILED
        case = replace(case, outcome=outcome.value, reason=reason, headline=reason)
    if outcome is Outcome.PASSED:
        return Settled(case, outcome, "", "")
    if outcome is Outcome.NOT_EVALUATED:
        message = f"NOT EVALUATED {case.control}: {case.reason}"
        return Settled(case, outcome, message, _text(case))
    return Settled(case, outcome, case.headline, _text(case))


def _text(case: CaseResult) -> str:
    if case.findings:
        return "\n".join(case.findings)
    return f"[{case.control} {','.join(case.clauses.split())}] {case.reason}"


def _headline(result: Result) -> str:
    if result.findings:
        first = result.findings[0]
        more = len(result.findings) - 1
        return f"{first.location}: {first.message}" + (
            f" (+{more} more)" if more else ""
        )
    return result.reason
