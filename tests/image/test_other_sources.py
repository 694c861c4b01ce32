"""Layouts written by other tools (umoci, skopeo), and the Docker daemon source."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from image_builders import CONFIG, build

from tenon_compliance.errors import ImageError
from tenon_compliance.image import open_image

UMOCI = shutil.which("umoci")
SKOPEO = shutil.which("skopeo")


@pytest.mark.skipif(UMOCI is None, reason="umoci is not installed")
def test_layout_written_by_umoci_is_read(tmp_path: Path) -> None:
    layout = tmp_path / "umoci"
    subprocess.run([UMOCI, "init", "--layout", layout], check=True)
    subprocess.run([UMOCI, "new", "--image", f"{layout}:runtime"], check=True)
    subprocess.run(
        [
            UMOCI,
            "config",
            "--image",
            f"{layout}:runtime",
            "--config.user",
            "65532:65532",
            "--config.label",
            "org.opencontainers.image.source=https://x",
        ],
        check=True,
    )

    image = open_image(f"oci:{layout}")

    assert image.config.user == "65532:65532"
    assert image.config.labels == {"org.opencontainers.image.source": "https://x"}


@pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")
def test_archive_written_by_skopeo_is_read(tmp_path: Path) -> None:
    built = build(tmp_path / "good")
    archive = tmp_path / "image.tar"
    subprocess.run(
        [
            SKOPEO,
            "copy",
            "--quiet",
            "--preserve-digests",
            f"oci:{built.path}",
            f"oci-archive:{archive}",
        ],
        check=True,
    )

    image = open_image(f"oci-archive:{archive}")

    assert image.digest == built.digest


def test_docker_source_without_a_daemon_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-daemon.sock")

    with pytest.raises(
        ImageError,
        match=r"docker:runtime-api: no Docker daemon "
        r"answers",
    ):
        open_image("docker:runtime-api")


def _daemon_answers() -> bool:
    try:
        import docker  # noqa: PLC0415

        docker.from_env().ping()
    except Exception:  # noqa: BLE001 - any failure means: no usable daemon here
        return False
    return True


@pytest.mark.skipif(not _daemon_answers(), reason="no Docker daemon runs here")
def test_image_loaded_into_the_daemon_is_read(tmp_path: Path) -> None:
    built = build(tmp_path / "good")
    archive = tmp_path / "image.tar"
    subprocess.run(
        [
            SKOPEO,
            "copy",
            "--quiet",
            f"oci:{built.path}",
            f"docker-archive:{archive}:tenon/runtime-api:test",
        ],
        check=True,
    )
    subprocess.run(
        ["docker", "load", "--input", archive], check=True, capture_output=True
    )

    image = open_image("docker:tenon/runtime-api:test")

    assert image.config.user == "65532:65532"
    assert image.config.labels == CONFIG["Labels"]
    paths = {entry.path for layer in image.layers for entry in layer.entries()}
    assert "app/tenon_probe/__main__.py" in paths
