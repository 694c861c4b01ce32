"""SIG-BUNDLE-VERIFIED and SIG-ADMISSION-IDENTITY over the repository."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from signature_data import A_TXT_DIGEST, failures, run_control, shared_data

from tenon_compliance.engine import Outcome

POLICY = "k8s/base/cluster-image-policy.yaml"
MAIN_SAN = "https://gitlab.com/tenon/runtime//.gitlab-ci.yml@refs/heads/main"


def pin_overlays(root: Path, digest: str) -> None:
    for env in ("dev", "stage", "prod"):
        path = root / f"k8s/overlays/{env}/kustomization.yaml"
        path.write_text(
            re.sub(
                r"digest: sha256:[0-9a-f]{64}", f"digest: {digest}", path.read_text()
            )
        )


def line_containing(path: Path, text: str) -> int:
    return next(
        n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line
    )


def use_key_mode(root: Path) -> None:
    shutil.copy(shared_data("prod/managed-key/key.pub"), root / "compliance/cosign.pub")
    (root / "compliance/signing-policy.yaml").write_text(
        "mode: key\npublic_key: compliance/cosign.pub\n"
    )


def test_admission_policy_pins_the_signing_identity(repo_copy: Path) -> None:
    results = run_control("SIG-ADMISSION-IDENTITY", repo_copy)

    assert [r.outcome for r in results] == [Outcome.PASSED]


def test_admission_policy_for_a_branch_pipeline_fails_flow_3(repo_copy: Path) -> None:
    path = repo_copy / POLICY
    path.write_text(path.read_text().replace("@refs/heads/main", "@refs/heads/dev"))

    (line,) = failures(run_control("SIG-ADMISSION-IDENTITY", repo_copy))

    assert line.startswith(
        f"{POLICY}:{line_containing(path, 'identities:')}: "
        "[SIG-ADMISSION-IDENTITY FLOW-3]"
    )
    assert (
        "found: issuer https://gitlab.com, subject https://gitlab.com/tenon/"
        "runtime//.gitlab-ci.yml@refs/heads/dev" in line
    )


def test_admission_policy_with_a_subject_pattern_fails(repo_copy: Path) -> None:
    path = repo_copy / POLICY
    path.write_text(
        path.read_text().replace(
            f"subject: {MAIN_SAN}", "subjectRegExp: https://gitlab.com/tenon/.*"
        )
    )

    (line,) = failures(run_control("SIG-ADMISSION-IDENTITY", repo_copy))

    assert "subjectRegExp https://gitlab.com/tenon/.*" in line


def test_repository_without_admission_policy_fails(repo_copy: Path) -> None:
    (repo_copy / POLICY).unlink()
    kustomization = repo_copy / "k8s/base/kustomization.yaml"
    kustomization.write_text(
        kustomization.read_text().replace("- cluster-image-policy.yaml", "")
    )

    (result,) = run_control("SIG-ADMISSION-IDENTITY", repo_copy)

    assert result.outcome is Outcome.FAILED
    assert "selected no subject" in result.reason


def test_bundle_control_is_not_evaluated_without_a_bundle(repo_copy: Path) -> None:
    (result,) = run_control("SIG-BUNDLE-VERIFIED", repo_copy)

    assert result.outcome is Outcome.NOT_EVALUATED
    assert result.reason == "no signature bundle: pass --signature-bundle"


def test_key_mode_bundle_for_the_pinned_digest_passes(repo_copy: Path) -> None:
    use_key_mode(repo_copy)
    pin_overlays(repo_copy, A_TXT_DIGEST)
    bundle = shared_data("prod/managed-key/bundle.sigstore.json")

    results = run_control("SIG-BUNDLE-VERIFIED", repo_copy, signature_bundle=bundle)

    assert [r.case.subject.id for r in results] == [
        "dev:image-signature",
        "stage:image-signature",
        "prod:image-signature",
    ]
    assert failures(results) == []


def test_unsigned_digest_in_prod_fails_flow_3_at_the_pin(repo_copy: Path) -> None:
    use_key_mode(repo_copy)
    pin_overlays(repo_copy, A_TXT_DIGEST)
    prod = repo_copy / "k8s/overlays/prod/kustomization.yaml"
    unsigned = "sha256:" + "d" * 64
    prod.write_text(prod.read_text().replace(A_TXT_DIGEST, unsigned))
    bundle = shared_data("prod/managed-key/bundle.sigstore.json")

    (line,) = failures(
        run_control("SIG-BUNDLE-VERIFIED", repo_copy, signature_bundle=bundle)
    )

    assert line.startswith(
        f"k8s/overlays/prod/kustomization.yaml:{line_containing(prod, unsigned)}: "
        "[SIG-BUNDLE-VERIFIED FLOW-3,INV-1.1] prod:image-signature"
    )
    assert f"the bundle signs {A_TXT_DIGEST}, not {unsigned}" in line


def test_bundle_from_another_identity_fails_every_overlay(repo_copy: Path) -> None:
    pin_overlays(repo_copy, A_TXT_DIGEST)
    bundle = shared_data("prod/a.txt.msgsig.sigstore.json")

    lines = failures(
        run_control("SIG-BUNDLE-VERIFIED", repo_copy, signature_bundle=bundle)
    )

    assert len(lines) == 3
    assert all("OIDCIssuer does not match" in line for line in lines)


def test_unreadable_bundle_is_an_error(repo_copy: Path, tmp_path: Path) -> None:
    pin_overlays(repo_copy, A_TXT_DIGEST)

    results = run_control(
        "SIG-BUNDLE-VERIFIED", repo_copy, signature_bundle=tmp_path / "absent.json"
    )

    assert {r.outcome for r in results} == {Outcome.ERROR}
    assert "cannot read the signature bundle" in results[0].reason


@pytest.mark.parametrize("env", ["dev", "stage", "prod"])
def test_every_overlay_is_a_subject(repo_copy: Path, env: str) -> None:
    bundle = shared_data("prod/managed-key/bundle.sigstore.json")
    results = run_control("SIG-BUNDLE-VERIFIED", repo_copy, signature_bundle=bundle)

    assert f"{env}:image-signature" in {r.case.subject.id for r in results}
