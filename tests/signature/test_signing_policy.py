"""compliance/signing-policy.yaml: parsed strictly, errors at file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenon_compliance.errors import LoadError
from tenon_compliance.signature.policy import parse_signing_policy

REPO = Path(__file__).resolve().parents[2]
FILE = "compliance/signing-policy.yaml"


def real_policy_text() -> str:
    return (REPO / FILE).read_text()


def test_repository_policy_pins_the_main_pipeline_of_the_project() -> None:
    policy = parse_signing_policy(real_policy_text().encode(), FILE, REPO)

    assert policy.mode == "keyless"
    assert policy.identity == (
        "https://gitlab.com/tenon/runtime//.gitlab-ci.yml@refs/heads/main"
    )
    assert policy.issuer == "https://gitlab.com"
    assert policy.project_id == "48213577"
    assert policy.predicate_type == "https://sigstore.dev/cosign/sign/v1"


def test_keyless_policy_without_project_id_is_refused_at_its_line() -> None:
    text = real_policy_text().replace('project_id: "48213577"', 'project_id: ""')
    line = next(
        n for n, row in enumerate(text.splitlines(), 1) if row.startswith("project_id")
    )

    with pytest.raises(
        LoadError,
        match=rf"^{FILE}:{line}: keyless mode needs "
        "project_id as a non-empty string$",
    ):
        parse_signing_policy(text.encode(), FILE, REPO)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(LoadError, match=rf"^{FILE}:1: mode 'fulcio' is neither"):
        parse_signing_policy(b"mode: fulcio\n", FILE, REPO)


def test_key_mode_needs_a_public_key() -> None:
    with pytest.raises(LoadError, match="key mode needs public_key"):
        parse_signing_policy(b"mode: key\n", FILE, REPO)


def test_key_mode_resolves_the_key_under_the_root(tmp_path: Path) -> None:
    policy = parse_signing_policy(
        b"mode: key\npublic_key: compliance/cosign.pub\n", FILE, tmp_path
    )

    assert policy.public_key == tmp_path / "compliance/cosign.pub"
