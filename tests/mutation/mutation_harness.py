"""Runs every registered control over a copy and compares it with the clean copy.

The engine is called in-process (``cases`` over ``all_controls``, each case
through ``results.run_guarded``) with one fresh ``Evidence`` per copy, exactly
as the pytest plugin does, so the outcome of a mutant is the outcome the main
job would report. A run is
kept as plain data (``Run``) so that one made in a subprocess, for a mutated
probe service, compares the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mutation_model import Applied, Mutant

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome, Result, cases
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.results import run_guarded

ROW_PROPERTY = "mutation.row"
FAILING = frozenset({Outcome.FAILED.value, Outcome.ERROR.value})


@dataclass(frozen=True)
class CaseOutcome:
    """One case's outcome: findings as (file, line, the finding's text)."""

    control: str
    outcome: str
    findings: tuple[tuple[str, int | None, str], ...]
    reason: str


@dataclass(frozen=True)
class Run:
    """Every case's outcome of one run, by case id (``CONTROL[subject]``)."""

    cases: dict[str, CaseOutcome]

    def outcomes(self) -> dict[str, str]:
        return {case_id: case.outcome for case_id, case in self.cases.items()}

    def of_control(self, control_id: str) -> list[CaseOutcome]:
        return [case for case in self.cases.values() if case.control == control_id]

    def lines(self, control_id: str) -> list[str]:
        """Every finding line and failure reason of one control."""
        found: list[str] = []
        for case in self.of_control(control_id):
            found.extend(text for _, _, text in case.findings)
            if case.outcome != Outcome.PASSED.value and case.reason:
                found.append(f"{case.outcome}: {case.reason}")
        return found

    def renamed(self, text: str, placeholder: str) -> Run:
        """The same run with text replaced in every case id.

        The image's subject id carries its digest, which every image mutant
        changes; naming it by a placeholder keeps the cases comparable.
        """
        return Run(
            {key.replace(text, placeholder): case for key, case in self.cases.items()}
        )

    def to_json(self) -> str:
        return json.dumps({key: vars(case) for key, case in self.cases.items()})

    @classmethod
    def from_json(cls, text: str) -> Run:
        raw: dict[str, dict[str, Any]] = json.loads(text)
        return cls(
            {
                key: CaseOutcome(
                    value["control"],
                    value["outcome"],
                    tuple(tuple(item) for item in value["findings"]),  # type: ignore[misc]
                    value["reason"],
                )
                for key, value in raw.items()
            }
        )


def run_all(root: Path, **options: Any) -> Run:
    """Apply every registered control to the repository at root."""
    evidence = Evidence(Options(root=root, **options))
    found: dict[str, CaseOutcome] = {}
    for control in all_controls():
        for case in cases(control, evidence):
            found[case.id] = _outcome(run_guarded(case, evidence))
    return Run(found)


def _outcome(result: Result) -> CaseOutcome:
    return CaseOutcome(
        control=result.case.control.id,
        outcome=result.outcome.value,
        findings=tuple(
            (f.location.file, f.location.line, f.line()) for f in result.findings
        ),
        reason=result.reason,
    )


def changed_controls(clean: Run, mutated: Run) -> set[str]:
    """Controls with a case whose outcome differs, or that went away.

    A case that only the mutant has and that passes (a new subject, such as
    an added object that meets the control) is not a change.
    """
    before, after = clean.outcomes(), mutated.outcomes()
    changed = {
        case_id
        for case_id in before.keys() | after.keys()
        if before.get(case_id) != after.get(case_id)
        and not (case_id not in before and after[case_id] == Outcome.PASSED.value)
    }
    return {case_id.split("[", 1)[0] for case_id in changed}


def killed_controls(clean: Run, mutated: Run) -> set[str]:
    """Controls that passed on the clean copy and fail (or error) on the mutant."""
    killed = set()
    for control_id in changed_controls(clean, mutated):
        was = {case.outcome for case in clean.of_control(control_id)}
        now = {case.outcome for case in mutated.of_control(control_id)}
        if Outcome.PASSED.value in was and now & FAILING:
            killed.add(control_id)
    return killed


def finding_at(run: Run, control_id: str, file: str, line: int | None) -> bool:
    """Whether the control has a failed case with a finding at file:line."""
    return any(
        case.outcome == Outcome.FAILED.value
        and any((f, n) == (file, line) for f, n, _ in case.findings)
        for case in run.of_control(control_id)
    )


def check_mutant(
    mutant: Mutant, applied: Applied, root: Path, clean: Run, mutated: Run
) -> None:
    """Assert the mutant's kills (at their lines) and that nothing else moved."""
    for kill in mutant.kills:
        file, line = applied.expected(kill, root, mutant.file)
        assert finding_at(mutated, kill.control, file, line), (
            f"{mutant.id}: {kill.control} has no finding at {file}:{line}; "
            f"it reported: {mutated.lines(kill.control) or 'nothing (passed)'}"
        )
    unexpected = changed_controls(clean, mutated) - set(mutant.kill_ids)
    unexpected -= set(mutant.also)
    assert not unexpected, {
        control: mutated.lines(control) or ["outcome changed, no finding"]
        for control in sorted(unexpected)
    }


def row(mutant: Mutant, applied: Applied | None, killed: set[str]) -> str:
    """The kill-matrix row of one mutant, as JSON (carried by xdist to the main)."""
    return json.dumps(
        {
            "mutant": mutant.id,
            "description": mutant.description,
            "file": mutant.file,
            "lines": [f"{f}:{n}" for f, n in applied.lines] if applied else [],
            "expected": sorted(mutant.kill_ids),
            "killed": sorted(killed),
            "gap": mutant.gap,
        }
    )
