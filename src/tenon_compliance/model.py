"""The shared vocabulary: locations, subjects, violations and findings.

- A *control* examines *subjects* (a Deployment in one overlay, a Terraform
  stack, a CI job, an image) taken from the *evidence* (the loaded inputs).
- A control's check yields *violations*; the engine turns each one into a
  *finding* that names the control, the subject and the clause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


@dataclass(frozen=True, order=True)
class Location:
    """A place in the repository: a path relative to the root and a 1-based line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


@dataclass(frozen=True)
class Unknown:
    """A value that could not be resolved statically, with the reason.

    Security controls treat an unknown value as a violation, never as a pass.
    """

    reason: str

    def __str__(self) -> str:
        return f"<unknown: {self.reason}>"


@dataclass(frozen=True)
class Subject:
    """One thing a control examines.

    ``id`` is what people read in test ids and reports, for example
    ``prod:Deployment/runtime-api`` or ``stack:prod``.
    """

    id: str
    location: Location
    data: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Violation:
    """What a control's check yields: where, what was found, what was expected."""

    location: Location
    message: str
    expected: str
    actual: str


@dataclass(frozen=True)
class Finding:
    """A violation attributed to a control and a subject."""

    control: str
    clauses: tuple[str, ...]
    subject: str
    location: Location
    message: str
    expected: str
    actual: str
    remedy: str

    def line(self) -> str:
        """The one-line form shown in the terminal and in reports."""
        return (
            f"{self.location}: [{self.control} {','.join(self.clauses)}] "
            f"{self.subject}: {self.message} (expected: {self.expected}; "
            f"found: {self.actual}) fix: {self.remedy}"
        )


class Method(StrEnum):
    """How a control proves its clauses (see the clause index)."""

    STATIC = "static"
    IMAGE = "image"
    RUNTIME = "runtime"
    LIVE = "live"


class Severity(StrEnum):
    """How bad a failure of the control is."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
