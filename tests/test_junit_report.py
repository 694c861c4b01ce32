"""The JUnit writer: schema-valid, atomic, and faithful to every outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema

from tenon_compliance.report.junit import CaseRecord, write_junit

SCHEMA = Path(__file__).resolve().parents[1] / "src/tenon_compliance/report/junit.xsd"


def records() -> list[CaseRecord]:
    properties = [("control", "K8S-REPLICAS"), ("clauses", "ORC-2")]
    return [
        CaseRecord(
            "K8S-REPLICAS[dev:Deployment/runtime-api]",
            "compliance.K8S-REPLICAS",
            0.01,
            "passed",
            file="k8s/base/deployment.yaml",
            line=3,
            properties=properties,
        ),
        CaseRecord(
            "K8S-REPLICAS[prod:Deployment/runtime-api]",
            "compliance.K8S-REPLICAS",
            0.02,
            "failed",
            message="replicas 1 < 3",
            text="k8s/overlays/prod/x.yaml:8: ...\x01",
            properties=properties,
        ),
        CaseRecord(
            "IMG-USER[image]",
            "compliance.IMG-USER",
            0.0,
            "skipped",
            message="NOT EVALUATED: no image",
        ),
        CaseRecord("TF[stack:prod]", "compliance.TF", 0.0, "error", message="boom"),
    ]


def write(path: Path) -> None:
    write_junit(
        path,
        records(),
        [("git.commit", "abc"), ("input.sha256:a", "00")],
        suite_name="TENON RFC-16 compliance",
        timestamp="2026-12-03T10:00:00",
        hostname="ci",
    )


def test_report_is_valid_against_the_stored_schema(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "junit.xml"
    write(report)
    xmlschema.XMLSchema(SCHEMA).validate(report)
    text = report.read_text(encoding="utf-8")
    assert 'tests="4" failures="1" errors="1" skipped="1"' in text
    assert '<property name="git.commit" value="abc" />' in text
    assert "\x01" not in text  # control characters cannot travel in XML


def test_schema_rejects_a_testcase_without_a_name(tmp_path: Path) -> None:
    report = tmp_path / "junit.xml"
    write(report)
    broken = report.read_text(encoding="utf-8").replace('name="TF[stack:prod]" ', "")
    report.write_text(broken, encoding="utf-8")
    with pytest.raises(xmlschema.XMLSchemaValidationError, match="name"):
        xmlschema.XMLSchema(SCHEMA).validate(report)


def test_a_failed_write_leaves_the_previous_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = tmp_path / "junit.xml"
    write(report)
    before = report.read_bytes()

    def refuse(*_args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write(report)
    assert report.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["junit.xml"]
