"""Writes the run's evidence as JUnit XML, the format GitLab shows on a merge request.

Each testcase carries its control's properties (control, clauses, severity,
subject, file, line, outcome); the suite carries the run's provenance (git
commit, sha256 of every input file, tool versions, catalog version). The file
is written to a temporary name and renamed, so a reader never sees half of it.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

# Characters XML 1.0 cannot carry; tool output may contain them.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd]")


@dataclass
class CaseRecord:
    """One testcase as it will appear in the report."""

    name: str
    classname: str
    time: float
    outcome: str  # passed, failed, error, skipped
    message: str = ""
    text: str = ""
    file: str | None = None
    line: int | None = None
    properties: list[tuple[str, str]] = field(default_factory=list)


def write_junit(
    path: Path,
    cases: Iterable[CaseRecord],
    suite_properties: Iterable[tuple[str, str]],
    *,
    suite_name: str,
    timestamp: str,
    hostname: str,
) -> None:
    """Write the report atomically to path (its folder is created if needed)."""
    records = list(cases)
    counts = Counter(record.outcome for record in records)
    total_time = f"{sum(record.time for record in records):.3f}"
    totals = {
        "tests": str(len(records)),
        "failures": str(counts["failed"]),
        "errors": str(counts["error"]),
        "skipped": str(counts["skipped"]),
        "time": total_time,
    }

    root = ET.Element("testsuites", {"name": suite_name, **totals})
    suite = ET.SubElement(
        root,
        "testsuite",
        {"name": suite_name, **totals, "timestamp": timestamp, "hostname": hostname},
    )
    _properties(suite, suite_properties)
    for record in records:
        _testcase(suite, record)

    ET.indent(root)
    payload = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    _write_atomically(path, payload)


def _testcase(suite: ET.Element, record: CaseRecord) -> None:
    attributes = {
        "classname": record.classname,
        "name": _clean(record.name),
        "time": f"{record.time:.3f}",
    }
    if record.file:
        attributes["file"] = record.file
    if record.line:
        attributes["line"] = str(record.line)
    case = ET.SubElement(suite, "testcase", attributes)
    _properties(case, record.properties)
    if record.outcome in ("failed", "error", "skipped"):
        tag = {"failed": "failure", "error": "error", "skipped": "skipped"}
        detail = ET.SubElement(
            case, tag[record.outcome], {"message": _clean(record.message)[:1024]}
        )
        if record.text:
            detail.text = _clean(record.text)


def _properties(parent: ET.Element, properties: Iterable[tuple[str, str]]) -> None:
    items = list(properties)
    if not items:
        return
    holder = ET.SubElement(parent, "properties")
    for name, value in items:
        ET.SubElement(holder, "property", {"name": name, "value": _clean(str(value))})


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _write_atomically(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".junit-", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
