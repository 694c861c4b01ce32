"""Waivers: a person's signed-off exception for one control on one subject.

``compliance/waivers.yaml`` holds a list under ``waivers:``; each entry names
the control, the subject (exactly, or a glob such as ``dev:*``), the reason,
the approver and the expiry date. A malformed file, a malformed entry or an
expired waiver is a WaiverError: it fails the run rather than being ignored.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass
from pathlib import Path

import yaml

from tenon_compliance.errors import WaiverError

WAIVERS_FILE = "compliance/waivers.yaml"
_FIELDS = ("control", "subject", "reason", "approver", "expiry")


@dataclass(frozen=True)
class Waiver:
    """One accepted exception, valid up to and including its expiry date."""

    control: str
    subject: str
    reason: str
    approver: str
    expiry: dt.date
    line: int

    def matches(self, control: str, subject: str) -> bool:
        return self.control == control and fnmatch.fnmatchcase(subject, self.subject)

    def describe(self) -> str:
        return (
            f"waived by {self.approver} until {self.expiry.isoformat()}: {self.reason}"
        )


def load_waivers(root: Path, today: dt.date | None = None) -> list[Waiver]:
    """Read the waivers of the repository at root; no file means no waiver.

    Raises WaiverError (message starting with the file and line) for malformed
    content and for any waiver whose expiry date has passed.
    """
    path = root / WAIVERS_FILE
    if not path.exists():
        return []
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        line = getattr(getattr(error, "problem_mark", None), "line", None)
        where = f"{WAIVERS_FILE}:{line + 1}" if line is not None else WAIVERS_FILE
        raise WaiverError(f"{where}: not valid YAML: {error}") from error

    entries = _entries(node)
    today = today or dt.date.today()
    waivers = [_waiver(entry) for entry in entries]
    for waiver in waivers:
        if waiver.expiry < today:
            raise WaiverError(
                f"{WAIVERS_FILE}:{waiver.line}: waiver for {waiver.control} on "
                f"{waiver.subject} expired on {waiver.expiry.isoformat()}; renew it "
                "with a new approval or fix the finding"
            )
    return waivers


def _entries(node: yaml.Node | None) -> list[yaml.MappingNode]:
    if node is None:
        return []
    top = _mapping(node, "the file")
    waivers = top.get("waivers")
    if waivers is None or (isinstance(waivers, yaml.ScalarNode) and not waivers.value):
        return []
    if not isinstance(waivers, yaml.SequenceNode):
        raise WaiverError(f"{_where(waivers)}: 'waivers' must be a list")
    for entry in waivers.value:
        _mapping(entry, "a waiver")
    return list(waivers.value)


def _mapping(node: yaml.Node, what: str) -> dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise WaiverError(f"{_where(node)}: {what} must be a mapping")
    keys = [key.value for key, _ in node.value]
    for key in keys:
        if keys.count(key) > 1:
            raise WaiverError(f"{_where(node)}: key {key!r} appears twice")
    return {key.value: value for key, value in node.value}


def _waiver(node: yaml.MappingNode) -> Waiver:
    fields = _mapping(node, "a waiver")
    unknown = sorted(set(fields) - set(_FIELDS))
    missing = [name for name in _FIELDS if name not in fields]
    if unknown or missing:
        raise WaiverError(
            f"{_where(node)}: a waiver needs exactly {', '.join(_FIELDS)}"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
        )
    values = {}
    for name in _FIELDS:
        value = fields[name]
        if not isinstance(value, yaml.ScalarNode) or not str(value.value).strip():
            raise WaiverError(f"{_where(value)}: {name} must be a non-empty value")
        values[name] = str(value.value).strip()
    try:
        expiry = dt.date.fromisoformat(values["expiry"])
    except ValueError as error:
        raise WaiverError(
            f"{_where(fields['expiry'])}: expiry must be a date YYYY-MM-DD"
        ) from error
    return Waiver(
        control=values["control"],
        subject=values["subject"],
        reason=values["reason"],
        approver=values["approver"],
        expiry=expiry,
        line=node.start_mark.line + 1,
    )


def _where(node: yaml.Node) -> str:
    return f"{WAIVERS_FILE}:{node.start_mark.line + 1}"
