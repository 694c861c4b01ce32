"""Waivers are valid, approved and current; a bad or expired one fails the run."""

from __future__ import annotations

from tenon_compliance.pytest_plugin import ComplianceRun


def test_waivers_are_well_formed_and_not_expired(compliance_run: ComplianceRun) -> None:
    compliance_run.waivers()  # raises WaiverError naming the file and line
