"""Waivers: well-formed ones apply; malformed or expired ones fail, naming the line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tenon_compliance.errors import WaiverError
from tenon_compliance.waivers import load_waivers

TODAY = dt.date(2026, 12, 3)
VALID = """\
waivers:
  - control: K8S-REPLICAS
    subject: "dev:*"
    reason: one replica while the dev cluster is rebuilt
    approver: jane.doe
    expiry: 2027-01-31
"""


def write(root: Path, text: str) -> Path:
    path = root / "compliance" / "waivers.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return root


def test_repository_waivers_file_is_valid_and_empty() -> None:
    assert load_waivers(Path(__file__).resolve().parents[1], TODAY) == []


def test_missing_file_means_no_waiver(tmp_path: Path) -> None:
    assert load_waivers(tmp_path, TODAY) == []


def test_valid_waiver_matches_its_control_and_subject_glob(tmp_path: Path) -> None:
    (waiver,) = load_waivers(write(tmp_path, VALID), TODAY)
    assert waiver.matches("K8S-REPLICAS", "dev:Deployment/runtime-api")
    assert not waiver.matches("K8S-REPLICAS", "prod:Deployment/runtime-api")
    assert not waiver.matches("K8S-PROBES", "dev:Deployment/runtime-api")
    assert waiver.describe() == (
        "waived by jane.doe until 2027-01-31: one replica while the dev cluster "
        "is rebuilt"
    )


def test_waiver_is_valid_on_its_expiry_day(tmp_path: Path) -> None:
    assert load_waivers(write(tmp_path, VALID), dt.date(2027, 1, 31))


def test_expired_waiver_fails_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(
        WaiverError,
        match=r"^compliance/waivers.yaml:2: waiver for K8S-REPLICAS on dev:\* "
        r"expired on 2027-01-31",
    ):
        load_waivers(write(tmp_path, VALID), dt.date(2027, 2, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            VALID.replace("    approver: jane.doe\n", ""),
            r"^compliance/waivers.yaml:2: a waiver needs exactly .*; missing approver$",
            id="missing-approver",
        ),
        pytest.param(
            VALID.replace("expiry: 2027-01-31", "expiry: soon"),
            r"^compliance/waivers.yaml:6: expiry must be a date YYYY-MM-DD$",
            id="expiry-not-a-date",
        ),
        pytest.param(
            VALID.replace(
                "reason: one replica while the dev cluster is rebuilt", 'reason: ""'
            ),
            r"^compliance/waivers.yaml:4: reason must be a non-empty value$",
            id="empty-reason",
        ),
        pytest.param(
            VALID + "    owner: someone\n",
            r"unknown owner$",
            id="unknown-field",
        ),
        pytest.param(
            VALID + "    control: K8S-PROBES\n",
            r"^compliance/waivers.yaml:2: key 'control' appears twice$",
            id="duplicate-key",
        ),
        pytest.param(
            "waivers: {control: X}\n",
            r"^compliance/waivers.yaml:1: 'waivers' must be a list$",
            id="not-a-list",
        ),
        pytest.param(
            "waivers:\n  - [a, b\n",
            r"^compliance/waivers.yaml:\d+: not valid YAML",
            id="invalid-yaml",
        ),
    ],
)
def test_malformed_waivers_fail_naming_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(WaiverError, match=message):
        load_waivers(write(tmp_path, text), TODAY)
