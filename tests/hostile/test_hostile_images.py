"""Hostile image evidence: archives that try to escape, blobs that lie about themselves.

Every IMG-* control must error (never pass) with a reason naming the image
evidence and what is wrong with it, and nothing may be written outside the
archive: the reader checks every member before reading any.
"""

from __future__ import annotations

import io
import re
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome, Result, cases, run_case
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.image.writer import Entry
from tests.conftest import copy_repository
from tests.image.image_builders import APP_LAYER, BASE_LAYER, REVISION, Built, build

# The image controls that read the layers' files.
TREE = {"IMG-NO-SHELL", "IMG-NO-SETUID", "IMG-NO-TOOLCHAIN"}


def image_results(root: Path, ref: str) -> list[Result]:
    evidence = Evidence(Options(root=root, image=ref, revision=REVISION))
    return [
        run_case(case, evidence)
        for control in all_controls()
        if control.id.startswith("IMG-")
        for case in cases(control, evidence)
    ]


def pinned_copy(tmp_path: Path, digest: str) -> Path:
    root = copy_repository(tmp_path / "repo")
    for env in ("dev", "stage", "prod"):
        path = root / f"k8s/overlays/{env}/kustomization.yaml"
        text = path.read_text(encoding="utf-8")
        path.write_text(
            re.sub(r"digest: sha256:[0-9a-f]{64}", f"digest: {digest}", text),
            encoding="utf-8",
        )
    return root


def archive(
    layout: Path, target: Path, extra: Callable[[tarfile.TarFile], None]
) -> Path:
    """The layout as an OCI archive, with extra members added by extra()."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w") as tar:
        for path in sorted(layout.rglob("*")):
            tar.add(path, arcname=path.relative_to(layout).as_posix(), recursive=False)
        extra(tar)
    return target


def regular(name: str, data: bytes = b"pwned\n") -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    return add


def link(name: str, target: str) -> Callable[[tarfile.TarFile], None]:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo(name)
        info.type = tarfile.SYMTYPE
        info.linkname = target
        tar.addfile(info)

    return add


@pytest.fixture
def good(tmp_path: Path) -> Built:
    return build(tmp_path / "layout")


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        pytest.param(
            regular("../../escaped.txt"),
            "member '../../escaped.txt' escapes the archive's folder",
            id="dot-dot-member",
        ),
        pytest.param(
            regular("/tmp/escaped-absolute.txt"),
            "member '/tmp/escaped-absolute.txt' escapes the archive's folder",
            id="absolute-member",
        ),
        pytest.param(
            link("blobs/sha256/passwd", "/etc/passwd"),
            "member 'blobs/sha256/passwd' is a link",
            id="symlink-member",
        ),
    ],
)
def test_archive_members_that_escape_are_refused_before_any_read(
    good: Built,
    tmp_path: Path,
    extra: Callable[[tarfile.TarFile], None],
    reason: str,
) -> None:
    target = archive(good.path, tmp_path / "deep" / "er" / "image.tar", extra)
    root = pinned_copy(tmp_path, good.digest)
    ref = f"oci-archive:{target}"

    results = image_results(root, ref)

    assert results
    assert {r.outcome for r in results} == {Outcome.ERROR}
    assert all(r.reason.startswith(f"{ref}: {reason}") for r in results)
    assert not (tmp_path / "deep" / "escaped.txt").exists()
    assert not Path("/tmp/escaped-absolute.txt").exists()


def test_a_blob_whose_content_does_not_match_its_digest_is_refused(
    good: Built, tmp_path: Path
) -> None:
    blobs = sorted(
        (good.path / "blobs/sha256").iterdir(), key=lambda path: path.stat().st_size
    )
    layer = blobs[-1]
    data = bytearray(layer.read_bytes())
    data[len(data) // 2] ^= 0xFF
    layer.write_bytes(bytes(data))
    target = archive(good.path, tmp_path / "image.tar", lambda tar: None)
    root = pinned_copy(tmp_path, good.digest)

    results = image_results(root, f"oci-archive:{target}")

    assert {r.outcome for r in results} == {Outcome.ERROR}
    assert all(f"blob sha256:{layer.name}" in r.reason for r in results)
    assert all("digest" in r.reason for r in results)


def test_a_layer_entry_that_climbs_out_is_refused(tmp_path: Path) -> None:
    """The controls that read the file tree error; those reading only the
    manifest and config (labels, user, digest) may still judge those."""
    escaping = [Entry("../../../etc/cron.d/evil", b"* * * * * root sh\n")]
    built = build(tmp_path / "layout", layers=[BASE_LAYER, APP_LAYER, escaping])
    root = pinned_copy(tmp_path, built.digest)

    results = image_results(root, built.ref)

    tree = {r.case.control.id: r for r in results if r.case.control.id in TREE}
    assert set(tree) == TREE
    assert {r.outcome for r in tree.values()} == {Outcome.ERROR}
    assert all(
        "entry '../../../etc/cron.d/evil' escapes its folder" in r.reason
        for r in tree.values()
    )
