"""The benchmark script measures what it says and judges every target right.

The figures in README.md and docs/benchmarks.md come from benchmarks/run.py;
these tests hold its measuring, its reading of both tools' reports and its
verdicts to real behaviour, without running Checkov.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import generate_estate  # noqa: E402 - benchmarks/ is not a package
import run  # noqa: E402 - benchmarks/ is not a package


def test_measure_reports_the_peak_memory_and_cpu_of_a_real_process(
    tmp_path: Path,
) -> None:
    script = (
        "import time\n"
        "block = bytearray(80 * 2**20)\n"
        "block[::4096] = b'x' * len(block[::4096])\n"
        "end = time.process_time() + 0.3\n"
        "while time.process_time() < end: pass\n"
    )

    sample = run.measure([sys.executable, "-c", script], tmp_path, tmp_path / "log")

    assert sample.returncode == 0
    assert sample.max_rss_mb >= 80
    assert sample.tree_pss_mb >= 60  # sampled every 50 ms, while the block lived
    assert sample.cpu >= 0.3
    assert sample.wall >= sample.cpu * 0.5


def test_measure_counts_the_memory_of_child_processes_in_the_tree(
    tmp_path: Path,
) -> None:
    child = (
        "import time; b = bytearray(60 * 2**20); "
        "b[::4096] = b'x' * len(b[::4096]); time.sleep(0.5)"
    )
    parent = (
        f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    )

    sample = run.measure([sys.executable, "-c", parent], tmp_path, tmp_path / "log")

    assert sample.tree_pss_mb >= 60, sample
    assert sample.max_rss_mb >= 60, "ru_maxrss covers waited-for descendants"


def test_suite_findings_reads_every_finding_line_of_the_junit(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    junit.write_text(
        "<testsuites><testsuite>"
        '<testcase name="K8S-REPLICAS[stage:Deployment/svc-0001]"><failure message="m">'
        "k8s/overlays/stage/kustomization.yaml:12: [K8S-REPLICAS ORC-2] "
        "stage:Deployment/svc-0001: 1 replica\n"
        "</failure></testcase>"
        '<testcase name="ok"/>'
        "</testsuite></testsuites>",
        encoding="utf-8",
    )

    found = run.suite_findings(junit)

    assert found == {
        (
            "K8S-REPLICAS",
            "stage:Deployment/svc-0001",
            "k8s/overlays/stage/kustomization.yaml",
        ): 1
    }
    ET.parse(junit)  # the fixture itself is well-formed


def test_suite_findings_without_a_junit_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        run.BenchmarkError, match=r"junit\.xml: the suite wrote no JUnit"
    ):
        run.suite_findings(tmp_path / "junit.xml")


def test_checkov_is_credited_only_with_checks_the_clean_service_passes() -> None:
    finding = run.CheckovFinding
    found = [
        finding("CKV_K8S_16", "kubernetes", "/k8s/base/services/svc-0002/d.yaml", "x"),
        finding("CKV_K8S_8", "kubernetes", "/k8s/base/services/svc-0002/d.yaml", "x"),
        finding("CKV_K8S_8", "kubernetes", "/k8s/base/services/svc-0001/d.yaml", "x"),
        finding("CKV_K8S_16", "kubernetes", "/k8s/base/services/svc-00021/d.yaml", "x"),
    ]
    seeded = generate_estate.Seeded("privileged", "svc-0002")

    assert run.checkov_catches(found, seeded, "svc-0001") == ["CKV_K8S_16"]


def sample(wall: float, rss: float = 100.0, pss: float = 100.0) -> run.Sample:
    return run.Sample(
        wall=wall, cpu=wall, max_rss_mb=rss, tree_pss_mb=pss, returncode=1
    )


def size_result(objects: int, walls: dict[str, float]) -> run.SizeResult:
    estate = generate_estate.Estate("estate", 1, {"kubernetes": objects}, [])
    result = run.SizeResult(objects, objects, estate)
    for name, wall in walls.items():
        rss = 300.0 if name.startswith("checkov") else 90.0
        result.add(name, sample(wall, rss, rss))
    return result


def test_every_target_is_judged_from_the_medians(
    capsys: pytest.CaptureFixture[str],
) -> None:
    small = size_result(
        1000,
        {
            "suite-cold": 3.0,
            "checkov-cold": 12.0,
            "suite-warm": 1.0,
            "checkov-warm": 12.0,
        },
    )
    large = size_result(
        5000,
        {
            "suite-cold": 20.0,
            "checkov-cold": 50.0,
            "suite-warm": 4.0,
            "checkov-warm": 50.0,
            "xdist-cold": 19.0,
            "one-process-cold": 20.0,
            "xdist-warm": 5.0,
            "one-process-warm": 4.0,
        },
    )
    large.add("suite-cold", sample(100.0))  # one slow run of three: the median holds
    large.add("suite-cold", sample(21.0))

    run.report_targets([small, large])

    met = {
        line.split("  ")[1].strip(): not line.endswith("NOT MET")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("  ")
    }
    assert met["1000 objects, cold wall time"]  # 0.25
    assert met["1000 objects, warm wall time"]  # 0.08
    assert not met["5000 objects, cold wall time"]  # median 21 s: 0.42
    assert met["5000 objects, warm wall time"]  # 0.08
    assert met["5000 objects, cold max_rss_mb"]  # 0.30
    assert met["5000 objects, xdist / one process cold"]  # 0.95
    assert not met["5000 objects, xdist / one process warm"]  # 1.25
    # 21 s / 5000 against 3 s / 1000: 1.4 times the time per object
    assert not met["time per object cold, 5000 / 1000"]
