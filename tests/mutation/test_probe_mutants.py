"""Every mutant of the probe service is killed by the runtime controls it names.

Each mutant's controls run in a subprocess that imports the mutated copy's
``tenon_probe`` (see mutation_probe); the clean baseline is run the same way.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mutation_harness import ROW_PROPERTY, Run, check_mutant, killed_controls, row
from mutation_model import Mutant, apply_mutant
from mutation_probe import PROBE_MUTANTS

from tests.conftest import copy_repository

HERE = Path(__file__).resolve().parent


def run_in_subprocess(root: Path) -> Run:
    """Every control over root, with root/src's packages imported first."""
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(root / "src"), str(HERE), environment.get("PYTHONPATH", "")]
    )
    done = subprocess.run(
        [sys.executable, str(HERE / "run_controls.py"), str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return Run.from_json(done.stdout)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_in_subprocess(copy_repository(tmp_path_factory.mktemp("clean") / "repo"))


def test_the_subprocess_tests_the_copy_s_service(tmp_path: Path) -> None:
    """A copy whose service differs from the imported one is refused, not passed."""
    root = copy_repository(tmp_path / "repo")
    module = root / "src/tenon_probe/server.py"
    module.write_text(module.read_text() + "\n# edited\n")
    environment = dict(os.environ, PYTHONPATH=str(HERE))

    done = subprocess.run(
        [sys.executable, str(HERE / "run_controls.py"), str(root)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=True,
    )

    liveness = Run.from_json(done.stdout).of_control("PROBE-LIVENESS-INDEPENDENT")
    assert [case.outcome for case in liveness] == ["error"]
    assert "differs from the imported tenon_probe" in liveness[0].reason


@pytest.mark.parametrize("mutant", PROBE_MUTANTS, ids=lambda mutant: mutant.id)
def test_probe_mutant_is_killed_by_its_controls_only(
    mutant: Mutant,
    clean_run: Run,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
) -> None:
    root = copy_repository(tmp_path / "repo")
    applied = apply_mutant(root, mutant)

    mutated = run_in_subprocess(root)

    killed = killed_controls(clean_run, mutated)
    record_property(ROW_PROPERTY, row(mutant, applied, killed))
    check_mutant(mutant, applied, root, clean_run, mutated)
