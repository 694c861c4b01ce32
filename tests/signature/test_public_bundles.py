"""Real public Sigstore bundles, verified offline by sigstore's unmodified Verifier."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from signature_data import (
    A_TXT_DIGEST,
    BEACON,
    GITHUB_ACTIONS,
    PRODUCTION_ROOT_SHA256,
    RFC8785_IDENTITY,
    sha256_of,
    shared_data,
)

from tenon_compliance.errors import SignatureError
from tenon_compliance.signature.keyed import load_public_key, verify_keyed_bundle
from tenon_compliance.signature.policy import identity_only
from tenon_compliance.signature.verify import (
    PRODUCTION_ROOT,
    DigestFormatError,
    load_trusted_root,
    verify_bundle,
)

OTHER_DIGEST = "sha256:" + "1" * 64


def verify(
    bundle: Path,
    digest: str = A_TXT_DIGEST,
    *,
    identity: str = BEACON,
    issuer: str = GITHUB_ACTIONS,
    root: Path | None = None,
    predicate_type: str | None = None,
):
    return verify_bundle(
        bundle.read_bytes(),
        digest=digest,
        policy=identity_only(identity, issuer),
        trusted_root=load_trusted_root(root),
        predicate_type=predicate_type,
        where=bundle.name,
    )


def test_production_root_is_the_pinned_one() -> None:
    digest = hashlib.sha256(PRODUCTION_ROOT.read_bytes()).hexdigest()

    assert digest == PRODUCTION_ROOT_SHA256


def test_message_signature_over_the_digest_verifies() -> None:
    verified = verify(shared_data("prod/a.txt.msgsig.sigstore.json"))

    assert (verified.kind, verified.digest) == ("message", A_TXT_DIGEST)


def test_dsse_statement_about_the_digest_verifies() -> None:
    verified = verify(shared_data("prod/a.txt.intoto-dsse.sigstore.json"))

    assert verified.kind == "dsse"
    assert verified.predicate_type == "https://slsa.dev/provenance/v1"


def test_wheel_bundle_verifies_with_its_release_identity() -> None:
    wheel = shared_data("prod/rfc8785-0.1.2-py3-none-any.whl")
    bundle = shared_data("prod/rfc8785-0.1.2-py3-none-any.whl.sigstore")

    assert verify(bundle, sha256_of(wheel), identity=RFC8785_IDENTITY).kind == "message"


def test_staging_rekor_v2_bundle_verifies_with_the_staging_root() -> None:
    bundle = shared_data("staging/rekor2-dsse.sigstore.json")

    verified = verify(bundle, root=shared_data("staging/trusted_root.json"))

    assert verified.kind == "dsse"


def test_message_signature_over_another_digest_is_rejected() -> None:
    with pytest.raises(SignatureError, match=re.escape("a.txt.msgsig.sigstore.json: ")):
        verify(shared_data("prod/a.txt.msgsig.sigstore.json"), OTHER_DIGEST)


def test_dsse_statement_about_another_digest_is_rejected() -> None:
    with pytest.raises(
        SignatureError,
        match=rf"subject does not name {OTHER_DIGEST} "
        rf"\(it names {A_TXT_DIGEST}\)",
    ):
        verify(shared_data("prod/a.txt.intoto-dsse.sigstore.json"), OTHER_DIGEST)


def test_required_predicate_type_must_match() -> None:
    with pytest.raises(
        SignatureError,
        match=re.escape(
            "predicate type 'https://slsa.dev/provenance/v1' is not the required "
            "https://sigstore.dev/"
        ),
    ):
        verify(
            shared_data("prod/a.txt.intoto-dsse.sigstore.json"),
            predicate_type="https://sigstore.dev/cosign/sign/v1",
        )


def test_wrong_identity_is_rejected() -> None:
    bundle = shared_data("prod/a.txt.msgsig.sigstore.json")
    with pytest.raises(
        SignatureError, match=re.escape("SANs do not match https://gitlab.com/")
    ):
        verify(
            bundle,
            identity="https://gitlab.com/tenon/runtime//.gitlab-ci.yml@refs/heads/main",
        )


def test_wrong_issuer_is_rejected() -> None:
    bundle = shared_data("prod/a.txt.msgsig.sigstore.json")
    with pytest.raises(SignatureError, match="OIDCIssuer does not match"):
        verify(bundle, issuer="https://gitlab.com")


def test_tampered_inclusion_proof_is_rejected(tmp_path: Path) -> None:
    original = json.loads(shared_data("prod/a.txt.msgsig.sigstore.json").read_bytes())
    proof = original["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"][0] = "A" * 43 + "="
    tampered = tmp_path / "tampered.sigstore.json"
    tampered.write_text(json.dumps(original))

    with pytest.raises(SignatureError, match="invalid log entry"):
        verify(tampered)


def test_staging_root_rejects_a_production_bundle() -> None:
    with pytest.raises(SignatureError, match="certificate chain"):
        verify(
            shared_data("prod/a.txt.msgsig.sigstore.json"),
            root=shared_data("staging/trusted_root.json"),
        )


def test_v0_1_bundle_without_checkpoint_is_rejected() -> None:
    # sigstore 4.5.1 requires a checkpointed inclusion proof; this older bundle
    # has only an inclusion promise, so it is refused when parsed.
    bundle = shared_data("prod/Python-3.12.5.tgz.sigstore")
    with pytest.raises(
        SignatureError, match="entry must contain inclusion proof, with checkpoint"
    ):
        verify(
            bundle,
            OTHER_DIGEST,
            identity="thomas@python.org",
            issuer="https://accounts.google.com",
        )


def test_malformed_digest_is_refused_before_verification() -> None:
    with pytest.raises(DigestFormatError, match="is not sha256:<64 lowercase hex>"):
        verify(shared_data("prod/a.txt.msgsig.sigstore.json"), "sha256:ABC")


def test_managed_key_bundle_verifies_in_key_mode() -> None:
    bundle = shared_data("prod/managed-key/bundle.sigstore.json")
    key = load_public_key(shared_data("prod/managed-key/key.pub").read_bytes(), "key")

    verified = verify_keyed_bundle(
        bundle.read_bytes(),
        digest=A_TXT_DIGEST,
        public_key=key,
        trusted_root=load_trusted_root(None),
        where="managed-key",
    )

    assert verified.kind == "key"


def test_key_mode_rejects_another_key() -> None:
    bundle = shared_data("prod/managed-key/bundle.sigstore.json")
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = other.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )

    with pytest.raises(
        SignatureError, match="does not verify with the pinned public key"
    ):
        verify_keyed_bundle(
            bundle.read_bytes(),
            digest=A_TXT_DIGEST,
            public_key=load_public_key(pem, "other"),
            trusted_root=load_trusted_root(None),
            where="managed-key",
        )


def test_key_mode_rejects_another_digest() -> None:
    bundle = shared_data("prod/managed-key/bundle.sigstore.json")
    key = load_public_key(shared_data("prod/managed-key/key.pub").read_bytes(), "key")

    with pytest.raises(SignatureError, match=f"not {OTHER_DIGEST}"):
        verify_keyed_bundle(
            bundle.read_bytes(),
            digest=OTHER_DIGEST,
            public_key=key,
            trusted_root=load_trusted_root(None),
            where="managed-key",
        )


def test_key_mode_rejects_a_tampered_inclusion_proof(tmp_path: Path) -> None:
    raw = json.loads(shared_data("prod/managed-key/bundle.sigstore.json").read_bytes())
    proof = raw["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
    proof["hashes"][1] = "A" * 43 + "="
    key = load_public_key(shared_data("prod/managed-key/key.pub").read_bytes(), "key")

    with pytest.raises(SignatureError, match="managed-key: invalid log entry"):
        verify_keyed_bundle(
            json.dumps(raw).encode(),
            digest=A_TXT_DIGEST,
            public_key=key,
            trusted_root=load_trusted_root(None),
            where="managed-key",
        )


def test_key_mode_rejects_a_certificate_bundle() -> None:
    bundle = shared_data("prod/a.txt.msgsig.sigstore.json")
    key = load_public_key(shared_data("prod/managed-key/key.pub").read_bytes(), "key")

    with pytest.raises(SignatureError, match="signed with a key, not a certificate"):
        verify_keyed_bundle(
            bundle.read_bytes(),
            digest=A_TXT_DIGEST,
            public_key=key,
            trusted_root=load_trusted_root(None),
            where="b",
        )
