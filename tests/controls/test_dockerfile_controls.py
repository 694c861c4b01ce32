"""The Dockerfile controls: the real Dockerfile passes, realistic edits fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenon_compliance.engine import Outcome
from tests.conftest import failures, run_control

DOCKERFILE = "docker/Dockerfile"
DIGEST = "sha256:" + "b" * 64
CONTROLS = [
    "DOCKER-MULTI-STAGE",
    "DOCKER-RUNTIME-DISTROLESS",
    "DOCKER-BASE-PINNED",
    "DOCKER-USER-NONROOT",
    "DOCKER-RUNTIME-NO-SHELL",
    "DOCKER-NO-BUILD-SECRETS",
    "DOCKER-RUNTIME-NO-TOOLCHAIN",
    "DOCKER-OCI-LABELS",
    "DOCKER-IGNORE",
]


def lines_of(root: Path) -> list[str]:
    return (root / DOCKERFILE).read_text().splitlines()


def line_number(root: Path, text: str) -> int:
    """The 1-based line of the first line that starts with text."""
    for number, line in enumerate(lines_of(root), start=1):
        if line.startswith(text):
            return number
    raise AssertionError(f"{text!r} not in {DOCKERFILE}")


def replace_line(root: Path, starting: str, new: str) -> int:
    """Replace the line starting with ``starting``; return its number."""
    number = line_number(root, starting)
    lines = lines_of(root)
    lines[number - 1] = new
    (root / DOCKERFILE).write_text("\n".join(lines) + "\n")
    return number


def insert_after(root: Path, starting: str, new: str) -> int:
    """Insert a line after the line starting with ``starting``; return its number."""
    number = line_number(root, starting)
    lines = lines_of(root)
    lines.insert(number, new)
    (root / DOCKERFILE).write_text("\n".join(lines) + "\n")
    return number + 1


def the_finding(control: str, root: Path) -> str:
    found = failures(run_control(control, root))
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("control_id", CONTROLS)
def test_real_dockerfile_passes(control_id: str) -> None:
    results = run_control(control_id, Path(__file__).resolve().parents[2])
    assert failures(results) == []
    assert all(result.outcome is Outcome.PASSED for result in results)


def test_env_password_in_runtime_stage_fails_inv_3_2_without_echoing_it(
    repo_copy: Path,
) -> None:
    line = insert_after(repo_copy, "USER ", "ENV DB_PASSWORD=not-a-real-password")
    finding = the_finding("DOCKER-NO-BUILD-SECRETS", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:{line}: [DOCKER-NO-BUILD-SECRETS INV-3.1,INV-3.2,SEC-1] "
        "Dockerfile:runtime: ENV DB_PASSWORD: the name DB_PASSWORD looks like a secret"
    )
    assert "not-a-real-password" not in finding


def test_aws_key_value_in_a_build_arg_fails_sec_1(repo_copy: Path) -> None:
    line = insert_after(repo_copy, "WORKDIR /build", "ARG MIRROR=AKIAABCDEFGHIJKLMNOP")
    finding = the_finding("DOCKER-NO-BUILD-SECRETS", repo_copy)
    assert finding.startswith(f"{DOCKERFILE}:{line}: ")
    assert (
        "Dockerfile:build: ARG MIRROR: the value of MIRROR looks like a credential"
        in (finding)
    )
    assert "AKIA" not in finding


def test_secret_mount_in_the_build_stage_fails_inv_3_2(repo_copy: Path) -> None:
    line = insert_after(
        repo_copy,
        "WORKDIR /build",
        "RUN --mount=type=secret,id=pypi cat /run/secrets/pypi",
    )
    finding = the_finding("DOCKER-NO-BUILD-SECRETS", repo_copy)
    assert finding.startswith(f"{DOCKERFILE}:{line}: ")
    assert "a secret mount injects a secret at build time" in finding


def test_copying_a_dotenv_file_fails_sec_1(repo_copy: Path) -> None:
    line = insert_after(repo_copy, "WORKDIR /build", "COPY .env /build/.env")
    finding = the_finding("DOCKER-NO-BUILD-SECRETS", repo_copy)
    assert finding.startswith(f"{DOCKERFILE}:{line}: ")
    assert "a file that looks like a credential is copied" in finding


def test_slim_runtime_base_fails_con_2(repo_copy: Path) -> None:
    replace_line(
        repo_copy,
        "ARG RUNTIME_BASE_NAME=",
        "ARG RUNTIME_BASE_NAME=python:3.13-slim-trixie",
    )
    line = line_number(repo_copy, "FROM ${RUNTIME_BASE_NAME}")
    finding = the_finding("DOCKER-RUNTIME-DISTROLESS", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:{line}: [DOCKER-RUNTIME-DISTROLESS CON-2,CON-5] "
        "Dockerfile:runtime: the runtime base image is not distroless"
    )


def test_builder_python_other_than_the_runtimes_fails_con_2(repo_copy: Path) -> None:
    replace_line(
        repo_copy, "ARG BUILD_BASE_NAME=", "ARG BUILD_BASE_NAME=python:3.12-slim-trixie"
    )
    line = line_number(repo_copy, "FROM ${BUILD_BASE_NAME}")
    finding = the_finding("DOCKER-RUNTIME-DISTROLESS", repo_copy)
    assert finding.startswith(f"{DOCKERFILE}:{line}: ")
    assert (
        "the build stage's Python (3.12) differs from the runtime's (3.13)" in finding
    )


def test_runtime_base_without_digest_fails_inv_1_2(repo_copy: Path) -> None:
    line = replace_line(
        repo_copy, "FROM ${RUNTIME_BASE_NAME}", "FROM ${RUNTIME_BASE_NAME} AS runtime"
    )
    finding = the_finding("DOCKER-BASE-PINNED", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:{line}: [DOCKER-BASE-PINNED INV-1.2,TST-P2] Dockerfile:runtime: "
        "the base image is not pinned by digest"
    )


def test_placeholder_base_digest_fails_inv_1_2(repo_copy: Path) -> None:
    replace_line(
        repo_copy, "ARG BUILD_BASE_DIGEST=", f"ARG BUILD_BASE_DIGEST=sha256:{'0' * 64}"
    )
    line = line_number(repo_copy, "FROM ${BUILD_BASE_NAME}")
    finding = the_finding("DOCKER-BASE-PINNED", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:{line}: [DOCKER-BASE-PINNED INV-1.2,TST-P2] Dockerfile:build: "
        "the base image's digest is a placeholder, not a real image"
    )


def test_from_an_argument_without_default_fails_inv_1_2(repo_copy: Path) -> None:
    replace_line(repo_copy, "ARG BUILD_BASE_DIGEST=", "ARG BUILD_BASE_DIGEST")
    line = line_number(repo_copy, "FROM ${BUILD_BASE_NAME}")
    finding = the_finding("DOCKER-BASE-PINNED", repo_copy)
    assert finding.startswith(f"{DOCKERFILE}:{line}: ")
    assert "depends on build arguments without a default: BUILD_BASE_DIGEST" in finding


def test_latest_tag_fails_even_with_a_digest(repo_copy: Path) -> None:
    replace_line(
        repo_copy,
        "ARG BUILD_BASE_NAME=",
        "ARG BUILD_BASE_NAME=python:latest",
    )
    finding = the_finding("DOCKER-BASE-PINNED", repo_copy)
    assert "the base image uses :latest" in finding


def test_root_user_fails_con_3(repo_copy: Path) -> None:
    line = replace_line(repo_copy, "USER ", "USER root")
    finding = the_finding("DOCKER-USER-NONROOT", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:{line}: [DOCKER-USER-NONROOT CON-3] Dockerfile:runtime: "
        "the runtime user is not a numeric non-root uid (expected: USER 65532:65532; "
        "found: USER root)"
    )


def test_missing_user_fails_con_3_at_the_runtime_from(repo_copy: Path) -> None:
    replace_line(repo_copy, "USER ", "")
    line = line_number(repo_copy, "FROM ${RUNTIME_BASE_NAME}")
    finding = the_finding("DOCKER-USER-NONROOT", repo_copy)
    assert finding.startswith(f"{DOCKERFILE}:{line}: ")
    assert "the runtime stage sets no USER" in finding


def test_shell_form_entrypoint_fails_con_4(repo_copy: Path) -> None:
    line = replace_line(repo_copy, "ENTRYPOINT ", "ENTRYPOINT python3 -m tenon_probe")
    finding = the_finding("DOCKER-RUNTIME-NO-SHELL", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:{line}: [DOCKER-RUNTIME-NO-SHELL CON-4] Dockerfile:runtime: "
        "shell-form ENTRYPOINT runs through /bin/sh"
    )


def test_run_and_busybox_in_the_runtime_stage_fail_con_4(repo_copy: Path) -> None:
    run = insert_after(repo_copy, "COPY --from=build", "RUN echo hello")
    copy = insert_after(
        repo_copy, "RUN echo hello", "COPY --from=build /bin/busybox /b"
    )
    found = failures(run_control("DOCKER-RUNTIME-NO-SHELL", repo_copy))
    assert [line.split(" ")[0] for line in found] == [
        f"{DOCKERFILE}:{run}:",
        f"{DOCKERFILE}:{copy}:",
    ]
    assert "RUN in the runtime stage needs a shell" in found[0]
    assert "a shell is copied into the runtime stage" in found[1]


def test_single_stage_dockerfile_fails_con_1(repo_copy: Path) -> None:
    (repo_copy / DOCKERFILE).write_text(
        f"FROM python:3.13-slim@{DIGEST}\nUSER 65532\n"
        'ENTRYPOINT ["python3", "-m", "tenon_probe"]\n'
    )
    finding = the_finding("DOCKER-MULTI-STAGE", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:1: [DOCKER-MULTI-STAGE CON-1,INV-3.1] "
        f"Dockerfile:{DOCKERFILE}: the Dockerfile has a single stage"
    )


def test_runtime_copy_from_the_build_context_fails_con_1(repo_copy: Path) -> None:
    line = insert_after(repo_copy, "COPY --from=build", "COPY src/tenon_probe /app")
    finding = the_finding("DOCKER-MULTI-STAGE", repo_copy)
    assert finding.startswith(f"{DOCKERFILE}:{line}: ")
    assert "the runtime stage takes files from outside the earlier stages" in finding


def test_pip_copied_into_the_runtime_fails_inv_3_1(repo_copy: Path) -> None:
    line = insert_after(
        repo_copy, "COPY --from=build", "COPY --from=build /usr/local/bin/pip /usr/bin/"
    )
    finding = the_finding("DOCKER-RUNTIME-NO-TOOLCHAIN", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:{line}: [DOCKER-RUNTIME-NO-TOOLCHAIN INV-3.1,CON-5] "
        "Dockerfile:runtime: the build tool pip is copied into the runtime stage"
    )


def test_missing_revision_label_fails_flow_3(repo_copy: Path) -> None:
    replace_line(
        repo_copy,
        "      org.opencontainers.image.revision=",
        "      org.opencontainers.image.vendor=tenon \\",
    )
    line = line_number(repo_copy, "FROM ${RUNTIME_BASE_NAME}")
    finding = the_finding("DOCKER-OCI-LABELS", repo_copy)
    assert finding.startswith(
        f"{DOCKERFILE}:{line}: [DOCKER-OCI-LABELS FLOW-3,TST-F2] Dockerfile:runtime: "
        "the runtime stage has no org.opencontainers.image.revision label"
    )


def test_literal_version_label_fails_flow_3(repo_copy: Path) -> None:
    replace_line(
        repo_copy,
        "      org.opencontainers.image.version=",
        '      org.opencontainers.image.version="1.0" \\',
    )
    line = line_number(repo_copy, "LABEL ")
    finding = the_finding("DOCKER-OCI-LABELS", repo_copy)
    assert finding.startswith(f"{DOCKERFILE}:{line}: ")
    assert "version label is not set from a build ARG" in finding


def test_missing_dockerignore_fails_con_5(repo_copy: Path) -> None:
    (repo_copy / ".dockerignore").unlink()
    finding = the_finding("DOCKER-IGNORE", repo_copy)
    assert finding.startswith(
        ".dockerignore:1: [DOCKER-IGNORE CON-5,SEC-1] .dockerignore: "
        "the build context has no .dockerignore"
    )


def test_dockerignore_that_keeps_state_and_env_files_fails_sec_1(
    repo_copy: Path,
) -> None:
    (repo_copy / ".dockerignore").write_text(".git\ninfra/\nk8s/\n*.tfstate\n")
    finding = the_finding("DOCKER-IGNORE", repo_copy)
    assert finding.startswith(".dockerignore:4: ")
    assert "not excluded: docker/terraform.tfstate, .env, src/.env" in finding


def test_unparsable_dockerfile_is_an_error_naming_file_and_line(
    repo_copy: Path,
) -> None:
    line = insert_after(repo_copy, "WORKDIR /build", "RUNN make")
    results = run_control("DOCKER-USER-NONROOT", repo_copy)
    assert [result.outcome for result in results] == [Outcome.ERROR]
    assert results[0].reason == (f"{DOCKERFILE}:{line}: unknown instruction 'RUNN'")


def test_no_dockerfile_at_all_fails_instead_of_passing(repo_copy: Path) -> None:
    (repo_copy / DOCKERFILE).unlink()
    results = run_control("DOCKER-USER-NONROOT", repo_copy)
    assert [result.outcome for result in results] == [Outcome.FAILED]
    assert "selected no subject" in results[0].reason
