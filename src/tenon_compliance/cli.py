"""The ``tenon-compliance`` command.

- ``tenon-compliance catalog [--format json|text]``: every RFC-16 clause with
  its controls and status (proven, or not proven with the reason);
- ``tenon-compliance verify-signature ...``: verify an image's Sigstore bundle
  offline (see ``tenon_compliance.signature.cli``).

Exit codes: 0 success, 1 a check failed, 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from tenon_compliance.catalog import Catalog, load_catalog
from tenon_compliance.errors import ComplianceError
from tenon_compliance.signature import cli as signature_cli


def main(argv: list[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.run(args))
    except ComplianceError as error:
        print(f"tenon-compliance: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tenon-compliance", description="TENON's RFC-16 compliance suite"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    catalog = commands.add_parser("catalog", help="print the control catalog")
    catalog.add_argument("--format", choices=("json", "text"), default="text")
    catalog.set_defaults(run=_catalog)

    verify = commands.add_parser(
        "verify-signature", help="verify a Sigstore bundle for an image digest, offline"
    )
    signature_cli.add_arguments(verify)
    verify.set_defaults(run=signature_cli.run)
    return parser


def _catalog(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    if args.format == "json":
        json.dump(catalog.to_json(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(_catalog_text(catalog))
    return 1 if catalog.problems() else 0


def _catalog_text(catalog: Catalog) -> str:
    lines = [f"RFC-16 control catalog {catalog.version}"]
    for clause in catalog.clauses:
        lines.append(f"{clause.id} [{clause.status}] {clause.text}")
        lines.extend(f"    {control}" for control in clause.controls)
        if clause.not_proven:
            lines.append(f"    not proven: {clause.not_proven}")
    lines.extend(f"PROBLEM: {problem}" for problem in catalog.problems())
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
