"""Every repository mutant is killed by its controls, and only by them.

For each registered mutant: copy the repository, apply the edit, run every
registered control in-process, and check that

1. each control the mutant names fails with a finding at the edited file and
   line (computed from the edit, never written by hand), and
2. no other control changed outcome compared with the clean copy, except
   those the mutant lists in ``also`` with a reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from mutation_harness import (
    ROW_PROPERTY,
    Run,
    check_mutant,
    killed_controls,
    row,
    run_all,
)
from mutation_model import Mutant, apply_mutant
from mutation_registry import REPOSITORY_MUTANTS

from tests.conftest import copy_repository


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Every control over an unmodified copy: the baseline of every mutant."""
    return run_all(copy_repository(tmp_path_factory.mktemp("clean") / "repo"))


def _params() -> list[object]:
    params = []
    for mutant in REPOSITORY_MUTANTS:
        marks = []
        if mutant.gap:
            # A known gap: the named control does not catch this mutant yet.
            # Strict, so the day it does, the test fails and the mutant moves
            # out of the gaps; only the assertions may fail, never the edit.
            gap = pytest.mark.xfail(
                reason=mutant.gap, strict=True, raises=AssertionError
            )
            marks.append(gap)
        params.append(pytest.param(mutant, id=mutant.id, marks=marks))
    return params


@pytest.mark.parametrize("mutant", _params())
def test_mutant_is_killed_by_its_controls_only(
    mutant: Mutant,
    clean_run: Run,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    root = copy_repository(tmp_path / "repo")
    applied = apply_mutant(root, mutant)

    mutated = run_all(root)

    killed = killed_controls(clean_run, mutated)
    record_property(ROW_PROPERTY, row(mutant, applied, killed))
    if mutant.gap:  # expected to fail until the named controls catch it at all
        missing = sorted(set(mutant.kill_ids) - killed)
        assert not missing, f"{mutant.id}: not killed by {missing}: {mutant.gap}"
        return
    check_mutant(mutant, applied, root, clean_run, mutated)
