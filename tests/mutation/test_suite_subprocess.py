"""A handful of mutants through the real main job, `pytest compliance/ --root COPY`.

The in-process runs prove each mutant against the engine; this proves that
the same findings reach a person through the real command: a failed exit,
the finding line (file:line, control, clauses) in the terminal, and a failed
testcase in the JUnit evidence. The mutants edit different files, so one run
carries them all.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from mutation_model import Applied, apply_mutant
from mutation_registry import REPOSITORY_MUTANTS

from tests.conftest import copy_repository
from tests.hostile.suite_runner import SuiteRun, run_suite

CHOSEN = (
    "prod-one-replica",
    "dockerfile-password-env",
    "eks-public-endpoint",
    "apply-without-manual-review",
    "s3-versioning-suspended",
)
MUTANTS = {mutant.id: mutant for mutant in REPOSITORY_MUTANTS if mutant.id in CHOSEN}


@pytest.fixture(scope="module")
def mutated_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, Applied], SuiteRun]:
    base = tmp_path_factory.mktemp("main-job")
    root = copy_repository(base / "repo")
    applied = {name: apply_mutant(root, mutant) for name, mutant in MUTANTS.items()}
    return root, applied, run_suite(root, base / "watch")


def test_the_chosen_mutants_are_registered_and_edit_different_files() -> None:
    assert set(MUTANTS) == set(CHOSEN)
    assert len({mutant.file for mutant in MUTANTS.values()}) == len(CHOSEN)


def test_the_main_job_fails(mutated_run: tuple[Path, dict, SuiteRun]) -> None:
    _, _, run = mutated_run

    assert run.code == 1, run.output[-3000:]


@pytest.mark.parametrize("name", CHOSEN)
def test_the_finding_reaches_the_terminal_and_the_junit(
    mutated_run: tuple[Path, dict[str, Applied], SuiteRun], name: str
) -> None:
    root, applied, run = mutated_run
    mutant = MUTANTS[name]
    kill = mutant.kills[0]
    file, line = applied[name].expected(kill, root, mutant.file)

    assert f"{file}:{line}: [{kill.control} " in run.output
    failed = [
        case
        for case in ET.parse(root / "reports/junit.xml").iter("testcase")
        if case.get("name", "").startswith(f"{kill.control}[")
        and case.find("failure") is not None
    ]
    assert failed, f"no failed {kill.control} testcase in the JUnit"
    assert any(
        f"{file}:{line}:" in (case.find("failure").text or "") for case in failed
    )
