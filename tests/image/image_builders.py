"""Test images, written as OCI layouts by the suite's own writer.

``good_image`` is distroless-like: no shell, user 65532, the provenance labels.
Each ``bad`` variant changes one thing, so a test shows one control failing.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from tenon_compliance.image.model import Descriptor
from tenon_compliance.image.writer import Entry, LayoutWriter, layer_tar

DISTROLESS_DIGEST = (
    "sha256:774595d652a294b54c9bd575b2d9fdd1a4b47547dc17b8bfa4c0e953c64855b3"
)
REVISION = "4f1c2a9e0b7d3c5a6e8f9a0b1c2d3e4f5a6b7c8d"
ELF = b"\x7fELF\x02\x01\x01" + bytes(57)

BASE_LAYER = [
    Entry("etc/", kind="dir", mode=0o755),
    Entry(
        "etc/passwd",
        b"root:x:0:0:root:/root:/sbin/nologin\n"
        b"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n",
    ),
    Entry("usr/", kind="dir", mode=0o755),
    Entry("usr/bin/", kind="dir", mode=0o755),
    Entry("usr/bin/python3.13", ELF, mode=0o755),
    Entry("usr/bin/python3", kind="symlink", link="python3.13", mode=0o777),
    Entry("usr/lib/python3.13/os.py", b"# os\n"),
    Entry("home/nonroot/", kind="dir", mode=0o700, uid=65532, gid=65532),
]
APP_LAYER = [
    Entry("app/", kind="dir", mode=0o755),
    Entry("app/tenon_probe/__init__.py", b""),
    Entry("app/tenon_probe/__main__.py", b"print('probe')\n"),
]
CONFIG: dict[str, Any] = {
    "User": "65532:65532",
    "Env": [
        "PATH=/usr/local/bin:/usr/bin",
        "PYTHONPATH=/app",
        "TENON_SECRETS_DIR=/var/run/secrets/tenon",
    ],
    "Entrypoint": ["python3", "-m", "tenon_probe"],
    "Labels": {
        "org.opencontainers.image.source": "https://gitlab.com/tenon/runtime",
        "org.opencontainers.image.revision": REVISION,
        "org.opencontainers.image.base.digest": DISTROLESS_DIGEST,
    },
}
HISTORY = [
    "FROM gcr.io/distroless/python3-debian13:nonroot",
    "COPY /app /app # buildkit",
    "USER 65532:65532",
]


@dataclasses.dataclass(frozen=True)
class Built:
    """A written layout: its path, manifest descriptor and the ``oci:`` ref."""

    path: Path
    manifest: Descriptor

    @property
    def ref(self) -> str:
        return f"oci:{self.path}"

    @property
    def digest(self) -> str:
        return self.manifest.digest


def build(
    path: Path,
    *,
    layers: list[list[Entry]] | None = None,
    config: dict[str, Any] | None = None,
    history: list[str] | None = None,
) -> Built:
    """Write an image layout at path (the good image unless told otherwise)."""
    writer = LayoutWriter(path)
    tars = [layer_tar(layer) for layer in (layers or [BASE_LAYER, APP_LAYER])]
    manifest = writer.image(
        tars, config or CONFIG, HISTORY if history is None else history
    )
    writer.index([manifest])
    return Built(path, manifest)


def with_config(**changes: Any) -> dict[str, Any]:
    """The good config with some keys replaced."""
    return {**CONFIG, **changes}


def with_labels(**changes: str | None) -> dict[str, Any]:
    """The good config with labels changed (None removes one)."""
    labels = dict(CONFIG["Labels"])
    for key, value in changes.items():
        name = key.replace("_", ".")
        if value is None:
            labels.pop(name, None)
        else:
            labels[name] = value
    return with_config(Labels=labels)


def _shared_helpers() -> ModuleType:
    """tests/conftest.py loaded under its own name.

    Several test folders have a conftest.py, so ``import conftest`` would give
    whichever was imported first; loading it by path avoids the ambiguity.
    """
    name = "tenon_tests_shared_helpers"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "conftest.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_SHARED = _shared_helpers()
run_control = _SHARED.run_control
failures = _SHARED.failures
shared_data = _SHARED.shared_data
