"""The control registry.

A control is a plain function over one subject that yields violations,
registered with its metadata and with the selector that finds its subjects::

    @control(
        id="K8S-REPLICAS-MIN",
        title="The runtime API runs at least two replicas",
        clauses=("ORC-2",),
        severity=Severity.HIGH,
        method=Method.STATIC,
        rationale="RFC-16 asks for more than one replica of the runtime API.",
        remedy="Set spec.replicas to 2 or more (3 or more in prod).",
        subjects=runtime_deployments,
    )
    def runtime_api_replicas(subject: Subject, evidence: Evidence) -> Iterator[...]:
        ...

The selector raises ``EvidenceMissingError`` when the evidence it needs was not
given (the control is then *not evaluated*) and ``LoadError`` when an input
could not be parsed (the control then *errors*). A selector that returns no
subject makes the control fail: an empty selection is never a pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenon_compliance.errors import CatalogError
from tenon_compliance.model import Method, Severity, Subject, Violation

if TYPE_CHECKING:
    from tenon_compliance.evidence import Evidence

Selector = Callable[["Evidence"], Iterable[Subject]]
Check = Callable[[Subject, "Evidence"], Iterable[Violation]]


@dataclass(frozen=True)
class Control:
    """A registered control: metadata, subject selector and check."""

    id: str
    title: str
    clauses: tuple[str, ...]
    severity: Severity
    method: Method
    rationale: str
    remedy: str
    select: Selector
    check: Check


_REGISTRY: dict[str, Control] = {}


def control(
    *,
    id: str,
    title: str,
    clauses: tuple[str, ...],
    severity: Severity,
    method: Method,
    rationale: str,
    remedy: str,
    subjects: Selector,
) -> Callable[[Check], Check]:
    """Register the decorated check as control ``id``.

    Raises CatalogError when the id is taken or no clause is named.
    """

    def register(check: Check) -> Check:
        if id in _REGISTRY:
            raise CatalogError(f"control {id} is registered twice")
        if not clauses:
            raise CatalogError(f"control {id} names no RFC-16 clause")
        _REGISTRY[id] = Control(
            id=id,
            title=title,
            clauses=clauses,
            severity=severity,
            method=method,
            rationale=rationale,
            remedy=remedy,
            select=subjects,
            check=check,
        )
        return check

    return register


def all_controls() -> list[Control]:
    """Every registered control, sorted by id, with every control module imported."""
    # Imported here, not at the top: the control modules import this one.
    import tenon_compliance.controls  # noqa: F401, PLC0415 - registers the controls

    return [_REGISTRY[key] for key in sorted(_REGISTRY)]
