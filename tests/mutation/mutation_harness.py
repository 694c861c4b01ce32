"""Runs every registered control over a copy and compares it with the clean copy.

The engine is called in-process (``cases``/``run_case`` over ``all_controls``)
with one fresh ``Evidence`` per copy, exactly as the pytest plugin does, so
the outcome of a mutant is the outcome the main job would report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mutation_model import Applied, Mutant

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Case, Outcome, Result, cases, run_case
from tenon_compliance.evidence import Evidence, Options

ROW_PROPERTY = "mutation.row"


@dataclass(frozen=True)
class Run:
    """Every case's result of one run, by case id (``CONTROL[subject]``)."""

    results: dict[str, Result]

    def outcomes(self) -> dict[str, Outcome]:
        return {case_id: result.outcome for case_id, result in self.results.items()}

    def of_control(self, control_id: str) -> list[Result]:
        return [
            result
            for result in self.results.values()
            if result.case.control.id == control_id
        ]

    def lines(self, control_id: str) -> list[str]:
        """Every finding line and failure reason of one control."""
        found: list[str] = []
        for result in self.of_control(control_id):
            found.extend(finding.line() for finding in result.findings)
            if result.outcome is not Outcome.PASSED and result.reason:
                found.append(f"{result.outcome.value}: {result.reason}")
        return found


def run_all(root: Path, **options: Any) -> Run:
    """Apply every registered control to the repository at root."""
    evidence = Evidence(Options(root=root, **options))
    results: dict[str, Result] = {}
    for control in all_controls():
        for case in cases(control, evidence):
            results[case.id] = _run_case(case, evidence)
    return Run(results)


def _run_case(case: Case, evidence: Evidence) -> Result:
    """run_case, with a crash of the control kept as an error result.

    In the main job a crash is a failed test; here it must not hide the
    outcomes of the other controls of the same run.
    """
    try:
        return run_case(case, evidence)
    except Exception as crash:  # noqa: BLE001 - recorded, and reported as an error
        reason = f"the control crashed: {type(crash).__name__}: {crash}"
        return Result(case, Outcome.ERROR, reason=reason)


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
        and not (case_id not in before and after[case_id] is Outcome.PASSED)
    }
    return {case_id.split("[", 1)[0] for case_id in changed}


def killed_controls(clean: Run, mutated: Run) -> set[str]:
    """Controls that passed on the clean copy and fail (or error) on the mutant."""
    killed = set()
    for control_id in changed_controls(clean, mutated):
        was = {r.outcome for r in clean.of_control(control_id)}
        now = {r.outcome for r in mutated.of_control(control_id)}
        if Outcome.PASSED in was and now & {Outcome.FAILED, Outcome.ERROR}:
            killed.add(control_id)
    return killed


def finding_at(run: Run, control_id: str, file: str, line: int) -> bool:
    """Whether the control has a failed case with a finding at file:line."""
    return any(
        result.outcome is Outcome.FAILED
        and any(
            finding.location.file == file and finding.location.line == line
            for finding in result.findings
        )
        for result in run.of_control(control_id)
    )


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
