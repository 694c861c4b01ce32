"""The image controls over good and broken images, with findings at file:line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from image_builders import (
    APP_LAYER,
    BASE_LAYER,
    ELF,
    REVISION,
    Built,
    build,
    failures,
    run_control,
    with_config,
    with_labels,
)

from tenon_compliance.engine import Outcome
from tenon_compliance.image.writer import Entry

IMAGE_CONTROLS = [
    "IMG-USER-NONROOT",
    "IMG-NO-SHELL",
    "IMG-NO-SETUID",
    "IMG-LABELS-PROVENANCE",
    "IMG-NO-SECRET-CONFIG",
    "IMG-NO-SECRET-FILES",
    "IMG-NO-TOOLCHAIN",
    "IMG-SIZE-BUDGET",
    "IMG-BASE-DISTROLESS",
    "IMG-DIGEST-PINNED",
]
DOCKERFILE = """\
# syntax=docker/dockerfile:1
FROM python:3.13-slim-trixie@sha256:3dd7cc108ec1493442514f5c2a871af6af0ec31d768ff6e378a93340c3b3db5f AS build
RUN python -m venv /venv
FROM gcr.io/distroless/python3-debian13:nonroot@sha256:774595d652a294b54c9bd575b2d9fdd1a4b47547dc17b8bfa4c0e953c64855b3
LABEL org.opencontainers.image.source="https://gitlab.com/tenon/runtime"
COPY --from=build /venv /venv
USER 65532:65532
ENTRYPOINT ["python3", "-m", "tenon_probe"]
"""  # noqa: E501 - the pinned references are one token each
FROM_LINE, LABEL_LINE, COPY_LINE, USER_LINE = 4, 5, 6, 7
# Secret-shaped values, assembled here so that no secret scanner mistakes the
# test file itself for a leak.
FAKE_AWS_KEY = "AKIA" + "TESTONLY" * 2
FAKE_GITLAB_TOKEN = "glpat" + "-" + "testonly" * 3


def pin_overlays(root: Path, digest: str) -> None:
    """Make every overlay pin ``digest`` for the runtime image."""
    for env in ("dev", "stage", "prod"):
        path = root / f"k8s/overlays/{env}/kustomization.yaml"
        text = re.sub(
            r"digest: sha256:[0-9a-f]{64}", f"digest: {digest}", path.read_text()
        )
        path.write_text(text)


@pytest.fixture
def repo(repo_copy: Path) -> Path:
    (repo_copy / "docker").mkdir(exist_ok=True)
    (repo_copy / "docker/Dockerfile").write_text(DOCKERFILE)
    return repo_copy


def run(control_id: str, repo: Path, built: Built, **options: object) -> list[str]:
    pin_overlays(repo, built.digest)
    return failures(run_control(control_id, repo, image=built.ref, **options))


@pytest.mark.parametrize("control_id", IMAGE_CONTROLS)
def test_image_controls_are_not_evaluated_without_an_image(
    repo: Path, control_id: str
) -> None:
    (result,) = run_control(control_id, repo)

    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.reason == "no image evidence: pass --image"


@pytest.mark.parametrize("control_id", IMAGE_CONTROLS)
def test_good_image_passes_every_image_control(
    repo: Path, tmp_path: Path, control_id: str
) -> None:
    built = build(tmp_path / "good")

    assert run(control_id, repo, built, revision=REVISION) == []


def test_root_user_fails_con_3_at_the_user_line(repo: Path, tmp_path: Path) -> None:
    built = build(tmp_path / "root", config=with_config(User="0"))

    (line,) = run("IMG-USER-NONROOT", repo, built)

    assert line.startswith(f"docker/Dockerfile:{USER_LINE}: [IMG-USER-NONROOT CON-3]")
    assert "found: '0'" in line


def test_named_user_fails_con_3(repo: Path, tmp_path: Path) -> None:
    built = build(tmp_path / "named", config=with_config(User="nonroot"))

    (line,) = run("IMG-USER-NONROOT", repo, built)

    assert "not a numeric non-root user" in line
    assert "found: 'nonroot'" in line


@pytest.mark.parametrize(
    ("entry", "what"),
    [
        pytest.param(
            Entry("bin/sh", ELF, 0o755), "a shell is in the image: /bin/sh", id="bin-sh"
        ),
        pytest.param(
            Entry("bin/bash", ELF, 0o755), "a shell is in the image", id="bash"
        ),
        pytest.param(
            Entry("bin/sh", kind="symlink", link="dash"), "/bin/sh", id="sh-symlink"
        ),
        pytest.param(
            Entry("usr/local/bin/busybox", ELF, 0o755), "busybox", id="busybox"
        ),
        pytest.param(
            Entry("opt/tools/busybox", ELF, 0o755),
            "/opt/tools/busybox",
            id="busybox-elsewhere",
        ),
        pytest.param(
            Entry("usr/bin/apt-get", ELF, 0o755),
            "a package manager is in the image: /usr/bin/apt-get",
            id="apt",
        ),
        pytest.param(Entry("usr/bin/dpkg", ELF, 0o755), "/usr/bin/dpkg", id="dpkg"),
        pytest.param(Entry("sbin/apk", ELF, 0o755), "/sbin/apk", id="apk"),
        pytest.param(Entry("usr/local/bin/pip3", b"#!", 0o755), "pip3", id="pip3"),
        pytest.param(
            Entry("venv/lib/python3.13/site-packages/pip/__init__.py", b""),
            "site-packages/pip/__init__.py",
            id="pip-module",
        ),
    ],
)
def test_shell_or_package_manager_fails_con_4(
    repo: Path, tmp_path: Path, entry: Entry, what: str
) -> None:
    built = build(tmp_path / "shell", layers=[BASE_LAYER, APP_LAYER, [entry]])

    (line,) = run("IMG-NO-SHELL", repo, built)

    assert line.startswith(f"docker/Dockerfile:{FROM_LINE}: [IMG-NO-SHELL CON-4,CON-5]")
    assert what in line
    assert "(layer 2 sha256:" in line


def test_shell_removed_by_a_later_whiteout_passes(repo: Path, tmp_path: Path) -> None:
    shell = [Entry("bin/sh", ELF, 0o755)]
    built = build(tmp_path / "wh", layers=[BASE_LAYER, shell, [Entry("bin/.wh.sh")]])

    assert run("IMG-NO-SHELL", repo, built) == []


def test_setuid_file_fails_con_5(repo: Path, tmp_path: Path) -> None:
    suid = [Entry("usr/bin/su", ELF, 0o4755), Entry("usr/bin/wall", ELF, 0o2755)]
    built = build(tmp_path / "suid", layers=[BASE_LAYER, suid])

    lines = run("IMG-NO-SETUID", repo, built)

    assert len(lines) == 2
    assert "setuid file /usr/bin/su (layer 1" in lines[0]
    assert "found: mode 4755" in lines[0]
    assert "setgid file /usr/bin/wall" in lines[1]


def test_missing_revision_label_fails_flow_3(repo: Path, tmp_path: Path) -> None:
    built = build(
        tmp_path / "nolabel", config=with_labels(org_opencontainers_image_revision=None)
    )

    (line,) = run("IMG-LABELS-PROVENANCE", repo, built)

    assert line.startswith(
        f"docker/Dockerfile:{LABEL_LINE}: [IMG-LABELS-PROVENANCE FLOW-3,TST-F2]"
    )
    assert "label org.opencontainers.image.revision is missing" in line


def test_revision_of_another_commit_fails_tst_f2(repo: Path, tmp_path: Path) -> None:
    built = build(tmp_path / "good")

    (line,) = run("IMG-LABELS-PROVENANCE", repo, built, revision="0" * 40)

    assert "is not the commit being deployed" in line
    assert f"found: {REVISION}" in line


@pytest.mark.parametrize(
    ("change", "what"),
    [
        pytest.param(
            {"Env": [f"AWS_ACCESS_KEY_ID={FAKE_AWS_KEY}"]},
            "Env AWS_ACCESS_KEY_ID",
            id="aws-key-env",
        ),
        pytest.param(
            {"Env": ["DB_PASSWORD=correct-horse-battery"]},
            "Env DB_PASSWORD",
            id="password-env",
        ),
        pytest.param(
            {"Labels": {"deploy.token": FAKE_GITLAB_TOKEN}},
            "label deploy.token",
            id="token-label",
        ),
    ],
)
def test_secret_in_config_fails_inv_3_2_without_echoing_it(
    repo: Path, tmp_path: Path, change: dict, what: str
) -> None:
    built = build(tmp_path / "secret", config=with_config(**change))

    lines = run("IMG-NO-SECRET-CONFIG", repo, built)

    assert any(what in line and "(value not shown)" in line for line in lines)
    joined = "\n".join(lines)
    for secret in (FAKE_AWS_KEY, "correct-horse-battery", FAKE_GITLAB_TOKEN):
        assert secret not in joined


def test_secret_build_argument_in_history_fails_inv_3_2(
    repo: Path, tmp_path: Path
) -> None:
    history = [f"|1 GITLAB_TOKEN={FAKE_GITLAB_TOKEN} /bin/sh -c make"]
    built = build(tmp_path / "history", history=history)

    (line,) = run("IMG-NO-SECRET-CONFIG", repo, built)

    assert (
        "GITLAB_TOKEN holds a secret-looking value (value not shown) in history "
        "step 0" in line
    )
    assert FAKE_GITLAB_TOKEN not in line


def test_dotenv_file_fails_inv_3_2_even_when_a_later_layer_deletes_it(
    repo: Path, tmp_path: Path
) -> None:
    dotenv = [Entry("app/.env", b"DB_PASSWORD=" + b"x" * 12 + b"\n")]
    deleted = [Entry("app/.wh..env")]
    built = build(tmp_path / "dotenv", layers=[BASE_LAYER, dotenv, deleted])

    (line,) = run("IMG-NO-SECRET-FILES", repo, built)

    assert line.startswith(
        f"docker/Dockerfile:{COPY_LINE}: [IMG-NO-SECRET-FILES INV-3.2,SEC-1,THR-6]"
    )
    assert "/app/.env (layer 1 sha256:" in line
    assert "its name '.env' is a credential file's" in line
    assert "x" * 12 not in line  # the value is never echoed


def test_private_key_and_credential_store_fail_but_certificates_pass(
    repo: Path, tmp_path: Path
) -> None:
    files = [
        Entry("root/.ssh/id_ed25519", b"not a real key", 0o600),
        Entry("home/app/.aws/credentials", b"[default]", 0o600),
        Entry("etc/ssl/certs/ca-certificates.pem", b"public"),
    ]
    built = build(tmp_path / "keys", layers=[BASE_LAYER, files])

    lines = run("IMG-NO-SECRET-FILES", repo, built)

    assert len(lines) == 2
    assert "/root/.ssh/id_ed25519" in lines[0]
    assert "/home/app/.aws/credentials" in lines[1]
    assert "it is a tool's credential store" in lines[1]


def test_compiler_in_runtime_layers_fails_inv_3_1(repo: Path, tmp_path: Path) -> None:
    tools = [
        Entry("usr/bin/gcc-14", ELF, 0o755),
        Entry("usr/include/python3.13/Python.h", b"/* */"),
    ]
    built = build(tmp_path / "tools", layers=[BASE_LAYER, tools])

    lines = run("IMG-NO-TOOLCHAIN", repo, built)

    assert any("build tool in the image: /usr/bin/gcc-14" in line for line in lines)
    assert any("Python headers in the image" in line for line in lines)


def test_image_over_budget_fails_con_5(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENON_IMAGE_BUDGET_MB", "0")
    built = build(tmp_path / "good")

    (line,) = run("IMG-SIZE-BUDGET", repo, built)

    assert "compressed layers exceed the size budget (expected: <= 0 bytes" in line


def test_other_base_than_the_pinned_distroless_fails_con_2(
    repo: Path, tmp_path: Path
) -> None:
    other = "sha256:" + "b" * 64
    built = build(
        tmp_path / "base",
        config=with_labels(org_opencontainers_image_base_digest=other),
    )

    (line,) = run("IMG-BASE-DISTROLESS", repo, built)

    assert line.startswith(
        f"docker/Dockerfile:{FROM_LINE}: [IMG-BASE-DISTROLESS CON-2]"
    )
    assert f"found: {other}" in line


def test_overlay_pinning_another_digest_fails_inv_1_1(
    repo: Path, tmp_path: Path
) -> None:
    built = build(tmp_path / "good")
    pin_overlays(repo, built.digest)
    prod = repo / "k8s/overlays/prod/kustomization.yaml"
    stale = "sha256:" + "c" * 64
    prod.write_text(prod.read_text().replace(built.digest, stale))
    line_no = next(
        n for n, text in enumerate(prod.read_text().splitlines(), 1) if stale in text
    )

    lines = failures(run_control("IMG-DIGEST-PINNED", repo, image=built.ref))

    assert lines == [line for line in lines if "prod overlay" in line]
    assert lines[0].startswith(
        f"k8s/overlays/prod/kustomization.yaml:{line_no}: "
        "[IMG-DIGEST-PINNED INV-1.1,ACC-1]"
    )
    assert f"found: {stale}" in lines[0]


def test_tampered_image_is_an_error_not_a_pass(repo: Path, tmp_path: Path) -> None:
    built = build(tmp_path / "tampered")
    blobs = sorted(
        (built.path / "blobs/sha256").iterdir(), key=lambda p: p.stat().st_size
    )
    layer = blobs[-1]
    layer.write_bytes(layer.read_bytes()[:-1] + b"\0")

    (result,) = run_control("IMG-NO-SHELL", repo, image=built.ref)

    assert result.outcome is Outcome.ERROR
    assert f"blob sha256:{layer.name}" in result.reason


def test_unreadable_size_budget_is_an_error_not_a_pass(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENON_IMAGE_BUDGET_MB", "lots")
    built = build(tmp_path / "good")
    pin_overlays(repo, built.digest)

    (result,) = run_control("IMG-SIZE-BUDGET", repo, image=built.ref)

    assert result.outcome is Outcome.ERROR
    assert result.reason == "TENON_IMAGE_BUDGET_MB='lots': not a whole number of MiB"
