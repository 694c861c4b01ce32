"""Bundles from a private Sigstore instance made at test time, verified offline.

sigstore's unmodified Verifier checks them against the instance's own
trusted_root.json: certificate chain, embedded SCT, inclusion proof, signed
checkpoint, inclusion promise, signature and log entry consistency.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from private_sigstore import GitLabIdentity, PrivateSigstore, statement_about
from signature_data import failures, run_control

from tenon_compliance.errors import SignatureError
from tenon_compliance.signature.cli import main
from tenon_compliance.signature.keyed import load_public_key, verify_keyed_bundle
from tenon_compliance.signature.policy import identity_policy, parse_signing_policy
from tenon_compliance.signature.verify import (
    PRODUCTION_ROOT,
    load_trusted_root,
    verify_bundle,
)

REPO = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "5e" * 32
OTHER = "sha256:" + "0f" * 32
COSIGN_SIGN = "https://sigstore.dev/cosign/sign/v1"


@pytest.fixture(scope="module")
def instance() -> PrivateSigstore:
    return PrivateSigstore()


@pytest.fixture(scope="module")
def root_file(
    instance: PrivateSigstore, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    return instance.trusted_root(tmp_path_factory.mktemp("trust") / "trusted_root.json")


def signing_policy():
    path = REPO / "compliance/signing-policy.yaml"
    return parse_signing_policy(
        path.read_bytes(), "compliance/signing-policy.yaml", REPO
    )


def verify(bundle: bytes, root: Path, digest: str = DIGEST):
    policy = signing_policy()
    return verify_bundle(
        bundle,
        digest=digest,
        policy=identity_policy(policy),
        trusted_root=load_trusted_root(root),
        predicate_type=policy.predicate_type,
        where="bundle.json",
    )


def edit(bundle: bytes, change) -> bytes:
    value = json.loads(bundle)
    change(value)
    return json.dumps(value).encode()


def test_dsse_statement_from_the_main_pipeline_verifies(
    instance: PrivateSigstore, root_file: Path
) -> None:
    verified = verify(instance.sign_statement(statement_about(DIGEST)), root_file)

    assert (verified.kind, verified.digest) == ("dsse", DIGEST)
    assert verified.predicate_type == COSIGN_SIGN


def test_message_signature_needs_no_predicate_when_policy_has_none(
    instance: PrivateSigstore, root_file: Path
) -> None:
    policy = signing_policy()
    verified = verify_bundle(
        instance.sign_digest(DIGEST),
        digest=DIGEST,
        policy=identity_policy(policy),
        trusted_root=load_trusted_root(root_file),
        where="bundle.json",
    )

    assert verified.kind == "message"


def test_message_signature_fails_a_policy_requiring_a_statement(
    instance: PrivateSigstore, root_file: Path
) -> None:
    with pytest.raises(SignatureError, match="carries no in-toto statement"):
        verify(instance.sign_digest(DIGEST), root_file)


def test_statement_about_another_image_is_rejected(
    instance: PrivateSigstore, root_file: Path
) -> None:
    bundle = instance.sign_statement(statement_about(OTHER))

    with pytest.raises(SignatureError, match=rf"subject does not name {DIGEST}"):
        verify(bundle, root_file)


def test_message_signature_over_another_digest_is_rejected(
    instance: PrivateSigstore, root_file: Path
) -> None:
    policy = signing_policy()
    with pytest.raises(SignatureError, match="Bundle message digest mismatch"):
        verify_bundle(
            instance.sign_digest(OTHER),
            digest=DIGEST,
            policy=identity_policy(policy),
            trusted_root=load_trusted_root(root_file),
            where="b",
        )


@pytest.mark.parametrize(
    ("identity", "reason"),
    [
        pytest.param(
            GitLabIdentity(
                san="https://gitlab.com/tenon/runtime//.gitlab-ci.yml@refs/heads/dev",
                ref="refs/heads/dev",
            ),
            "SANs do not match",
            id="branch-pipeline",
        ),
        pytest.param(
            GitLabIdentity(issuer="https://gitlab.example.com"),
            "OIDCIssuer does not match",
            id="self-managed-issuer",
        ),
        pytest.param(
            GitLabIdentity(project_id="99999999"),
            "OIDCSourceRepositoryIdentifier does not match",
            id="project-id",
        ),
        pytest.param(
            GitLabIdentity(repository="https://gitlab.com/tenon/fork"),
            "OIDCSourceRepositoryURI does not match",
            id="repository",
        ),
    ],
)
def test_other_identity_is_rejected(
    instance: PrivateSigstore, root_file: Path, identity: GitLabIdentity, reason: str
) -> None:
    bundle = instance.sign_statement(statement_about(DIGEST), identity)

    with pytest.raises(SignatureError, match=reason):
        verify(bundle, root_file)


def test_other_predicate_type_is_rejected(
    instance: PrivateSigstore, root_file: Path
) -> None:
    statement = statement_about(DIGEST, predicate_type="https://slsa.dev/provenance/v1")

    with pytest.raises(
        SignatureError, match=re.escape(f"not the required {COSIGN_SIGN}")
    ):
        verify(instance.sign_statement(statement), root_file)


def test_bad_sct_is_rejected(instance: PrivateSigstore, root_file: Path) -> None:
    bundle = instance.sign_digest(DIGEST, sct_tamper=True)
    with pytest.raises(SignatureError, match="failed to verify SCT"):
        verify_bundle(
            bundle,
            digest=DIGEST,
            policy=identity_policy(signing_policy()),
            trusted_root=load_trusted_root(root_file),
            where="b",
        )


def _first_entry(value: dict) -> dict:
    return value["verificationMaterial"]["tlogEntries"][0]


def test_tampered_inclusion_proof_is_rejected(
    instance: PrivateSigstore, root_file: Path
) -> None:
    def tamper(value: dict) -> None:
        _first_entry(value)["inclusionProof"]["hashes"][0] = base64.b64encode(
            bytes(32)
        ).decode()

    bundle = edit(instance.sign_statement(statement_about(DIGEST)), tamper)

    with pytest.raises(SignatureError, match="inclusion proof contains invalid root"):
        verify(bundle, root_file)


def test_forged_checkpoint_is_rejected(
    instance: PrivateSigstore, root_file: Path
) -> None:
    forger = PrivateSigstore()

    def tamper(value: dict) -> None:
        proof = _first_entry(value)["inclusionProof"]
        root_hash = base64.b64decode(proof["rootHash"])
        forged = forger.checkpoint(int(proof["treeSize"]), root_hash)
        proof["checkpoint"]["envelope"] = forged

    bundle = edit(instance.sign_statement(statement_about(DIGEST)), tamper)

    with pytest.raises(SignatureError, match="checkpoint"):
        verify(bundle, root_file)


def test_tampered_payload_is_rejected(
    instance: PrivateSigstore, root_file: Path
) -> None:
    other = base64.b64encode(json.dumps(statement_about(OTHER)).encode()).decode()

    def tamper(value: dict) -> None:
        value["dsseEnvelope"]["payload"] = other

    bundle = edit(instance.sign_statement(statement_about(DIGEST)), tamper)

    with pytest.raises(SignatureError, match=r"bundle\.json: DSSE: invalid signature"):
        verify(bundle, root_file, OTHER)


def test_bundle_from_another_instance_is_rejected(root_file: Path) -> None:
    stranger = PrivateSigstore()

    with pytest.raises(SignatureError, match="certificate chain"):
        verify(stranger.sign_statement(statement_about(DIGEST)), root_file)


def test_production_root_rejects_the_private_instance(
    instance: PrivateSigstore,
) -> None:
    with pytest.raises(SignatureError, match="certificate chain"):
        verify(instance.sign_statement(statement_about(DIGEST)), PRODUCTION_ROOT)


def test_cli_verifies_with_the_private_root(
    instance: PrivateSigstore,
    root_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(instance.sign_statement(statement_about(DIGEST)))
    identity = GitLabIdentity()
    args = [
        "--bundle",
        str(bundle),
        "--digest",
        DIGEST,
        "--identity",
        identity.san,
        "--issuer",
        identity.issuer,
        "--trusted-root",
        str(root_file),
        "--predicate-type",
        COSIGN_SIGN,
    ]

    assert main(args) == 0
    assert main([*args[:3], OTHER, *args[4:]]) == 1
    assert "subject does not name" in capsys.readouterr().err


def _pin(root: Path, digest: str) -> None:
    for env in ("dev", "stage", "prod"):
        path = root / f"k8s/overlays/{env}/kustomization.yaml"
        path.write_text(
            re.sub(
                r"digest: sha256:[0-9a-f]{64}", f"digest: {digest}", path.read_text()
            )
        )


def test_signed_pinned_image_passes_the_suite_control(
    instance: PrivateSigstore, root_file: Path, repo_copy: Path, tmp_path: Path
) -> None:
    _pin(repo_copy, DIGEST)
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(instance.sign_statement(statement_about(DIGEST)))

    results = run_control(
        "SIG-BUNDLE-VERIFIED",
        repo_copy,
        signature_bundle=bundle,
        trusted_root=root_file,
    )

    assert len(results) == 3
    assert failures(results) == []


def test_stage_pinning_an_unsigned_image_fails_the_suite_control(
    instance: PrivateSigstore, root_file: Path, repo_copy: Path, tmp_path: Path
) -> None:
    _pin(repo_copy, DIGEST)
    stage = repo_copy / "k8s/overlays/stage/kustomization.yaml"
    stage.write_text(stage.read_text().replace(DIGEST, OTHER))
    line = next(
        n for n, text in enumerate(stage.read_text().splitlines(), 1) if OTHER in text
    )
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(instance.sign_statement(statement_about(DIGEST)))

    (finding,) = failures(
        run_control(
            "SIG-BUNDLE-VERIFIED",
            repo_copy,
            signature_bundle=bundle,
            trusted_root=root_file,
        )
    )

    assert finding.startswith(
        f"k8s/overlays/stage/kustomization.yaml:{line}: "
        "[SIG-BUNDLE-VERIFIED FLOW-3,INV-1.1] "
        "stage:image-signature"
    )
    assert f"subject does not name {OTHER}" in finding


def _public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_key_mode_bundle_signed_with_a_key_made_now_verifies(
    instance: PrivateSigstore, root_file: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    bundle = instance.sign_digest_with_key(DIGEST, key)

    verified = verify_keyed_bundle(
        bundle,
        digest=DIGEST,
        public_key=load_public_key(_public_pem(key), "key"),
        trusted_root=load_trusted_root(root_file),
        where="bundle.json",
    )

    assert verified.kind == "key"


def test_key_mode_bundle_logged_in_another_instance_is_rejected(
    root_file: Path,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    bundle = PrivateSigstore().sign_digest_with_key(DIGEST, key)

    with pytest.raises(SignatureError, match=r"bundle\.json: invalid log entry"):
        verify_keyed_bundle(
            bundle,
            digest=DIGEST,
            public_key=load_public_key(_public_pem(key), "k"),
            trusted_root=load_trusted_root(root_file),
            where="bundle.json",
        )


def test_key_mode_suite_control_passes_with_the_pinned_key(
    instance: PrivateSigstore, root_file: Path, repo_copy: Path, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    (repo_copy / "compliance/cosign.pub").write_bytes(_public_pem(key))
    (repo_copy / "compliance/signing-policy.yaml").write_text(
        "mode: key\npublic_key: compliance/cosign.pub\n"
    )
    _pin(repo_copy, DIGEST)
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(instance.sign_digest_with_key(DIGEST, key))

    results = run_control(
        "SIG-BUNDLE-VERIFIED",
        repo_copy,
        signature_bundle=bundle,
        trusted_root=root_file,
    )

    assert len(results) == 3
    assert failures(results) == []
