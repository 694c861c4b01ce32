"""Source: an image in the local Docker daemon (``docker:ID``), via the docker SDK.

The image is exported with ``docker save`` into a temporary file and read as an
OCI layout archive (Docker 25 and later write one). Where no daemon answers,
the error says so; nothing falls back silently.
"""

from __future__ import annotations

import importlib
import tempfile
from pathlib import Path
from typing import Any

from tenon_compliance.errors import ImageError
from tenon_compliance.image.archive import ArchiveSource, open_archive
from tenon_compliance.image.model import Descriptor

SAVE_LIMIT = 4 * 1024 * 1024 * 1024


def open_daemon(
    image_id: str, workdir: Path | None = None
) -> tuple[ArchiveSource, Descriptor]:
    """Export ``image_id`` from the daemon and open it as an archive.

    Raises ImageError when the docker SDK is missing, no daemon answers, the
    image is unknown, or the export holds no OCI layout.
    """
    name = f"docker:{image_id}"
    try:
        # imported by name: the docker SDK is optional, and the repository's own
        # docker/ folder would shadow it for static analysis
        docker: Any = importlib.import_module("docker")
        importlib.import_module("docker.errors")
    except ImportError as error:
        raise ImageError(
            f"{name}: the docker Python package is not installed"
        ) from error

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as error:
        raise ImageError(f"{name}: no Docker daemon answers ({error})") from error

    with tempfile.NamedTemporaryFile(
        dir=workdir, prefix="docker-save-", suffix=".tar", delete=False
    ) as sink:
        try:
            written = 0
            for chunk in client.images.get(image_id).save(named=False):
                written += len(chunk)
                if written > SAVE_LIMIT:
                    raise ImageError(f"{name}: export exceeds {SAVE_LIMIT} bytes")
                sink.write(chunk)
        except docker.errors.DockerException as error:
            raise ImageError(f"{name}: export failed ({error})") from error
        finally:
            client.close()
    path = Path(sink.name)
    try:
        return open_archive(path)
    except ImageError as error:
        raise ImageError(
            f"{name}: the daemon's export is not an OCI layout ({error}); "
            "Docker 25 or later is needed"
        ) from error
