"""Measure HCL parsing speed: the suite's own parser against the library parsers.

The repository's .tf files are concatenated and replicated to about 1 MB, then
each available parser reads the whole text; the best of ``--rounds`` runs is
reported in KB/s. Usage::

    python benchmarks/hcl_parse.py [--size-kb 1024] [--rounds 3]
        [--python-hcl2-path DIR] [--estate N]

``hcl2`` is whichever distribution owns that module name in the environment
(bc-python-hcl2 is installed over python-hcl2); ``--python-hcl2-path`` points
at a separate install of python-hcl2 (``pip install --target DIR``) so that
both library versions can be measured side by side. ``--estate N`` also
generates a stack of N buckets (2N resource instances, each with its
versioning) and times loading the model and running the S3 controls on it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from tenon_compliance.controls.base import all_controls  # noqa: E402
from tenon_compliance.engine import cases, run_case  # noqa: E402
from tenon_compliance.evidence import Evidence, Options  # noqa: E402
from tenon_compliance.loaders import hcl, terraform  # noqa: E402 - after the path setup


def corpus(size_kb: int) -> str:
    """The repository's .tf files, concatenated and repeated to about size_kb."""
    files = sorted((REPO / "infra" / "terraform").rglob("*.tf"))
    text = "\n".join(path.read_text(encoding="utf-8") for path in files)
    if not text.strip():
        raise SystemExit("no .tf file under infra/terraform to measure")
    copies = max(1, (size_kb * 1024) // len(text.encode()))
    return "\n".join([text] * copies)


def best_rate(parse: Callable[[str], object], text: str, rounds: int) -> float:
    """The best throughput of parse over text, in KB/s."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        parse(text)
        best = min(best, time.perf_counter() - start)
    return len(text.encode()) / 1024 / best


Parser = tuple[Callable[[str], object], str]


def library(path: str | None) -> Parser | None:
    """hcl2.loads and its version, from the environment or from path."""
    saved = list(sys.path)
    try:
        if path:
            sys.path.insert(0, path)
            loaded = [m for m in sys.modules if m == "hcl2" or m.startswith("hcl2.")]
            for name in loaded:
                del sys.modules[name]
        module = importlib.import_module("hcl2")
    except ImportError:
        return None
    finally:
        sys.path[:] = saved
    return module.loads, str(getattr(module, "__version__", "?"))


_BUCKET = """\
resource "aws_s3_bucket" "b{i}" {{
  bucket = "${{local.name}}-bucket-{i}"
  tags   = merge(local.tags, {{ Index = "{i}" }})
}}

resource "aws_s3_bucket_versioning" "b{i}" {{
  bucket = aws_s3_bucket.b{i}.id

  versioning_configuration {{
    status = "Enabled"
  }}
}}
"""


def estate(count: int) -> None:
    """Time loading and checking a generated stack of count buckets."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        stack = root / "infra/terraform/envs/prod"
        stack.mkdir(parents=True)
        header = 'locals {\n  name = "tenon-prod"\n  tags = { env = "prod" }\n}\n'
        body = "\n".join(_BUCKET.format(i=i) for i in range(count))
        (stack / "main.tf").write_text(header + body, encoding="utf-8")

        evidence = Evidence(Options(root=root))
        start = time.perf_counter()
        tree = terraform.model(evidence)
        loaded = time.perf_counter() - start
        instances = len(tree.stacks[0].resources)
        print(f"estate: {instances} instances loaded in {loaded:.2f} s")

        start = time.perf_counter()
        checked = 0
        for control in all_controls():
            if control.id.startswith("TF-S3-"):
                results = [run_case(c, evidence) for c in cases(control, evidence)]
                checked += len(results)
        print(
            f"estate: {checked} S3 cases checked in {time.perf_counter() - start:.2f} s"
        )


def main() -> None:
    """Print one line per parser: name, version, KB/s on the corpus."""
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--size-kb", type=int, default=1024)
    arguments.add_argument("--rounds", type=int, default=3)
    arguments.add_argument("--python-hcl2-path")
    arguments.add_argument("--estate", type=int, default=0)
    options = arguments.parse_args()

    text = corpus(options.size_kb)
    print(f"corpus: {len(text.encode()) / 1024:.0f} KB of the repository's .tf files")
    own: Parser = (lambda source: hcl.parse(source, "bench.tf"), "own")
    candidates: list[tuple[str, Parser | None]] = [
        ("tenon_compliance.loaders.hcl", own),
        ("hcl2 (environment)", library(None)),
    ]
    if options.python_hcl2_path:
        at_path = library(options.python_hcl2_path)
        candidates.append(("hcl2 (python-hcl2 at path)", at_path))
    for name, parser in candidates:
        if parser is None:
            print(f"{name:32} not installed")
            continue
        parse, version = parser
        rate = best_rate(parse, text, options.rounds)
        print(f"{name:32} {version:8} {rate:10.0f} KB/s")
    if options.estate:
        estate(options.estate)


if __name__ == "__main__":
    main()
