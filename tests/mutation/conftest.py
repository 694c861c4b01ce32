"""Collects each mutant's row and writes the kill matrix when the session ends.

Each mutant test attaches its row (which controls it was meant to kill and
which it did kill) as a user property. Every process that ran mutant tests
(each xdist worker, or the single process) adds its rows to a spool folder
that all processes of the run share (the run's temporary base folder), then,
holding a lock, merges every spool file and rewrites the matrix: the last
process to finish writes the complete one. This does not rely on the main
xdist process, which does not load this conftest when it is given ``tests/``.

The matrix goes to ``reports/mutation-kill-matrix.json`` and ``.md``, each
written to a temporary file in ``reports/`` and renamed, so a reader never
sees half of one.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from mutation_harness import ROW_PROPERTY

from tenon_compliance.controls.base import all_controls

REPORTS = Path(__file__).resolve().parents[2] / "reports"
MATRIX_JSON = REPORTS / "mutation-kill-matrix.json"
MATRIX_MD = REPORTS / "mutation-kill-matrix.md"

# The rows this process saw, and the run's shared spool folder.
_ROWS: list[dict[str, Any]] = []
_SPOOL: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _kill_matrix_spool(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Locate the spool: the base temporary folder all workers of a run share."""
    base = tmp_path_factory.getbasetemp()
    worker = getattr(request.config, "workerinput", None)
    _SPOOL.append((base.parent if worker else base) / "mutation-kill-rows")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when != "call":
        return
    for name, value in report.user_properties:
        if name == ROW_PROPERTY:
            _ROWS.append(json.loads(str(value)))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if not _ROWS or not _SPOOL:
        return
    spool = _SPOOL[0]
    spool.mkdir(parents=True, exist_ok=True)
    name = getattr(session.config, "workerinput", {}).get("workerid", "main")
    with (spool / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        (spool / f"{name}.json").write_text(json.dumps(_ROWS), encoding="utf-8")
        rows: dict[str, dict[str, Any]] = {}
        for part in sorted(spool.glob("*.json")):
            for row in json.loads(part.read_text(encoding="utf-8")):
                rows[row["mutant"]] = row
        matrix = kill_matrix(list(rows.values()))
        write_atomically(MATRIX_JSON, json.dumps(matrix, indent=2) + "\n")
        write_atomically(MATRIX_MD, markdown(matrix))


def kill_matrix(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The control x mutant matrix: for each control, the mutants that killed it."""
    rows = sorted(rows, key=lambda r: r["mutant"])
    controls = [control.id for control in all_controls()]
    matrix = {
        control: {
            row["mutant"]: "killed" if control in row["killed"] else "not killed"
            for row in rows
        }
        for control in controls
    }
    survivors = [c for c in controls if "killed" not in matrix[c].values()]
    return {
        "generated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        # False when only some mutants ran (pytest -k, a failed collection).
        "complete": len(rows) == registered_mutants(),
        "controls": controls,
        "mutants": rows,
        "matrix": matrix,
        "controls_not_killed": survivors,
    }


def registered_mutants() -> int:
    """How many mutants the registries hold (repository, image, probe)."""
    from mutation_image import IMAGE_MUTANTS  # noqa: PLC0415 - only when writing
    from mutation_probe import PROBE_MUTANTS  # noqa: PLC0415
    from mutation_registry import REPOSITORY_MUTANTS  # noqa: PLC0415

    return len(REPOSITORY_MUTANTS) + len(IMAGE_MUTANTS) + len(PROBE_MUTANTS)


def markdown(matrix: dict[str, Any]) -> str:
    """The matrix as a readable table: one row per control, its killing mutants."""
    lines = [
        "# Mutation kill matrix",
        "",
        f"Generated {matrix['generated']} from {len(matrix['mutants'])} mutants "
        f"over {len(matrix['controls'])} controls"
        + ("." if matrix["complete"] else " (a partial run: not every mutant ran)."),
        "",
        "| Control | Killed by |",
        "|---|---|",
    ]
    for control in matrix["controls"]:
        killers = [
            m for m, state in matrix["matrix"][control].items() if state == "killed"
        ]
        lines.append(f"| {control} | {', '.join(killers) or '**NOT KILLED**'} |")
    lines += [
        "",
        "## Mutants",
        "",
        "| Mutant | Edit | Expected | Killed |",
        "|---|---|---|---|",
    ]
    for row in matrix["mutants"]:
        where = ", ".join(row["lines"]) or row["file"]
        expected = ", ".join(row["expected"])
        if row["gap"]:
            expected += " (known gap)"
        lines.append(
            f"| {row['mutant']} | {row['description']} ({where}) | {expected} "
            f"| {', '.join(row['killed']) or '-'} |"
        )
    gaps = [row for row in matrix["mutants"] if row["gap"]]
    if gaps:
        lines += ["", "## Known gaps: realistic mutants no control kills yet", ""]
        lines += [f"- {row['mutant']}: {row['gap']}" for row in gaps]
    return "\n".join(lines) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write text to path through a temporary file in the same folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
