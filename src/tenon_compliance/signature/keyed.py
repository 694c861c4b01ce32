"""Key mode: a bundle signed with a cosign ECDSA P-256 key instead of a certificate.

For a self-managed GitLab where keyless signing is not available. sigstore
4.5.1's Verifier only handles certificate bundles, so this module checks, in
order:

1. the bundle is a v0.3 bundle with a public key hint and a message signature
   whose digest is the deployment's digest;
2. the signature verifies over that digest with the pinned public key;
3. the one transparency log entry is a hashedrekord 0.0.1 whose body records
   the same digest, signature and public key;
4. the entry's inclusion proof, signed checkpoint and inclusion promise verify
   against the trust root's Rekor keys (sigstore's own entry verification).

DSSE envelopes are not accepted in key mode.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from sigstore._internal.trust import KeyringPurpose
from sigstore.errors import Error as SigstoreError
from sigstore.models import TransparencyLogEntry, TrustedRoot
from sigstore_models.rekor.v1 import TransparencyLogEntry as RekorEntry

from tenon_compliance.errors import SignatureError
from tenon_compliance.signature.verify import (
    BUNDLE_LIMIT,
    VerifiedSignature,
    digest_bytes,
)

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"


def load_public_key(pem: bytes, where: str) -> ec.EllipticCurvePublicKey:
    """An ECDSA P-256 public key from PEM. Raises SignatureError otherwise."""
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as error:
        raise SignatureError(f"{where}: not a PEM public key ({error})") from error
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise SignatureError(f"{where}: the key is not ECDSA P-256")
    return key


def verify_keyed_bundle(
    data: bytes,
    *,
    digest: str,
    public_key: ec.EllipticCurvePublicKey,
    trusted_root: TrustedRoot,
    where: str,
) -> VerifiedSignature:
    """Verify a key-pair bundle over ``digest``. Raises SignatureError."""
    wanted = digest_bytes(digest)
    bundle = _bundle(data, where)

    # (1) a message signature over the deployment's digest
    signature_part = _field(bundle, "messageSignature", dict, where)
    recorded = _b64(
        _field(
            _field(signature_part, "messageDigest", dict, where), "digest", str, where
        ),
        where,
    )
    if recorded != wanted:
        raise SignatureError(
            f"{where}: the bundle signs sha256:{recorded.hex()}, not {digest}"
        )
    signature = _b64(_field(signature_part, "signature", str, where), where)

    # (2) the signature, with the pinned key
    try:
        public_key.verify(signature, wanted, ec.ECDSA(Prehashed(hashes.SHA256())))
    except InvalidSignature as error:
        raise SignatureError(
            f"{where}: the signature does not verify with the pinned public key"
        ) from error

    # (3) the log entry records this signature, key and digest
    entry = _log_entry(bundle, where)
    _check_entry_body(entry, wanted, signature, public_key, where)

    # (4) inclusion proof, checkpoint and promise against the trust root
    try:
        TransparencyLogEntry(entry)._verify(
            trusted_root.rekor_keyring(KeyringPurpose.VERIFY)
        )
    except (SigstoreError, ValueError) as error:
        raise SignatureError(f"{where}: invalid log entry: {error}") from error
    return VerifiedSignature("key", digest)


def _bundle(data: bytes, where: str) -> dict[str, Any]:
    if len(data) > BUNDLE_LIMIT:
        raise SignatureError(f"{where}: bundle is larger than {BUNDLE_LIMIT} bytes")
    try:
        bundle = json.loads(data)
    except ValueError as error:
        raise SignatureError(f"{where}: bundle is not JSON ({error})") from error
    if not isinstance(bundle, dict) or bundle.get("mediaType") != BUNDLE_V03:
        raise SignatureError(f"{where}: key mode needs a {BUNDLE_V03} bundle")
    material = _field(bundle, "verificationMaterial", dict, where)
    if "publicKey" not in material:
        raise SignatureError(
            f"{where}: key mode needs a bundle signed with a key, not a certificate"
        )
    return bundle


def _log_entry(bundle: dict[str, Any], where: str) -> RekorEntry:
    entries = _field(bundle["verificationMaterial"], "tlogEntries", list, where)
    if len(entries) != 1:
        raise SignatureError(
            f"{where}: expected one transparency log entry, found {len(entries)}"
        )
    try:
        entry = RekorEntry.from_json(json.dumps(entries[0]))
        TransparencyLogEntry(entry)
    except (ValueError, SigstoreError) as error:
        raise SignatureError(f"{where}: malformed log entry ({error})") from error
    kind = entry.kind_version
    if (kind.kind, kind.version) != ("hashedrekord", "0.0.1"):
        raise SignatureError(
            f"{where}: log entry is {kind.kind}/{kind.version}, "
            "expected hashedrekord/0.0.1"
        )
    return entry


def _check_entry_body(
    entry: RekorEntry,
    digest: bytes,
    signature: bytes,
    key: ec.EllipticCurvePublicKey,
    where: str,
) -> None:
    try:
        spec = json.loads(entry.canonicalized_body)["spec"]
        logged_hash = spec["data"]["hash"]
        logged_signature = base64.b64decode(spec["signature"]["content"])
        logged_key = base64.b64decode(spec["signature"]["publicKey"]["content"])
    except (ValueError, KeyError, TypeError) as error:
        raise SignatureError(
            f"{where}: log entry body is malformed ({error})"
        ) from error
    if logged_hash != {"algorithm": "sha256", "value": digest.hex()}:
        raise SignatureError(f"{where}: the log entry records another digest")
    if logged_signature != signature:
        raise SignatureError(f"{where}: the log entry records another signature")
    if load_public_key(logged_key, where).public_numbers() != key.public_numbers():
        raise SignatureError(f"{where}: the log entry records another public key")


def _field(container: dict[str, Any], name: str, kind: type, where: str) -> Any:
    value = container.get(name)
    if not isinstance(value, kind):
        raise SignatureError(f"{where}: bundle field {name} is missing or malformed")
    return value


def _b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise SignatureError(f"{where}: bad base64 in the bundle ({error})") from error
