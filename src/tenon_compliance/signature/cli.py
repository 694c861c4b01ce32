"""``tenon-compliance verify-signature``: verify an image's bundle offline.

Exit status: 0 when the bundle verifies and binds to the digest, 1 when it is
rejected (the reason on stderr), 2 when the input is unusable (a missing or
unreadable file, a malformed digest, an unreadable trust root or key).
No network is used: the trust root is a file (Sigstore's production root,
shipped in the sigstore package, unless --trusted-root names another).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sigstore.models import TrustedRoot

from tenon_compliance.errors import SignatureError
from tenon_compliance.signature.keyed import load_public_key, verify_keyed_bundle
from tenon_compliance.signature.policy import identity_only
from tenon_compliance.signature.verify import (
    DigestFormatError,
    VerifiedSignature,
    digest_bytes,
    load_trusted_root,
    verify_bundle,
)

VERIFIED, REJECTED, UNUSABLE = 0, 1, 2


class UnusableInputError(Exception):
    """An input the command cannot work with (exit status 2)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of verify-signature."""
    parser.add_argument(
        "--bundle", type=Path, required=True, help="the Sigstore bundle (JSON)"
    )
    parser.add_argument(
        "--digest",
        required=True,
        help="the image manifest digest, sha256:<hex>, taken from "
        "the deployment, not from the bundle",
    )
    parser.add_argument("--identity", help="the certificate SAN that must sign")
    parser.add_argument("--issuer", help="the OIDC issuer of that identity")
    parser.add_argument(
        "--key",
        type=Path,
        help="key mode: the signer's PEM public key (instead of --identity/--issuer)",
    )
    parser.add_argument(
        "--trusted-root",
        type=Path,
        help="trusted_root.json (default: Sigstore production)",
    )
    parser.add_argument(
        "--predicate-type", help="require an in-toto statement with this predicate type"
    )


def run(args: argparse.Namespace) -> int:
    """Verify and print the result; return the exit status."""
    try:
        verified = _verify(args)
    except UnusableInputError as error:
        print(f"unusable input: {error}", file=sys.stderr)
        return UNUSABLE
    except SignatureError as error:
        print(f"rejected: {error}", file=sys.stderr)
        return REJECTED
    print(
        f"verified: {args.bundle} signs {verified.digest} ({verified.kind}"
        + (f", {verified.predicate_type}" if verified.predicate_type else "")
        + ")"
    )
    return VERIFIED


def _verify(args: argparse.Namespace) -> VerifiedSignature:
    try:
        digest_bytes(args.digest)
    except DigestFormatError as error:
        raise UnusableInputError(str(error)) from error
    data = _read(args.bundle, "bundle")
    trusted_root = _trusted_root(args.trusted_root)
    where = str(args.bundle)

    if args.key is not None:
        if args.identity or args.issuer or args.predicate_type:
            raise UnusableInputError(
                "--key excludes --identity, --issuer and --predicate-type"
            )
        try:
            key = load_public_key(_read(args.key, "public key"), str(args.key))
        except SignatureError as error:
            raise UnusableInputError(str(error)) from error
        return verify_keyed_bundle(
            data,
            digest=args.digest,
            public_key=key,
            trusted_root=trusted_root,
            where=where,
        )

    if not args.identity or not args.issuer:
        raise UnusableInputError("--identity and --issuer are required (or --key)")
    return verify_bundle(
        data,
        digest=args.digest,
        policy=identity_only(args.identity, args.issuer),
        trusted_root=trusted_root,
        predicate_type=args.predicate_type,
        where=where,
    )


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UnusableInputError(
            f"{path}: cannot read the {what} ({error.strerror})"
        ) from error


def _trusted_root(path: Path | None) -> TrustedRoot:
    if path is not None:
        _read(path, "trusted root")
    try:
        return load_trusted_root(path)
    except SignatureError as error:
        raise UnusableInputError(str(error)) from error


def main(argv: list[str] | None = None) -> int:
    """Run verify-signature alone: ``python -m tenon_compliance.signature.cli``."""
    parser = argparse.ArgumentParser(
        prog="tenon-compliance verify-signature", description=__doc__.split("\n")[0]
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
