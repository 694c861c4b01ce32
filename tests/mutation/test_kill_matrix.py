"""The mutant registry covers the whole control catalog, and stays well formed.

Each mutant test proves that its named controls kill it; this file proves
that every registered control is named by at least one mutant that is not a
known gap, so together they show that every control fails when it should.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from mutation_image import IMAGE_MUTANTS
from mutation_model import Edit, Kill, Mutant, MutantRotError, apply_mutant
from mutation_probe import PROBE_MUTANTS
from mutation_registry import REPOSITORY_MUTANTS

from tenon_compliance.controls.base import all_controls

ALL_MUTANTS = (
    *REPOSITORY_MUTANTS,
    *(evidence.mutant for evidence in IMAGE_MUTANTS),
    *PROBE_MUTANTS,
)


def test_every_registered_control_has_a_mutant_that_kills_it() -> None:
    killers = {
        kill.control
        for mutant in ALL_MUTANTS
        if not mutant.gap
        for kill in mutant.kills
    }

    missing = [control.id for control in all_controls() if control.id not in killers]

    assert not missing, f"controls no mutant kills: {', '.join(missing)}"


def test_mutants_name_only_registered_controls() -> None:
    known = {control.id for control in all_controls()}

    unknown = {
        f"{mutant.id}: {name}"
        for mutant in ALL_MUTANTS
        for name in (*mutant.kill_ids, *mutant.also)
        if name not in known
    }

    assert not unknown, f"mutants name unknown controls: {sorted(unknown)}"


def test_mutant_ids_are_unique_and_readable() -> None:
    counts = Counter(mutant.id for mutant in ALL_MUTANTS)

    assert [name for name, count in counts.items() if count > 1] == []
    assert all(name.replace("-", "").isalnum() for name in counts)
    assert all(name == name.lower() for name in counts)


def test_every_mutant_names_a_control_and_a_reason_for_each_side_effect() -> None:
    assert [m.id for m in ALL_MUTANTS if not m.kills] == []
    assert [m.id for m in ALL_MUTANTS if any(not why for why in m.also.values())] == []


def test_a_mutant_whose_text_is_gone_fails_loudly(repo_copy: Path) -> None:
    rotten = Mutant(
        id="rotten",
        description="replaces text the repository no longer has",
        edits=(Edit("k8s/overlays/prod/kustomization.yaml", "count: 42\n", "x\n"),),
        kills=(Kill("K8S-REPLICAS"),),
    )

    with pytest.raises(
        MutantRotError,
        match=r"kustomization.yaml: the text to "
        r"replace occurs 0 times, expected once: 'count: 42",
    ):
        apply_mutant(repo_copy, rotten)


def test_a_mutant_whose_text_is_repeated_fails_loudly(repo_copy: Path) -> None:
    ambiguous = Mutant(
        id="ambiguous",
        description="replaces text that occurs twice",
        edits=(Edit("k8s/base/deployment.yaml", "runAsNonRoot: true", "x"),),
        kills=(Kill("K8S-CONTAINER-SECURITY-CONTEXT"),),
    )

    with pytest.raises(MutantRotError, match="occurs 2 times, expected once"):
        apply_mutant(repo_copy, ambiguous)
