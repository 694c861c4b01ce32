"""A private Sigstore instance, made at test time, with no network.

It has what sigstore's Verifier checks for a v0.3 bundle with a Rekor v1 entry:

- a root CA and an intermediate ("Fulcio") issuing short-lived leaf
  certificates with the Fulcio extensions of a GitLab CI identity;
- a CT log key: every leaf embeds one SCT signed over the precertificate TBS
  (the leaf's TBS without the SCT extension) as RFC 6962 section 3.2 defines;
- a Rekor log key: each entry gets a signed entry timestamp (inclusion
  promise), an RFC 6962 inclusion proof in a small tree and a signed
  checkpoint (a signed note over origin, size and root hash);
- ``trusted_root.json`` naming those keys and certificates.

Message signatures are logged as hashedrekord/0.0.1 entries, DSSE envelopes as
dsse/0.0.1 entries, as Rekor v1 records them. Keys live in memory only.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import rfc8785
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
TRUSTED_ROOT = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
IN_TOTO = "application/vnd.in-toto+json"
SCT_OID = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
FULCIO = "1.3.6.1.4.1.57264.1."
ISSUER_LEGACY = ObjectIdentifier(FULCIO + "1")
ISSUER_V2 = ObjectIdentifier(FULCIO + "8")
BUILD_SIGNER_URI = ObjectIdentifier(FULCIO + "9")
SOURCE_REPOSITORY_URI = ObjectIdentifier(FULCIO + "12")
SOURCE_REPOSITORY_REF = ObjectIdentifier(FULCIO + "14")
SOURCE_REPOSITORY_IDENTIFIER = ObjectIdentifier(FULCIO + "15")
ORIGIN = "rekor.tenon.test - 1234567890"


@dataclass(frozen=True)
class GitLabIdentity:
    """What Fulcio puts into a certificate for a GitLab CI job's OIDC token."""

    san: str = "https://gitlab.com/tenon/runtime//.gitlab-ci.yml@refs/heads/main"
    issuer: str = "https://gitlab.com"
    repository: str = "https://gitlab.com/tenon/runtime"
    ref: str = "refs/heads/main"
    project_id: str = "48213577"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def der_utf8(text: str) -> bytes:
    """DER UTF8String (Fulcio's encoding of the v2 extensions)."""
    body = text.encode()
    if len(body) < 0x80:
        return bytes([0x0C, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(size)]) + size + body


def der_octet_string(body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes([0x04, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(size)]) + size + body


def spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """Sigstore's key id: sha256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki(key)).digest()


def leaf_hash(body: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + body).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 MTH over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(merkle_root(leaves[:split]), merkle_root(leaves[split:]))


def audit_path(index: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 6962 PATH(m, D[n]): the inclusion proof of leaf ``index``."""
    if len(leaves) <= 1:
        return []
    split = 1 << ((len(leaves) - 1).bit_length() - 1)
    if index < split:
        return [*audit_path(index, leaves[:split]), merkle_root(leaves[split:])]
    return [*audit_path(index - split, leaves[split:]), merkle_root(leaves[:split])]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tenon-test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


@dataclass
class PrivateSigstore:
    """The instance: CA, CT log and Rekor log keys, and what they issued."""

    now: datetime.datetime = field(
        default_factory=lambda: datetime.datetime.now(datetime.UTC).replace(
            microsecond=0
        )
    )

    def __post_init__(self) -> None:
        self.root_key = ec.generate_private_key(ec.SECP384R1())
        self.intermediate_key = ec.generate_private_key(ec.SECP384R1())
        self.ct_key = ec.generate_private_key(ec.SECP256R1())
        self.rekor_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._root_certificate()
        self.intermediate = self._intermediate_certificate()
        self.log_index_base = 40

    # -- certificate authority -------------------------------------------------

    def _ca_builder(
        self,
        subject: x509.Name,
        key: ec.EllipticCurvePrivateKey,
        issuer: x509.Name,
        issuer_key: ec.EllipticCurvePublicKey,
        path_length: int | None,
    ) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.now - datetime.timedelta(days=1))
            .not_valid_after(self.now + datetime.timedelta(days=30))
            .add_extension(
                x509.BasicConstraints(ca=True, path_length=path_length), critical=True
            )
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key),
                critical=False,
            )
        )

    def _root_certificate(self) -> x509.Certificate:
        name = _name("tenon-test-root")
        return self._ca_builder(
            name, self.root_key, name, self.root_key.public_key(), 1
        ).sign(self.root_key, hashes.SHA384())

    def _intermediate_certificate(self) -> x509.Certificate:
        builder = self._ca_builder(
            _name("tenon-test-intermediate"),
            self.intermediate_key,
            self.root.subject,
            self.root_key.public_key(),
            0,
        )
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
        return builder.sign(self.root_key, hashes.SHA384())

    def issue(
        self,
        identity: GitLabIdentity,
        key: ec.EllipticCurvePrivateKey,
        *,
        sct_tamper: bool = False,
    ) -> x509.Certificate:
        """A ten-minute leaf certificate for ``identity`` with an embedded SCT."""
        serial = x509.random_serial_number()
        placeholder = self._leaf(identity, key, serial, self._sct_list(b"\0" * 64, 0))
        timestamp_ms = int(self.now.timestamp() * 1000)
        signature = self._sct_signature(
            placeholder.tbs_precertificate_bytes, timestamp_ms
        )
        if sct_tamper:
            signature = self._sct_signature(b"another precertificate", timestamp_ms)
        leaf = self._leaf(
            identity, key, serial, self._sct_list(signature, timestamp_ms)
        )
        assert leaf.tbs_precertificate_bytes == placeholder.tbs_precertificate_bytes
        return leaf

    def _leaf(
        self,
        identity: GitLabIdentity,
        key: ec.EllipticCurvePrivateKey,
        serial: int,
        sct_list: bytes,
    ) -> x509.Certificate:
        extensions: list[tuple[x509.ExtensionType, bool]] = [
            (
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                True,
            ),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False),
            (x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False),
            (
                x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    self.intermediate_key.public_key()
                ),
                False,
            ),
            (
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(identity.san)]
                ),
                True,
            ),
            (
                x509.UnrecognizedExtension(ISSUER_LEGACY, identity.issuer.encode()),
                False,
            ),
            (x509.UnrecognizedExtension(ISSUER_V2, der_utf8(identity.issuer)), False),
            (
                x509.UnrecognizedExtension(BUILD_SIGNER_URI, der_utf8(identity.san)),
                False,
            ),
            (
                x509.UnrecognizedExtension(
                    SOURCE_REPOSITORY_URI, der_utf8(identity.repository)
                ),
                False,
            ),
            (
                x509.UnrecognizedExtension(
                    SOURCE_REPOSITORY_REF, der_utf8(identity.ref)
                ),
                False,
            ),
            (
                x509.UnrecognizedExtension(
                    SOURCE_REPOSITORY_IDENTIFIER, der_utf8(identity.project_id)
                ),
                False,
            ),
            (x509.UnrecognizedExtension(SCT_OID, der_octet_string(sct_list)), False),
        ]
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(self.now - datetime.timedelta(minutes=1))
            .not_valid_after(self.now + datetime.timedelta(minutes=10))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(self.intermediate_key, hashes.SHA384())

    # -- certificate transparency -----------------------------------------------

    def _sct_signature(self, tbs: bytes, timestamp_ms: int) -> bytes:
        issuer_key_hash = key_id(self.intermediate_key.public_key())
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp_ms, 1)  # v1, certificate_timestamp,
            + issuer_key_hash  # precert_entry
            + len(tbs).to_bytes(3, "big")
            + tbs
            + struct.pack("!H", 0)  # no extensions
        )
        return self.ct_key.sign(signed, ec.ECDSA(hashes.SHA256()))

    def _sct_list(self, signature: bytes, timestamp_ms: int) -> bytes:
        sct = (
            bytes([0])
            + key_id(self.ct_key.public_key())
            + struct.pack("!QH", timestamp_ms, 0)
            + bytes([4, 3])
            + struct.pack("!H", len(signature))
            + signature
        )
        return struct.pack("!HH", len(sct) + 2, len(sct)) + sct

    # -- transparency log -------------------------------------------------------

    def log_entry(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        """A Rekor v1 entry for ``body``: promise, inclusion proof, checkpoint."""
        canonical = rfc8785.dumps(body)
        log_id = key_id(self.rekor_key.public_key())
        integrated_time = int(self.now.timestamp())
        index_in_tree, tree_size = 5, 7
        leaves = [leaf_hash(f"other entry {n}".encode()) for n in range(tree_size)]
        leaves[index_in_tree] = leaf_hash(canonical)
        root_hash = merkle_root(leaves)
        log_index = self.log_index_base + index_in_tree

        promise = rfc8785.dumps(
            {
                "body": b64(canonical),
                "integratedTime": integrated_time,
                "logID": log_id.hex(),
                "logIndex": log_index,
            }
        )
        return {
            "logIndex": str(log_index),
            "logId": {"keyId": b64(log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": str(integrated_time),
            "inclusionPromise": {
                "signedEntryTimestamp": b64(
                    self.rekor_key.sign(promise, ec.ECDSA(hashes.SHA256()))
                )
            },
            "inclusionProof": {
                "logIndex": str(index_in_tree),
                "rootHash": b64(root_hash),
                "treeSize": str(tree_size),
                "hashes": [b64(h) for h in audit_path(index_in_tree, leaves)],
                "checkpoint": {"envelope": self.checkpoint(tree_size, root_hash)},
            },
            "canonicalizedBody": b64(canonical),
        }

    def checkpoint(self, size: int, root_hash: bytes) -> str:
        """A signed note: origin, size, root hash; signed by the Rekor key."""
        note = f"{ORIGIN}\n{size}\n{b64(root_hash)}\n"
        signature = self.rekor_key.sign(note.encode(), ec.ECDSA(hashes.SHA256()))
        hint = key_id(self.rekor_key.public_key())[:4]
        name = ORIGIN.split(" ", maxsplit=1)[0]
        return f"{note}\n\u2014 {name} {b64(hint + signature)}\n"

    # -- signing ---------------------------------------------------------------

    def sign_digest(
        self, digest: str, identity: GitLabIdentity | None = None, **issue_options: bool
    ) -> bytes:
        """A message-signature bundle over ``sha256:<hex>`` (hashedrekord)."""
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = self.issue(identity or GitLabIdentity(), key, **issue_options)
        raw = bytes.fromhex(digest.split(":", 1)[1])
        signature = key.sign(raw, ec.ECDSA(Prehashed(hashes.SHA256())))
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": raw.hex()}},
                "signature": {
                    "content": b64(signature),
                    "publicKey": {"content": _pem64(leaf)},
                },
            },
        }
        return self._bundle(
            leaf,
            self.log_entry(body, "hashedrekord"),
            {
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": b64(raw)},
                    "signature": b64(signature),
                }
            },
        )

    def sign_digest_with_key(
        self, digest: str, key: ec.EllipticCurvePrivateKey
    ) -> bytes:
        """A key-pair bundle over ``sha256:<hex>`` (``cosign sign --key --bundle``)."""
        raw = bytes.fromhex(digest.split(":", 1)[1])
        signature = key.sign(raw, ec.ECDSA(Prehashed(hashes.SHA256())))
        pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        body = {
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": raw.hex()}},
                "signature": {
                    "content": b64(signature),
                    "publicKey": {"content": b64(pem)},
                },
            },
        }
        return json.dumps(
            {
                "mediaType": BUNDLE_V03,
                "verificationMaterial": {
                    "publicKey": {"hint": b64(key_id(key.public_key()))},
                    "tlogEntries": [self.log_entry(body, "hashedrekord")],
                },
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": b64(raw)},
                    "signature": b64(signature),
                },
            }
        ).encode()

    def sign_statement(
        self, statement: dict[str, Any], identity: GitLabIdentity | None = None
    ) -> bytes:
        """A DSSE bundle over an in-toto statement (what cosign 3 writes)."""
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = self.issue(identity or GitLabIdentity(), key)
        payload = json.dumps(statement).encode()
        pae = b"DSSEv1 %d %s %d %s" % (
            len(IN_TOTO),
            IN_TOTO.encode(),
            len(payload),
            payload,
        )
        signature = key.sign(pae, ec.ECDSA(hashes.SHA256()))
        envelope = {
            "payload": b64(payload),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": b64(signature), "keyid": ""}],
        }
        body = {
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(json.dumps(envelope).encode()).hexdigest(),
                },
                "payloadHash": {
                    "algorithm": "sha256",
                    "value": hashlib.sha256(payload).hexdigest(),
                },
                "signatures": [{"signature": b64(signature), "verifier": _pem64(leaf)}],
            },
        }
        return self._bundle(
            leaf, self.log_entry(body, "dsse"), {"dsseEnvelope": envelope}
        )

    def _bundle(
        self, leaf: x509.Certificate, entry: dict[str, Any], content: dict[str, Any]
    ) -> bytes:
        return json.dumps(
            {
                "mediaType": BUNDLE_V03,
                "verificationMaterial": {
                    "certificate": {
                        "rawBytes": b64(leaf.public_bytes(serialization.Encoding.DER))
                    },
                    "tlogEntries": [entry],
                },
                **content,
            }
        ).encode()

    # -- trust root ------------------------------------------------------------

    def trusted_root(self, path: Path) -> Path:
        """Write this instance's trusted_root.json at path."""
        start = (self.now - datetime.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

        def log(key: ec.EllipticCurvePrivateKey, url: str) -> dict[str, Any]:
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": b64(spki(key.public_key())),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": b64(key_id(key.public_key()))},
            }

        chain = [self.intermediate, self.root]
        path.write_text(
            json.dumps(
                {
                    "mediaType": TRUSTED_ROOT,
                    "tlogs": [log(self.rekor_key, "https://rekor.tenon.test")],
                    "certificateAuthorities": [
                        {
                            "subject": {
                                "organization": "tenon-test",
                                "commonName": "tenon-test",
                            },
                            "uri": "https://fulcio.tenon.test",
                            "certChain": {
                                "certificates": [
                                    {
                                        "rawBytes": b64(
                                            c.public_bytes(serialization.Encoding.DER)
                                        )
                                    }
                                    for c in chain
                                ]
                            },
                            "validFor": {"start": start},
                        }
                    ],
                    "ctlogs": [log(self.ct_key, "https://ctfe.tenon.test")],
                    "timestampAuthorities": [],
                },
                indent=2,
            )
        )
        return path


def _pem64(certificate: x509.Certificate) -> str:
    return b64(certificate.public_bytes(serialization.Encoding.PEM))


def statement_about(
    digest: str,
    predicate_type: str = "https://sigstore.dev/cosign/sign/v1",
    name: str = "registry.gitlab.com/tenon/runtime/runtime-api",
) -> dict[str, Any]:
    """The in-toto statement ``cosign sign`` (v3) writes for an image digest."""
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": digest.split(":", 1)[1]}}],
        "predicateType": predicate_type,
        "predicate": {},
    }
