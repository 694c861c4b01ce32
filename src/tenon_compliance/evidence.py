"""The evidence: every input of one run, loaded once, on first use.

Each loader is called at most once per run; its result, or the error it
raised, is kept, so a broken file is parsed once and reported by every
control that needs it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tenon_compliance.errors import (
    ComplianceError,
    EvidenceMissingError,
    LoadError,
)

T = TypeVar("T")

ENVIRONMENTS = ("dev", "stage", "prod")


@dataclass(frozen=True)
class Options:
    """What the caller supplied besides the repository itself."""

    root: Path
    image: str | None = None
    signature_bundle: Path | None = None
    trusted_root: Path | None = None
    revision: str | None = None
    strict: bool = False


@dataclass
class Evidence:
    """The loaded inputs of one run, shared by every control."""

    options: Options
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)
    _inputs: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def root(self) -> Path:
        return self.options.root

    def load(self, name: str, loader: Callable[[Evidence], T]) -> T:
        """Return ``loader(self)``, computed once; a raised error is re-raised.

        Raises whatever the loader raised, the same exception on every call.
        """
        if name not in self._memo:
            try:
                self._memo[name] = ("ok", loader(self))
            except ComplianceError as error:
                self._memo[name] = ("error", error)
        status, value = self._memo[name]
        if status == "error":
            raise value
        return value  # type: ignore[no-any-return]

    def require(self, what: str, value: T | None, reason: str) -> T:
        """Return value, or raise EvidenceMissingError(reason) when it is None."""
        if value is None:
            raise EvidenceMissingError(f"{what} not evaluated: {reason}")
        return value

    def read_bytes(self, relative: str) -> bytes:
        """Read a file under the root and record its sha256 as an input of the run.

        Raises LoadError when the path (through a symlink, or ``..``) leads
        outside the root, or when the file cannot be read: the suite judges
        the repository's files only, never what a link points at elsewhere.
        """
        path = self.root / relative
        resolved = path.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise LoadError(
                relative, None, f"leads outside the repository (to {resolved})"
            )
        try:
            data = path.read_bytes()
        except OSError as error:
            raise LoadError(relative, None, f"cannot be read: {error}") from error
        self._inputs[relative] = hashlib.sha256(data).hexdigest()
        return data

    def record_input(self, relative: str, data: bytes) -> None:
        """Record a file read by other means (a tool such as kustomize read it)."""
        self._inputs[relative] = hashlib.sha256(data).hexdigest()

    @property
    def inputs(self) -> dict[str, str]:
        """Every file read so far, relative path to sha256, sorted by path."""
        return dict(sorted(self._inputs.items()))
