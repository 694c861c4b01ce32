"""Who may sign the image: compliance/signing-policy.yaml, read and turned into checks.

Keyless mode pins the Fulcio certificate's identity (SAN), OIDC issuer, source
repository, ref and the numeric project id; key mode pins a public key (for a
self-managed GitLab where keyless signing is not available).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenon_compliance.errors import LoadError
from tenon_compliance.loaders.yaml_lines import MappingNode, load_documents, plain
from tenon_compliance.model import Location

if TYPE_CHECKING:
    from sigstore.verify import policy as sigstore_policy

    from tenon_compliance.evidence import Evidence

POLICY_FILE = "compliance/signing-policy.yaml"
KEYLESS_FIELDS = (
    "issuer",
    "identity",
    "source_repository_uri",
    "source_repository_ref",
    "project_id",
)


@dataclass(frozen=True)
class SigningPolicy:
    """The identity (keyless) or key (key mode) a valid signature must carry."""

    mode: str
    location: Location
    issuer: str = ""
    identity: str = ""
    source_repository_uri: str = ""
    source_repository_ref: str = ""
    project_id: str = ""
    predicate_type: str | None = None
    public_key: Path | None = None
    lines: dict[str, int] | None = None

    def line_of(self, field: str) -> Location:
        """Where ``field`` is set in the policy file."""
        line = (self.lines or {}).get(field, self.location.line)
        return Location(self.location.file, line)


def parse_signing_policy(data: bytes, file: str, root: Path) -> SigningPolicy:
    """Parse a signing policy. Raises LoadError naming the file and line."""
    documents = load_documents(data, file)
    node = documents[0] if len(documents) == 1 else None
    if not isinstance(node, MappingNode):
        raise LoadError(file, 1, "the signing policy must be one YAML mapping")
    values: dict[str, Any] = plain(node)
    lines = {str(key): line for key, line in node.key_lines.items()}
    mode = values.get("mode")
    if mode == "keyless":
        return _keyless(values, lines, file)
    if mode == "key":
        return _key_mode(values, lines, file, root)
    raise LoadError(
        file, lines.get("mode", 1), f"mode {mode!r} is neither 'keyless' nor 'key'"
    )


def _keyless(values: dict[str, Any], lines: dict[str, int], file: str) -> SigningPolicy:
    for field in KEYLESS_FIELDS:
        if not isinstance(values.get(field), str) or not values[field]:
            raise LoadError(
                file,
                lines.get(field, 1),
                f"keyless mode needs {field} as a non-empty string",
            )
    return SigningPolicy(
        mode="keyless",
        location=Location(file, 1),
        predicate_type=values.get("predicate_type"),
        lines=lines,
        **{field: values[field] for field in KEYLESS_FIELDS},
    )


def _key_mode(
    values: dict[str, Any], lines: dict[str, int], file: str, root: Path
) -> SigningPolicy:
    key = values.get("public_key")
    if not isinstance(key, str) or not key:
        raise LoadError(
            file,
            lines.get("mode", 1),
            "key mode needs public_key: the path of the PEM public key",
        )
    return SigningPolicy(
        mode="key",
        location=Location(file, 1),
        public_key=root / key,
        predicate_type=values.get("predicate_type"),
        lines=lines,
    )


def load_signing_policy(evidence: Evidence) -> SigningPolicy:
    """compliance/signing-policy.yaml of the repository, read once.

    Raises LoadError when it is missing or malformed.
    """

    def read(ev: Evidence) -> SigningPolicy:
        if not (ev.root / POLICY_FILE).is_file():
            raise LoadError(POLICY_FILE, None, "the signing policy is missing")
        return parse_signing_policy(ev.read_bytes(POLICY_FILE), POLICY_FILE, ev.root)

    return evidence.load("signature:signing-policy", read)


def identity_policy(signing: SigningPolicy) -> sigstore_policy.VerificationPolicy:
    """The sigstore verification policy for a keyless signing policy.

    Every pinned field must match: SAN and issuer (Fulcio's legacy issuer
    extension), issuer again in its v2 form (1.3.6.1.4.1.57264.1.8), and the
    source repository URI, ref and numeric identifier (…1.12, …1.14, …1.15).
    """
    # sigstore is imported only when a signature is verified: it costs about
    # 0.3 s and 50 MB, which a run without a bundle does not need to pay.
    from sigstore.verify import policy as sigstore_policy  # noqa: PLC0415

    return sigstore_policy.AllOf(
        [
            sigstore_policy.Identity(identity=signing.identity, issuer=signing.issuer),
            sigstore_policy.OIDCIssuerV2(signing.issuer),
            sigstore_policy.OIDCSourceRepositoryURI(signing.source_repository_uri),
            sigstore_policy.OIDCSourceRepositoryRef(signing.source_repository_ref),
            sigstore_policy.OIDCSourceRepositoryIdentifier(signing.project_id),
        ]
    )


def identity_only(identity: str, issuer: str) -> sigstore_policy.VerificationPolicy:
    """The policy of the command line: SAN and issuer only."""
    from sigstore.verify import policy as sigstore_policy  # noqa: PLC0415

    return sigstore_policy.Identity(identity=identity, issuer=issuer)
