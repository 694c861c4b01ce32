"""The public Sigstore bundles in ../shared/sigstore-data and what they sign.

Tests read them in place (never copied into the repository) and skip with a
clear reason where that folder is absent.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

A_TXT_DIGEST = "sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon"
    "/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
GITHUB_ACTIONS = "https://token.actions.githubusercontent.com"
RFC8785_IDENTITY = (
    "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml"
    "@refs/tags/v0.1.2"
)
PRODUCTION_ROOT_SHA256 = (
    "6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66"
)


def sha256_of(path: Path) -> str:
    return f"sha256:{hashlib.sha256(path.read_bytes()).hexdigest()}"


def _shared_helpers() -> ModuleType:
    """tests/conftest.py under its own name (several folders have a conftest)."""
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
shared_data = _SHARED.shared_data
run_control = _SHARED.run_control
failures = _SHARED.failures
