"""The compliance suite against Checkov on the same generated estate, side by side.

One command::

    python benchmarks/run.py [--sizes 2000 10000] [--runs 3] [--violations 5]

For each size, benchmarks/generate_estate.py writes an estate with seeded
violations. Then, ``--runs`` times, in alternation (the order flips every run):

- **cold**: each tool on a fresh copy of the estate at a new path, the
  suite's result cache emptied first. The page cache is warm: the files were
  just written, and this shared machine gives no way to drop it;
- **warm**: each tool again on the same copy, inputs unchanged: page cache
  warm and the suite's result cache holding the cold run's entry.

The suite is ``python -m pytest compliance/ --root ESTATE --junit-report TMP
--result-cache WORK/suite-result-cache`` run from this repository (JUnit
included), as CI runs it. Checkov runs from its own virtual
environment (``--checkov-venv``, created with ``pip install checkov`` on first
use; never a dependency of the project) as::

    checkov -d ESTATE/infra/terraform -d ESTATE/k8s -d ESTATE/docker
        --framework terraform kubernetes kustomize dockerfile --skip-download

so it reads the same Terraform, the raw manifests, and renders every
kustomization itself (its kustomize framework calls kubectl kustomize, as the
suite does). At the largest size the suite also runs with ``-n auto``
(pytest-xdist) against one process, cold and warm.

Each run records wall time, CPU time (user + system of the process and every
descendant it waited for, from wait4), the peak RSS of the largest process
(ru_maxrss) and the peak PSS summed over the process tree (sampled from
/proc/*/smaps_rollup every 50 ms; PSS shares a page among the processes that
map it, so forked workers are not counted twice). The medians are printed
with the ratios suite / Checkov, the time per object, every target met or
not, and for every seeded violation whether each tool reported it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import venv
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import generate_estate  # noqa: E402 - benchmarks/ is not a package

CACHE = Path.home() / ".cache" / "tenon-bench"
RESULT_CACHE = "suite-result-cache"  # under --work; emptied before a cold run
CHECKOV_FRAMEWORKS = ("terraform", "kubernetes", "kustomize", "dockerfile")
_FINDING = re.compile(
    r"^(?P<file>[^\s:]+)(:\d+)?: \[(?P<control>\S+) [^\]]*\] (?P<subject>\S+): "
)


class BenchmarkError(Exception):
    """A tool could not be run or its output not read; the message says why."""


# --- measuring one run --------------------------------------------------------


@dataclass
class Sample:
    """One measured run of one tool."""

    wall: float
    cpu: float
    max_rss_mb: float
    tree_pss_mb: float
    returncode: int


def _children(pid: int) -> list[int]:
    """pid and all its descendants, from /proc (gone processes are skipped)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _tree_pss(pid: int) -> int:
    """Proportional set size (bytes) of pid and its descendants now.

    PSS, not RSS: forked workers share pages with their parent, and a sum of
    RSS would count those pages once per process.
    """
    total = 0
    for child in _children(pid):
        try:
            with open(f"/proc/{child}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total


def measure(command: list[str], cwd: Path, log: Path) -> Sample:
    """Run command, wait for it, and return its wall, CPU and memory figures."""
    started = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT
        )
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.05):
                peak[0] = max(peak[0], _tree_pss(process.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    return Sample(
        wall=time.perf_counter() - started,
        cpu=usage.ru_utime + usage.ru_stime,
        max_rss_mb=usage.ru_maxrss / 1024,
        tree_pss_mb=peak[0] / 2**20,
        returncode=process.returncode,
    )


# --- the tools ----------------------------------------------------------------


def ensure_checkov(directory: Path) -> Path:
    """The checkov executable of the benchmark's own venv, installed if missing."""
    executable = directory / "bin" / "checkov"
    if executable.exists():
        return executable
    print(f"installing checkov into {directory} (pip install checkov)", flush=True)
    venv.create(directory, with_pip=True)
    subprocess.run(
        [str(directory / "bin" / "python"), "-m", "pip", "install", "-q", "checkov"],
        check=True,
    )
    return executable


def suite_command(
    estate: Path, junit: Path, cache: Path, workers: str | None = None
) -> list[str]:
    command = [
        sys.executable, "-m", "pytest", "compliance/", "-q", "-p", "no:randomly",
        "--root", str(estate), "--junit-report", str(junit),
        "--result-cache", str(cache),
    ]  # fmt: skip
    return [*command, "-n", workers] if workers else command


def checkov_command(checkov: Path, estate: Path, output: Path) -> list[str]:
    targets = [f"{estate}/infra/terraform", f"{estate}/k8s", f"{estate}/docker"]
    return [
        str(checkov),
        *(item for target in targets for item in ("-d", target)),
        "--framework", *CHECKOV_FRAMEWORKS,
        "--skip-download", "--quiet", "--compact",
        "-o", "json", "--output-file-path", str(output),
    ]  # fmt: skip


# --- findings -----------------------------------------------------------------

Key = tuple[str, str, str]


def suite_findings(junit: Path) -> Counter[Key]:
    """(control, subject, file) of every finding line in the suite's JUnit."""
    if not junit.is_file():
        raise BenchmarkError(f"{junit}: the suite wrote no JUnit")
    found: Counter[Key] = Counter()
    for element in ET.parse(junit).iter("failure"):  # noqa: S314 - our own report
        for line in (element.text or "").splitlines():
            match = _FINDING.match(line)
            if match:
                found[(match["control"], match["subject"], match["file"])] += 1
    return found


@dataclass(frozen=True)
class CheckovFinding:
    check_id: str
    framework: str
    file: str
    resource: str


def checkov_findings(output: Path) -> list[CheckovFinding]:
    """Every failed check of Checkov's JSON report."""
    path = output / "results_json.json"
    if not path.is_file():
        raise BenchmarkError(f"{path}: Checkov wrote no report")
    data = json.loads(path.read_text())
    reports = data if isinstance(data, list) else [data]
    return [
        CheckovFinding(
            check["check_id"],
            report.get("check_type", ""),
            check.get("file_path", ""),
            check.get("resource", ""),
        )
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


def _mentions(service: str) -> re.Pattern[str]:
    names = (service, service.replace("-", "_"))
    return re.compile("|".join(rf"{re.escape(name)}(?!\d)" for name in names))


def _normalized(found: list[CheckovFinding], service: str) -> Counter[Key]:
    pattern = _mentions(service)
    return Counter(
        (f.check_id, f.framework, pattern.sub("SVC", f"{f.file} {f.resource}"))
        for f in found
        if pattern.search(f"{f.file} {f.resource}")
    )


def checkov_catches(
    found: list[CheckovFinding], seeded: generate_estate.Seeded, clean: str
) -> list[str]:
    """Checks Checkov fails on the seeded service and not on a clean one."""
    extra = _normalized(found, seeded.service) - _normalized(found, clean)
    return sorted({check for check, _, _ in extra})


# --- the benchmark --------------------------------------------------------------


@dataclass
class Series:
    """The samples of one tool in one mode at one size."""

    samples: list[Sample] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(s, attribute) for s in self.samples)


@dataclass
class SizeResult:
    size: int
    objects: int
    estate: generate_estate.Estate
    series: dict[str, Series] = field(default_factory=dict)
    suite_found: Counter[Key] = field(default_factory=Counter)
    checkov_found: list[CheckovFinding] = field(default_factory=list)

    def add(self, name: str, sample: Sample) -> None:
        self.series.setdefault(name, Series()).samples.append(sample)


def _run_suite(
    result: SizeResult,
    mode: str,
    *,
    estate: Path,
    scratch: Path,
    workers: str | None,
    cache: Path,
    label: str = "suite",
) -> None:
    name = f"{label}-{mode}"
    junit = scratch / f"junit-{name}.xml"
    junit.unlink(missing_ok=True)
    if mode == "cold":
        shutil.rmtree(cache, ignore_errors=True)
    sample = measure(
        suite_command(estate, junit, cache, workers), REPO, scratch / f"{name}.log"
    )
    if sample.returncode not in (0, 1):
        raise BenchmarkError(
            f"suite exited {sample.returncode}: see {scratch}/{name}.log"
        )
    result.suite_found = suite_findings(junit)
    result.add(name, sample)


def _run_checkov(
    result: SizeResult, mode: str, checkov: Path, estate: Path, scratch: Path
) -> None:
    name = f"checkov-{mode}"
    output = scratch / f"checkov-{name}"
    shutil.rmtree(output, ignore_errors=True)
    sample = measure(
        checkov_command(checkov, estate, output), scratch, scratch / f"{name}.log"
    )
    if sample.returncode not in (0, 1):
        raise BenchmarkError(
            f"checkov exited {sample.returncode}: see {scratch}/{name}.log"
        )
    result.checkov_found = checkov_findings(output)
    result.add(name, sample)


def bench_size(
    size: int, runs: int, violations: int, checkov: Path, work: Path, *, xdist: bool
) -> SizeResult:
    """Generate the estate of one size and measure both tools on it."""
    source = work / f"estate-{size}"
    shutil.rmtree(source, ignore_errors=True)
    estate = generate_estate.generate(size, source, violations)
    objects = sum(estate.objects.values())
    print(
        f"\n== {size} objects asked: {objects} generated {estate.objects}", flush=True
    )
    result = SizeResult(size, objects, estate)
    scratch = work / f"scratch-{size}"
    scratch.mkdir(exist_ok=True)
    cache = work / RESULT_CACHE

    for run in range(runs):
        copy = work / f"run-{size}-{run}"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(source, copy, symlinks=True)
        steps: list[Callable[[str], None]] = [
            partial(
                _run_suite,
                result,
                estate=copy,
                scratch=scratch,
                workers=None,
                cache=cache,
            ),
            partial(
                _run_checkov, result, checkov=checkov, estate=copy, scratch=scratch
            ),
        ]
        if run % 2:
            steps.reverse()
        for mode in ("cold", "warm"):
            for step in steps:
                step(mode)
        if xdist:
            _xdist_pair(result, run, copy, scratch, cache)
        shutil.rmtree(copy, ignore_errors=True)
        _progress(result, run)
    return result


def _xdist_pair(
    result: SizeResult, run: int, estate: Path, scratch: Path, cache: Path
) -> None:
    """``-n auto`` against one process, cold then warm, the order flipping.

    Each has its own copy and its own result cache, so that the cold run of
    one does not empty the cache the other's warm run replays.
    """
    pair = [("xdist", "auto"), ("one-process", None)]
    for mode in ("cold", "warm"):
        for label, workers in pair if run % 2 == 0 else reversed(pair):
            copy = estate.with_name(f"{estate.name}-{label}")
            if mode == "cold":
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(estate, copy, symlinks=True)
            _run_suite(
                result,
                mode,
                estate=copy,
                scratch=scratch,
                workers=workers,
                cache=cache.with_name(f"{cache.name}-{label}"),
                label=label,
            )
    for label, _ in pair:
        shutil.rmtree(estate.with_name(f"{estate.name}-{label}"), ignore_errors=True)


def _progress(result: SizeResult, run: int) -> None:
    last = {name: series.samples[-1] for name, series in result.series.items()}
    shown = ", ".join(
        f"{name} {s.wall:.1f}s/{s.cpu:.1f}cpu" for name, s in last.items()
    )
    print(f"  run {run + 1}: {shown}", flush=True)


# --- report -----------------------------------------------------------------------


def report(result: SizeResult) -> None:
    """Print the medians, ratios, time per object and seeded-violation findings."""
    s = result.series
    print(f"\n## {result.objects} objects {result.estate.objects}, "
          f"{len(s['suite-cold'].samples)} runs, medians")  # fmt: skip
    header = f"{'':22}{'wall s':>9}{'cpu s':>9}{'maxRSS MB':>11}{'treePSS MB':>12}"
    print(header)
    for name, series in s.items():
        print(
            f"{name:22}{series.median('wall'):9.2f}{series.median('cpu'):9.2f}"
            f"{series.median('max_rss_mb'):11.0f}{series.median('tree_pss_mb'):12.0f}"
        )
    for mode in ("cold", "warm"):
        suite, checkov = s[f"suite-{mode}"], s[f"checkov-{mode}"]
        ratios = {
            attribute: suite.median(attribute) / checkov.median(attribute)
            for attribute in ("wall", "cpu", "max_rss_mb", "tree_pss_mb")
        }
        print(f"ratio suite/checkov {mode}: " + ", ".join(
            f"{key} {value:.2f}" for key, value in ratios.items()))  # fmt: skip
    for name in ("suite-cold", "suite-warm", "checkov-cold", "checkov-warm"):
        per = s[name].median("wall") / result.objects * 1000
        print(f"{name} ms per object: {per:.2f}")
    for mode in ("cold", "warm"):
        if f"xdist-{mode}" in s:
            ratio = s[f"xdist-{mode}"].median("wall") / s[f"one-process-{mode}"].median(
                "wall"
            )
            print(f"xdist -n auto / one process, {mode} (wall): {ratio:.2f}")
    _report_seeded(result)


def report_targets(results: list[SizeResult]) -> None:
    """Every target of the benchmark, met or not, from this run's medians."""
    print("\n## targets (suite / Checkov unless said)")
    rows: list[tuple[str, float, float]] = []
    for result in results:
        s, n = result.series, result.objects
        for mode, limit in (("cold", 1 / 3), ("warm", 1 / 10)):
            ratio = s[f"suite-{mode}"].median("wall") / s[f"checkov-{mode}"].median(
                "wall"
            )
            rows.append((f"{n} objects, {mode} wall time", ratio, limit))
        for attribute in ("max_rss_mb", "tree_pss_mb"):
            ratio = s["suite-cold"].median(attribute) / s["checkov-cold"].median(
                attribute
            )
            rows.append((f"{n} objects, cold {attribute}", ratio, 1 / 3))
        for mode in ("cold", "warm"):
            if f"xdist-{mode}" in s:
                ratio = s[f"xdist-{mode}"].median("wall") / s[
                    f"one-process-{mode}"
                ].median("wall")
                rows.append((f"{n} objects, xdist / one process {mode}", ratio, 1.0))
    if len(results) > 1:
        small, large = results[0], results[-1]
        per = [
            r.series["suite-cold"].median("wall") / r.objects for r in (small, large)
        ]
        rows.append(
            (
                f"time per object cold, {large.objects} / {small.objects}",
                per[1] / per[0],
                1.0,
            )
        )
    for name, ratio, limit in rows:
        verdict = "met" if ratio <= limit else "NOT MET"
        print(f"  {name:48} {ratio:6.2f}  (at most {limit:.2f}) {verdict}")


def _report_seeded(result: SizeResult) -> None:
    seeded = result.estate.violations
    used = {item.service for item in seeded}
    clean = next(
        (
            name
            for name in generate_estate.service_names(result.estate.services)
            if name not in used
        ),
        None,
    )
    if clean is None:
        print("every service carries a seeded violation: ask for more objects")
        return
    print(f"seeded violations ({len(seeded)}), clean reference service {clean}:")
    expected_total = caught_total = 0
    checkov_caught = 0
    for item in seeded:
        expected = Counter((e.control, e.subject, e.file) for e in item.findings)
        got = sum((expected & result.suite_found).values())
        expected_total += sum(expected.values())
        caught_total += got
        checks = checkov_catches(result.checkov_found, item, clean)
        checkov_caught += bool(checks)
        print(
            f"  {item.kind:13} {item.service}: suite {got}/{sum(expected.values())} "
            f"findings; checkov {', '.join(checks) or 'MISSED'}"
        )
    print(
        f"suite: {caught_total}/{expected_total} expected findings, "
        f"{sum(result.suite_found.values())} findings in all; "
        f"checkov: {checkov_caught}/{len(seeded)} seeded violations caught, "
        f"{len(result.checkov_found)} failed checks in all"
    )


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def _memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--violations", type=int, default=5)
    parser.add_argument("--work", type=Path, default=CACHE / "work")
    parser.add_argument("--checkov-venv", type=Path, default=CACHE / "checkov-venv")
    parser.add_argument("--no-xdist", action="store_true")
    args = parser.parse_args(argv)

    args.work.mkdir(parents=True, exist_ok=True)
    checkov = ensure_checkov(args.checkov_venv)
    print("command: python " + " ".join(sys.argv))
    print(f"machine: {_cpu_model()}, {os.cpu_count()} cores, {_memory_gb():.0f} GB, "
          f"load average {os.getloadavg()}")  # fmt: skip
    results = []
    for size in sorted(args.sizes):
        xdist = not args.no_xdist and size == max(args.sizes)
        result = bench_size(
            size, args.runs, args.violations, checkov, args.work, xdist=xdist
        )
        report(result)
        results.append(result)
    report_targets(results)
    print(f"load average at the end {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
