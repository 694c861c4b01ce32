"""Hostile inputs in a copy of the repository: a clear error, bounded, and a failed run.

For every case of hostile_inputs:

1. the loader, in a child process limited to 1 GiB of address space and 60
   seconds, refuses the input with a LoadError whose message starts with the
   file and line;
2. every control that reads that kind of input reports the same error in the
   engine: none of them passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile_inputs import HCL_LARGE, HOSTILE, READERS, Hostile, load_in_subprocess

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome, cases, run_case
from tenon_compliance.evidence import Evidence, Options
from tests.conftest import copy_repository


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda hostile: hostile.id)
def test_loader_refuses_with_file_and_line_within_bounds(
    hostile: Hostile, tmp_path: Path
) -> None:
    root = copy_repository(tmp_path / "repo")
    expected = hostile.write(root)

    loaded = load_in_subprocess(root, hostile.kind)

    assert loaded.code == 3, f"exit {loaded.code}: {loaded.output[-2000:]}"
    assert hostile.names_its_place(loaded.output, expected), (expected, loaded.output)
    assert hostile.reason in loaded.output


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda hostile: hostile.id)
def test_every_control_reading_it_errors_and_none_passes(
    hostile: Hostile, tmp_path: Path
) -> None:
    root = copy_repository(tmp_path / "repo")
    expected = hostile.write(root)
    evidence = Evidence(Options(root=root))
    readers = [c for c in all_controls() if c.id.startswith(READERS[hostile.kind])]

    results = [run_case(case, evidence) for c in readers for case in cases(c, evidence)]

    assert readers
    assert {result.outcome for result in results} == {Outcome.ERROR}, [
        (result.case.id, result.outcome.value) for result in results
    ]
    assert all(hostile.names_its_place(r.reason, expected) for r in results)


def test_large_tf_file_loads_within_bounds(tmp_path: Path) -> None:
    """50 MB of comment in a .tf file stays within 1 GiB and 60 s (no refusal)."""
    root = copy_repository(tmp_path / "repo")
    HCL_LARGE.write(root)

    loaded = load_in_subprocess(root, HCL_LARGE.kind)

    assert loaded.code in (0, 3), loaded.output[-2000:]


def test_large_tf_file_is_refused(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    HCL_LARGE.write(root)

    loaded = load_in_subprocess(root, HCL_LARGE.kind)

    assert loaded.code == 3, loaded.output[-500:]
    assert HCL_LARGE.names_its_place(loaded.output, None)


def test_a_manifest_symlinked_outside_is_refused_by_every_control(
    tmp_path: Path,
) -> None:
    root = copy_repository(tmp_path / "repo")
    (root / "k8s/base/deployment.yaml").unlink()
    (root / "k8s/base/deployment.yaml").symlink_to("/etc/hostname")
    evidence = Evidence(Options(root=root))
    (control,) = [c for c in all_controls() if c.id == "SIG-ADMISSION-IDENTITY"]

    results = [run_case(case, evidence) for case in cases(control, evidence)]

    assert [result.outcome for result in results] == [Outcome.ERROR]
    assert "k8s/base/deployment.yaml" in results[0].reason
