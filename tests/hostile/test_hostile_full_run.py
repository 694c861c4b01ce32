"""A few hostile inputs through the real main job: the run fails, with the reason.

The same damage as in hostile_inputs, but seen the way CI sees it: `pytest
compliance/ --root COPY` exits 1 and its output carries the loader's message
with the file and line. The remote kustomize base is also shown to be
refused before any tool runs: no kubectl process is started, and the audit
hook records no network use beyond the known metadata lookup.
"""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest
from hostile_inputs import Hostile, hcl_invalid, kustomize_remote_base, yaml_alias_bomb
from suite_runner import run_suite

from tests.conftest import copy_repository
from tests.image.image_builders import build

INSTANCE_METADATA = "169.254.169.254"
CASES = [
    Hostile(
        "yaml-alias-bomb",
        "kubernetes",
        yaml_alias_bomb,
        "k8s/base/deployment.yaml",
        "aliases expand to more than",
    ),
    Hostile(
        "hcl-invalid",
        "terraform",
        hcl_invalid,
        "infra/terraform/modules/network/main.tf",
        "expected an expression",
    ),
    Hostile(
        "kustomize-remote-base",
        "kubernetes",
        kustomize_remote_base,
        "k8s/overlays/prod/kustomization.yaml",
        "remote reference 'https://github.com/example/tenon-extras//k8s?ref=v1' "
        "refused",
    ),
]


@pytest.mark.parametrize("hostile", CASES, ids=lambda hostile: hostile.id)
def test_the_main_job_fails_with_the_loader_message(
    hostile: Hostile, tmp_path: Path
) -> None:
    root = copy_repository(tmp_path / "repo")
    expected = hostile.write(root)

    run = run_suite(root, tmp_path / "watch")

    assert run.code == 1, run.output[-3000:]
    lines = [f"{hostile.file}:{line}: " for line in _lines(expected)]
    assert any(f"{place}{hostile.reason}" in run.output for place in lines), (
        lines,
        run.output[-3000:],
    )
    assert [e for e in run.refused() if e.get("host") != INSTANCE_METADATA] == []
    if hostile.id == "kustomize-remote-base":
        # kubectl runs once for its version (the JUnit's provenance), never
        # to render: the walk refused the overlay first.
        renders = [argv for argv in run.started("kubectl") if "kustomize" in argv]
        assert renders == []
        assert run.started("kustomize") == []


def test_an_archive_that_escapes_fails_the_main_job(tmp_path: Path) -> None:
    built = build(tmp_path / "layout")
    root = copy_repository(tmp_path / "repo")
    for env in ("dev", "stage", "prod"):
        path = root / f"k8s/overlays/{env}/kustomization.yaml"
        path.write_text(
            re.sub(
                r"digest: sha256:[0-9a-f]{64}",
                f"digest: {built.digest}",
                path.read_text(),
            )
        )
    target = tmp_path / "image.tar"
    with tarfile.open(target, "w") as tar:
        for path in sorted(built.path.rglob("*")):
            tar.add(
                path, arcname=path.relative_to(built.path).as_posix(), recursive=False
            )
        tar.add(built.path / "oci-layout", arcname="../../escaped")

    run = run_suite(root, tmp_path / "watch", "--image", f"oci-archive:{target}")

    assert run.code == 1
    assert (
        f"oci-archive:{target}: member '../../escaped' escapes the archive's folder"
        in run.output
    )
    assert not (tmp_path.parent / "escaped").exists()


def _lines(expected: int | range | None) -> list[int | None]:
    if isinstance(expected, range):
        return list(expected)
    return [expected]
