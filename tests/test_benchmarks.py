"""The benchmark estate generator: compliant estates pass, seeded ones fail exactly.

Every control runs in-process over a small generated estate. The estate is a
copy of the real repository plus generated services, so whatever the real
repository fails today (work in progress elsewhere) fails in the estate too:
the comparison is against the real repository's own findings, and the
generated part must add nothing but the seeded violations.
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from tenon_compliance.controls.base import all_controls
from tenon_compliance.engine import Outcome, cases, run_case
from tenon_compliance.evidence import Evidence, Options

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import generate_estate  # noqa: E402 - benchmarks/ is not a package

Key = tuple[str, str, str]


def findings_of(root: Path) -> Counter[Key]:
    """(control, subject, file) of every finding and every failing case at root."""
    evidence = Evidence(Options(root=root))
    found: Counter[Key] = Counter()
    for control in all_controls():
        for case in cases(control, evidence):
            result = run_case(case, evidence)
            if result.outcome not in (Outcome.FAILED, Outcome.ERROR):
                continue
            subject = case.subject.id if case.subject else case.id
            found.update(
                (finding.control, subject, finding.location.file)
                for finding in result.findings
            )
            if not result.findings:
                found[(control.id, subject, result.reason)] += 1
    return found


@pytest.fixture(scope="module")
def real_findings() -> Counter[Key]:
    return findings_of(REPO)


def test_compliant_estate_adds_no_finding_to_the_real_repository(
    tmp_path: Path, real_findings: Counter[Key]
) -> None:
    estate = generate_estate.generate(0, tmp_path / "estate", violations=0)

    found = findings_of(tmp_path / "estate")

    assert estate.services == 1
    assert found - real_findings == Counter()
    assert real_findings - found == Counter()


def test_seeded_estate_fails_with_exactly_the_seeded_findings(
    tmp_path: Path, real_findings: Counter[Key]
) -> None:
    kinds = len(generate_estate.KINDS)
    estate = generate_estate.generate(0, tmp_path / "estate", violations=kinds)

    found = findings_of(tmp_path / "estate")

    expected = Counter(
        (item.control, item.subject, item.file)
        for seeded in estate.violations
        for item in seeded.findings
    )
    assert sorted(seeded.kind for seeded in estate.violations) == sorted(
        generate_estate.KINDS
    )
    assert found - real_findings == expected
    assert real_findings - found == Counter()


def test_objects_are_counted_per_service_and_written_to_the_manifest(
    tmp_path: Path,
) -> None:
    one = generate_estate.generate(0, tmp_path / "one")
    three = generate_estate.generate(
        one.objects["kubernetes"] + one.objects["terraform"] + 200,
        tmp_path / "three",
    )

    grown = {kind: three.objects[kind] - one.objects[kind] for kind in one.objects}
    added = three.services - one.services
    manifest = json.loads((tmp_path / "three" / "estate.json").read_text())

    assert added >= 1
    assert grown["kubernetes"] == generate_estate.K8S_PER_SERVICE * added
    assert grown["dockerfiles"] == added
    per_service = generate_estate.per_service_terraform(tmp_path / "three")
    assert grown["terraform"] == per_service * added
    assert manifest["objects"]["total"] == sum(three.objects.values())


def test_more_violations_than_services_can_carry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(generate_estate.EstateError, match="violations need 2 services"):
        generate_estate.generate(0, tmp_path / "estate", violations=10)


def test_an_existing_output_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(generate_estate.EstateError, match="already exists"):
        generate_estate.generate(0, tmp_path)
