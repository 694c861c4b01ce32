"""The control catalog: RFC-16's clauses, each joined to the controls that prove it.

The clause list lives in ``clauses.yaml`` beside this file (with the RFC text
in ``RFC-16.md``); the controls carry their own metadata where they are
registered. A clause is *proven* when at least one control names it; a clause
that no control proves must say why in ``clauses.yaml`` (``not_proven:``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from tenon_compliance.controls.base import Control, all_controls
from tenon_compliance.errors import CatalogError

CLAUSES_FILE = "clauses.yaml"


@dataclass(frozen=True)
class Clause:
    """One normative statement of RFC-16 and what proves it."""

    id: str
    section: str
    text: str
    controls: tuple[str, ...]
    not_proven: str | None

    @property
    def status(self) -> str:
        """``proven``, ``not-proven`` or ``unmapped`` (no control and no reason)."""
        if self.controls:
            return "proven"
        return "not-proven" if self.not_proven else "unmapped"


@dataclass(frozen=True)
class Catalog:
    """Every clause, every control, and a version that changes with either."""

    version: str
    clauses: tuple[Clause, ...]
    controls: tuple[Control, ...]

    def problems(self) -> list[str]:
        """What breaks traceability: unmapped clauses, stale reasons, unknown ids."""
        known = {clause.id for clause in self.clauses}
        found = [
            f"control {control.id} names unknown clause {clause}"
            for control in self.controls
            for clause in control.clauses
            if clause not in known
        ]
        for clause in self.clauses:
            if clause.status == "unmapped":
                found.append(
                    f"clause {clause.id} has no control and no not_proven reason"
                )
            if clause.controls and clause.not_proven:
                found.append(
                    f"clause {clause.id} is proven by {', '.join(clause.controls)} "
                    "but still carries a not_proven reason"
                )
        return found

    def to_json(self) -> dict[str, Any]:
        """The catalog as ``tenon-compliance catalog --format json`` prints it."""
        by_id = {control.id: control for control in self.controls}
        return {
            "version": self.version,
            "clauses": [
                {
                    "id": clause.id,
                    "section": clause.section,
                    "text": clause.text,
                    "status": clause.status,
                    "reason": clause.not_proven,
                    "controls": [_control_json(by_id[c]) for c in clause.controls],
                }
                for clause in self.clauses
            ],
        }


def _control_json(control: Control) -> dict[str, Any]:
    return {
        "id": control.id,
        "title": control.title,
        "clauses": list(control.clauses),
        "severity": control.severity.value,
        "method": control.method.value,
        "rationale": control.rationale,
        "remedy": control.remedy,
    }


def load_catalog() -> Catalog:
    """Join clauses.yaml with the registered controls.

    Raises CatalogError when clauses.yaml is malformed.
    """
    raw = resources.files(__name__).joinpath(CLAUSES_FILE).read_bytes()
    try:
        document = yaml.safe_load(raw)
        entries = document["clauses"]
    except (yaml.YAMLError, KeyError, TypeError) as error:
        raise CatalogError(f"{CLAUSES_FILE}: malformed clause catalog") from error

    controls = tuple(all_controls())
    clauses = tuple(_clause(entry, controls) for entry in entries)
    return Catalog(_version(document, raw, controls), clauses, controls)


def _clause(entry: dict[str, Any], controls: tuple[Control, ...]) -> Clause:
    try:
        clause_id = str(entry["id"])
        return Clause(
            id=clause_id,
            section=str(entry["section"]),
            text=str(entry["text"]),
            controls=tuple(c.id for c in controls if clause_id in c.clauses),
            not_proven=entry.get("not_proven"),
        )
    except (KeyError, TypeError) as error:
        raise CatalogError(
            f"{CLAUSES_FILE}: malformed clause entry {entry!r}"
        ) from error


def _version(
    document: dict[str, Any], raw: bytes, controls: tuple[Control, ...]
) -> str:
    """``<schema version>+<digest>``; the digest covers clauses and controls."""
    digest = hashlib.sha256(raw)
    for control in controls:
        digest.update(json.dumps(_control_json(control), sort_keys=True).encode())
    return f"{document.get('version', 0)}+{digest.hexdigest()[:12]}"
