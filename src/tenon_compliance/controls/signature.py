"""Controls over the image's signature and the admission policy that enforces it.

- SIG-BUNDLE-VERIFIED: the bundle given with --signature-bundle verifies offline
  (trust root: --trusted-root or Sigstore production) for the digest each
  overlay pins, under compliance/signing-policy.yaml.
- SIG-ADMISSION-IDENTITY: every sigstore ClusterImagePolicy in k8s/ pins exactly
  the issuer and subject the signing policy pins, so the cluster admits what
  the suite verified and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenon_compliance.controls.base import control
from tenon_compliance.controls.image import PinnedDigest, pinned_digests
from tenon_compliance.errors import EvidenceMissingError, LoadError, SignatureError
from tenon_compliance.evidence import Evidence
from tenon_compliance.loaders.yaml_lines import (
    MappingNode,
    line_of,
    plain,
    repository_documents,
)
from tenon_compliance.model import Location, Method, Severity, Subject, Violation
from tenon_compliance.signature.policy import (
    SigningPolicy,
    identity_policy,
    load_signing_policy,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import ec

NO_BUNDLE = "no signature bundle: pass --signature-bundle"
CLUSTER_IMAGE_POLICY = ("policy.sigstore.dev/v1beta1", "ClusterImagePolicy")


# -- SIG-BUNDLE-VERIFIED -------------------------------------------------------


def pinned_images(evidence: Evidence) -> list[Subject]:
    """One subject per overlay: the digest it pins, to be proven signed.

    Raises EvidenceMissingError without --signature-bundle.
    """
    if evidence.options.signature_bundle is None:
        raise EvidenceMissingError(NO_BUNDLE)
    return [
        Subject(f"{pinned.environment}:image-signature", pinned.location, data=pinned)
        for pinned in pinned_digests(evidence)
    ]


def _bundle_bytes(evidence: Evidence) -> bytes:
    path = evidence.require("signature", evidence.options.signature_bundle, NO_BUNDLE)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise LoadError(
            str(path), None, f"cannot read the signature bundle ({error.strerror})"
        ) from error
    evidence.record_input(str(path), data)
    return data


def _verify(evidence: Evidence, digest: str) -> str | None:
    """None when the bundle verifies for digest, else the reason it does not."""
    # Imported here: sigstore is loaded only by a run that verifies a bundle.
    from tenon_compliance.signature.keyed import verify_keyed_bundle  # noqa: PLC0415
    from tenon_compliance.signature.verify import (  # noqa: PLC0415
        DigestFormatError,
        load_trusted_root,
        verify_bundle,
    )

    signing = load_signing_policy(evidence)
    data = evidence.load("signature:bundle", _bundle_bytes)
    trusted_root = evidence.load(
        "signature:trusted-root", lambda ev: load_trusted_root(ev.options.trusted_root)
    )
    where = str(evidence.options.signature_bundle)
    try:
        if signing.mode == "key":
            key = evidence.load(
                "signature:signing-key", lambda ev: _public_key(ev, signing)
            )
            verify_keyed_bundle(
                data,
                digest=digest,
                public_key=key,
                trusted_root=trusted_root,
                where=where,
            )
        else:
            verify_bundle(
                data,
                digest=digest,
                policy=identity_policy(signing),
                trusted_root=trusted_root,
                predicate_type=signing.predicate_type,
                where=where,
            )
    except (SignatureError, DigestFormatError) as error:
        return str(error)
    return None


def _public_key(
    evidence: Evidence, signing: SigningPolicy
) -> ec.EllipticCurvePublicKey:
    path = signing.public_key
    if path is None or not path.is_file():
        raise LoadError(
            signing.location.file,
            signing.line_of("public_key").line,
            f"public key {path} is missing",
        )
    from tenon_compliance.signature.keyed import load_public_key  # noqa: PLC0415

    data = path.read_bytes()
    evidence.record_input(
        str(path.relative_to(evidence.root))
        if path.is_relative_to(evidence.root)
        else str(path),
        data,
    )
    return load_public_key(data, str(path))


@control(
    id="SIG-BUNDLE-VERIFIED",
    title="The deployed image digest is signed by the pinned identity",
    clauses=("FLOW-3", "INV-1.1"),
    severity=Severity.CRITICAL,
    method=Method.IMAGE,
    rationale="Only an image the main branch's pipeline signed may be deployed; "
    "the signature must be about the digest the overlays pin, not about "
    "whatever digest the bundle mentions.",
    remedy="Sign the image pinned here from the main pipeline (cosign sign "
    "--bundle) or pin the digest that pipeline signed.",
    subjects=pinned_images,
)
def bundle_signs_pinned_digest(
    subject: Subject, evidence: Evidence
) -> Iterator[Violation]:
    pinned: PinnedDigest = subject.data
    if pinned.digest is None:
        yield Violation(
            pinned.location,
            "the overlay pins no image digest",
            "a sha256 digest",
            "none",
        )
        return
    reason = _verify(evidence, pinned.digest)
    if reason is not None:
        yield Violation(
            pinned.location,
            f"the signature bundle does not verify for the pinned digest: {reason}",
            "a bundle signed by the signing policy's identity",
            "rejected",
        )


# -- SIG-ADMISSION-IDENTITY ---------------------------------------------------


@dataclass(frozen=True)
class AdmissionPolicy:
    """One ClusterImagePolicy document and the file it is in."""

    file: str
    node: MappingNode


def admission_policies(evidence: Evidence) -> list[Subject]:
    """Every sigstore ClusterImagePolicy under k8s/ (schemas excepted).

    Raises LoadError when a manifest cannot be parsed.
    """
    subjects = []
    for path in sorted((evidence.root / "k8s").rglob("*.yaml")):
        relative = path.relative_to(evidence.root).as_posix()
        if relative.startswith("k8s/schemas/"):
            continue
        for document in repository_documents(evidence, relative):
            if isinstance(document, MappingNode) and _is_policy(document):
                name = plain(document).get("metadata", {}).get("name", "?")
                subjects.append(
                    Subject(
                        f"ClusterImagePolicy/{name}",
                        Location(relative, document.line),
                        data=AdmissionPolicy(relative, document),
                    )
                )
    return subjects


def _is_policy(document: MappingNode) -> bool:
    value = plain(document)
    return (value.get("apiVersion"), value.get("kind")) == CLUSTER_IMAGE_POLICY


@control(
    id="SIG-ADMISSION-IDENTITY",
    title="The cluster's admission policy pins the signing identity the suite pins",
    clauses=("FLOW-3",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale="The suite verifies the signature before apply and the policy "
    "controller verifies it at admission; if they pin different identities, "
    "one of the two checks proves nothing.",
    remedy="Make spec.authorities[].keyless.identities exactly one entry with the "
    "issuer and subject of compliance/signing-policy.yaml (no regular "
    "expressions).",
    subjects=admission_policies,
)
def admission_pins_signing_identity(
    subject: Subject, evidence: Evidence
) -> Iterator[Violation]:
    signing = load_signing_policy(evidence)
    policy: AdmissionPolicy = subject.data
    authorities = plain(policy.node).get("spec", {}).get("authorities") or []
    if not authorities:
        yield Violation(
            subject.location,
            "the policy has no authority",
            "one keyless authority",
            "none",
        )
    for index, authority in enumerate(authorities):
        yield from _check_authority(policy, index, authority, signing)


def _check_authority(
    policy: AdmissionPolicy, index: int, authority: object, signing: SigningPolicy
) -> Iterator[Violation]:
    base = ("spec", "authorities", index)
    where = Location(policy.file, line_of(policy.node, base))
    if signing.mode == "key":
        if not isinstance(authority, dict) or "key" not in authority:
            yield Violation(
                where,
                "the authority is not a key authority, but the "
                "signing policy is in key mode",
                "key:",
                "other",
            )
        return
    keyless = authority.get("keyless") if isinstance(authority, dict) else None
    identities = keyless.get("identities") if isinstance(keyless, dict) else None
    expected = [{"issuer": signing.issuer, "subject": signing.identity}]
    if identities != expected:
        where = Location(
            policy.file, line_of(policy.node, (*base, "keyless", "identities"))
        )
        yield Violation(
            where,
            "the admission identities differ from compliance/signing-policy.yaml",
            f"issuer {signing.issuer}, subject {signing.identity}",
            _describe(identities),
        )


def _describe(identities: object) -> str:
    if not isinstance(identities, list) or not identities:
        return "no identities"
    return "; ".join(
        ", ".join(f"{key} {value}" for key, value in sorted(item.items()))
        if isinstance(item, dict)
        else repr(item)
        for item in identities
    )
