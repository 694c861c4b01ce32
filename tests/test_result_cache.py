"""The result cache: a run over unchanged inputs replays, any other run evaluates.

The end-to-end tests run the main job as CI does (``--result-cache DIR``) on
copies of the repository and compare what an auditor reads: the exit code,
the terminal and the JUnit. The others drive ``ResultCache``, ``evaluate`` and
``settle`` directly on copies of the repository.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest

from tenon_compliance.engine import Outcome
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.result_cache import KEEP, CacheMissError, ResultCache
from tenon_compliance.results import (
    CaseResult,
    Evaluation,
    SubjectResults,
    evaluate,
    settle,
)
from tenon_compliance.waivers import Waiver
from tests.conftest import copy_repository
from tests.test_suite_run import junit_cases, properties, run_suite

PROD_KUSTOMIZATION = "k8s/overlays/prod/kustomization.yaml"
PROD_REPLICAS = "K8S-REPLICAS[prod:Deployment/runtime-api]"
WAIVERS = "compliance/waivers.yaml"
REPLICAS_WAIVER = """\
waivers:
  - control: K8S-REPLICAS
    subject: "prod:Deployment/runtime-api"
    reason: two replicas while the third zone is rebuilt
    approver: jane.doe
    expiry: 2999-01-01
"""


# --- helpers -------------------------------------------------------------------


def suite_properties(report: Path) -> dict[str, str]:
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None, f"{report} has no testsuite"
    return properties(suite)


def cache_status(report: Path) -> str:
    return suite_properties(report)["result.cache"]


def junit_testcases(report: Path) -> dict[str, str]:
    """Every testcase as XML (everything but its duration), by name."""
    found: dict[str, str] = {}
    for case in ET.parse(report).iter("testcase"):
        case.attrib.pop("time", None)
        case.tail = None
        found[case.get("name", "")] = ET.tostring(case, encoding="unicode")
    return found


def suite_counts(report: Path) -> dict[str, str]:
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    return {
        key: suite.get(key, "") for key in ("tests", "failures", "errors", "skipped")
    }


def outcome_element(report: Path, name: str) -> ET.Element | None:
    """The failure, error or skipped element of the named testcase, if any."""
    case = ET.parse(report).getroot().find(f".//testcase[@name='{name}']")
    assert case is not None, f"{report} has no testcase {name}"
    for tag in ("failure", "error", "skipped"):
        element = case.find(tag)
        if element is not None:
            return element
    return None


def edit(root: Path, relative: str, old: str, new: str) -> int:
    """Replace the only occurrence of old; return the 1-based line of new."""
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{relative}: {old!r} is not there exactly once"
    text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    return text[: text.index(new)].count("\n") + 1


def entry_key(status: str) -> str:
    """The 16 hex digits of the entry a status names (stored or replayed)."""
    found = re.search(r"entry ([0-9a-f]{16})", status)
    assert found, f"no entry in {status!r}"
    return found.group(1)


@dataclass
class Run:
    done: subprocess.CompletedProcess[str]
    report: Path

    @property
    def output(self) -> str:
        return self.done.stdout + self.done.stderr

    @property
    def status(self) -> str:
        return cache_status(self.report)


def cached_run(root: Path, cache: Path, report: Path, *extra: str) -> Run:
    done = run_suite(root, report, "--result-cache", str(cache), *extra)
    return Run(done, report)


# --- end to end: one copy, one cache, four runs ----------------------------------


@dataclass
class CleanRuns:
    root: Path
    cache: Path
    first: Run
    second: Run


@pytest.fixture(scope="module")
def clean_runs(tmp_path_factory: pytest.TempPathFactory) -> CleanRuns:
    """Two cached runs over the same unchanged copy of the repository."""
    base = tmp_path_factory.mktemp("cached")
    root = copy_repository(base / "repo")
    cache = base / "cache"
    first = cached_run(root, cache, base / "first.xml")
    second = cached_run(root, cache, base / "second.xml")
    return CleanRuns(root, cache, first, second)


@dataclass
class ViolationRuns:
    violation_line: int
    violated: Run
    waived: Run


@pytest.fixture(scope="module")
def violation_runs(clean_runs: CleanRuns) -> ViolationRuns:
    """After the clean runs: two replicas in prod, then a waiver for them.

    Same copy, same cache: the first run must see the violation although an
    entry of the clean copy is there; the second changes the waivers file only.
    """
    root, base = clean_runs.root, clean_runs.root.parent
    line = edit(root, PROD_KUSTOMIZATION, "count: 3", "count: 2")
    violated = cached_run(root, clean_runs.cache, base / "violated.xml")
    edit(root, WAIVERS, "waivers: []\n", REPLICAS_WAIVER)
    waived = cached_run(root, clean_runs.cache, base / "waived.xml")
    return ViolationRuns(line, violated, waived)


def test_the_first_cached_run_evaluates_and_stores_an_entry(
    clean_runs: CleanRuns,
) -> None:
    first = clean_runs.first
    assert first.done.returncode == 0, first.output[-3000:]
    assert first.status.startswith("no entry; evaluated and stored as entry ")
    assert f"result cache: {first.status}" in first.done.stdout
    stored = sorted(path.name for path in clean_runs.cache.glob("*.json"))
    assert len(stored) == 1
    assert stored[0].startswith(entry_key(first.status))


def test_the_second_run_over_the_unchanged_copy_replays_the_entry(
    clean_runs: CleanRuns,
) -> None:
    first, second = clean_runs.first, clean_runs.second
    assert second.status.startswith("replayed entry ")
    assert re.search(r": \d+ input files unchanged$", second.status)
    assert entry_key(second.status) == entry_key(first.status)
    assert f"result cache: {second.status}" in second.done.stdout


def test_a_replayed_run_reports_exactly_what_the_evaluated_run_reported(
    clean_runs: CleanRuns,
) -> None:
    first, second = clean_runs.first, clean_runs.second
    assert second.done.returncode == first.done.returncode == 0
    assert suite_counts(second.report) == suite_counts(first.report)
    evaluated, replayed = junit_testcases(first.report), junit_testcases(second.report)
    assert len(evaluated) > 100
    assert replayed.keys() == evaluated.keys()
    differing = [name for name in evaluated if replayed[name] != evaluated[name]]
    assert differing == []


def test_a_changed_input_is_evaluated_again_and_its_violation_fails_the_run(
    violation_runs: ViolationRuns,
) -> None:
    violated = violation_runs.violated
    assert violated.done.returncode == 1, violated.output[-3000:]
    assert violated.status.startswith(
        f"{PROD_KUSTOMIZATION} changed since the entry was stored; "
        "evaluated and stored as entry "
    )
    location = f"{PROD_KUSTOMIZATION}:{violation_runs.violation_line}"
    assert f"{location}: [K8S-REPLICAS " in violated.done.stdout
    failure = outcome_element(violated.report, PROD_REPLICAS)
    assert failure is not None
    assert failure.tag == "failure"
    assert "runs fewer than 3 replicas in prod" in (failure.text or "")


def test_a_waiver_is_applied_to_a_replayed_failure(
    violation_runs: ViolationRuns,
) -> None:
    violated, waived = violation_runs.violated, violation_runs.waived
    # The waivers file is no input and its name was already listed: same key.
    assert waived.status.startswith("replayed entry ")
    assert entry_key(waived.status) == entry_key(violated.status)
    assert waived.done.returncode == 0, waived.output[-3000:]
    skipped = outcome_element(waived.report, PROD_REPLICAS)
    assert skipped is not None
    assert skipped.tag == "skipped"
    assert skipped.get("message", "") == (
        "WAIVED K8S-REPLICAS: waived by jane.doe until 2999-01-01: "
        "two replicas while the third zone is rebuilt"
    )
    assert (skipped.text or "").startswith(f"WAIVED {PROD_KUSTOMIZATION}:")
    case = (
        ET.parse(waived.report).getroot().find(f".//testcase[@name='{PROD_REPLICAS}']")
    )
    assert case is not None
    assert properties(case)["outcome"] == "waived"


# --- end to end: pytest-xdist and --image ----------------------------------------


@pytest.fixture(scope="module")
def parallel_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """On a fresh copy: one process without cache, then -n 2 with a fresh cache."""
    base = tmp_path_factory.mktemp("parallel")
    root = copy_repository(base / "repo")
    single = Run(run_suite(root, base / "single.xml"), base / "single.xml")
    parallel = cached_run(root, base / "cache", base / "parallel.xml", "-n", "2")
    return single, parallel


def test_xdist_workers_evaluate_once_and_the_other_replays(
    parallel_runs: tuple[Run, Run],
) -> None:
    _, parallel = parallel_runs
    assert parallel.done.returncode == 0, parallel.output[-3000:]
    status = parallel.status
    assert status.count("evaluated and stored as entry ") == 1, status
    assert status.count("replayed entry ") == 1, status
    assert status.count("no entry; ") == 1, status
    stored, replayed = re.findall(r"entry ([0-9a-f]{16})", status)
    assert stored == replayed


def test_xdist_run_reports_what_a_one_process_run_reports(
    parallel_runs: tuple[Run, Run],
) -> None:
    single, parallel = parallel_runs
    assert single.status == "off: no --result-cache given"
    assert parallel.done.returncode == single.done.returncode == 0
    assert suite_counts(parallel.report) == suite_counts(single.report)
    alone, shared = junit_testcases(single.report), junit_testcases(parallel.report)
    assert shared.keys() == alone.keys()
    differing = [name for name in alone if shared[name] != alone[name]]
    assert differing == []


def test_a_run_given_an_image_neither_replays_nor_stores(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    cache = tmp_path / "cache"
    run = cached_run(
        root, cache, tmp_path / "junit.xml", "--image", f"oci:{tmp_path}/no-image"
    )
    assert run.status == "off: an image is checked, its evidence is read anew"
    assert f"result cache: {run.status}" in run.done.stdout
    assert not cache.exists()


def test_an_unusable_cache_folder_is_reported_and_the_run_still_judges(
    tmp_path: Path,
) -> None:
    root = copy_repository(tmp_path / "repo")
    edit(root, PROD_KUSTOMIZATION, "count: 3", "count: 2")
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should go\n", encoding="utf-8")

    run = cached_run(root, blocker / "cache", tmp_path / "junit.xml")

    assert run.done.returncode == 1, run.output[-3000:]
    assert run.status.startswith("unusable (")
    assert "not-a-folder/cache" in run.status
    assert run.status.endswith("); evaluated without it")
    case = junit_cases(run.report)[PROD_REPLICAS]
    failure = case.find("failure")
    assert failure is not None
    assert "K8S-REPLICAS" in (failure.text or "")


# --- the key ---------------------------------------------------------------------


def cache_of(root: Path, folder: Path, **options: object) -> ResultCache:
    return ResultCache(
        folder,
        Options(root=root.resolve(), **options),  # type: ignore[arg-type]
        root / "junit.xml",
    )


def test_a_file_added_anywhere_changes_the_key(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    cache = cache_of(root, tmp_path / "cache")
    before = cache.key()
    assert cache.key() == before

    unread = root / "docs" / "notes-no-control-reads.txt"
    unread.write_text("nothing\n", encoding="utf-8")
    assert cache.key() != before

    unread.unlink()
    assert cache.key() == before
    (root / "infra" / "empty-folder").mkdir()
    assert cache.key() != before


def test_a_renamed_file_changes_the_key(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    cache = cache_of(root, tmp_path / "cache")
    before = cache.key()
    (root / "README.md").rename(root / "README.txt")
    assert cache.key() != before


def test_a_file_content_change_keeps_the_key(tmp_path: Path) -> None:
    """Names only: a changed file is caught by the entry's inputs, not by the key."""
    root = copy_repository(tmp_path / "repo")
    cache = cache_of(root, tmp_path / "cache")
    before = cache.key()
    (root / "README.md").write_text("rewritten\n", encoding="utf-8")
    assert cache.key() == before


def test_git_data_the_junit_report_and_the_cache_itself_keep_the_key(
    tmp_path: Path,
) -> None:
    root = copy_repository(tmp_path / "repo")
    cache = cache_of(root, root / ".tenon-result-cache")
    before = cache.key()

    (root / ".git" / "objects" / "ab").mkdir(parents=True)
    (root / ".git" / "objects" / "ab" / "cdef").write_bytes(b"blob")
    (root / "junit.xml").write_text("<testsuites/>", encoding="utf-8")
    with cache.locked(before):
        cache.store(before, {}, [tiny_subject()])

    assert (root / ".tenon-result-cache" / f"{before}.json").is_file()
    assert cache.key() == before
    (root / "other-report.xml").write_text("<testsuites/>", encoding="utf-8")
    assert cache.key() != before


def test_the_revision_is_part_of_the_key(tmp_path: Path) -> None:
    root = copy_repository(tmp_path / "repo")
    folder = tmp_path / "cache"
    keys = {
        cache_of(root, folder).key(),
        cache_of(root, folder, revision="a" * 40).key(),
        cache_of(root, folder, revision="b" * 40).key(),
    }
    assert len(keys) == 3


# --- load and store ----------------------------------------------------------------


def tiny_subject(name: str = "Dockerfile:runtime") -> SubjectResults:
    case = CaseResult(
        name=f"DOCKER-USER-NONROOT[{name}]",
        control="DOCKER-USER-NONROOT",
        title="The runtime image runs as a non-root user",
        clauses="CON-3",
        severity="high",
        method="static",
        subject=name,
        file="docker/Dockerfile",
        line=12,
        outcome=Outcome.PASSED.value,
    )
    return SubjectResults(f"[{name}]", "docker/Dockerfile", 12, (case,))


@pytest.fixture(scope="module")
def evaluated(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, str], Evaluation]:
    """A real evaluation of a clean copy (not to be changed): root, inputs, results."""
    root = copy_repository(tmp_path_factory.mktemp("evaluated") / "repo").resolve()
    evidence = Evidence(Options(root=root))
    evaluation = evaluate(evidence)
    assert evaluation.internal_errors == 0
    return root, evidence.inputs, evaluation


def test_load_finds_no_entry_in_an_empty_folder(tmp_path: Path) -> None:
    cache = cache_of(tmp_path, tmp_path / "cache")
    assert cache.load(cache.key()) is None


def test_store_then_load_replays_the_subjects_exactly(
    evaluated: tuple[Path, dict[str, str], Evaluation], tmp_path: Path
) -> None:
    root, inputs, evaluation = evaluated
    # The clean copy has no finding: add a failed subject, findings and all.
    failed = SubjectResults("[prod:Deployment/runtime-api]", "", None, (FAILED,))
    subjects = [*evaluation.subjects, failed]
    cache = cache_of(root, tmp_path / "cache")
    key = cache.key()
    with cache.locked(key):  # as a run does; it creates the folder
        cache.store(key, inputs, subjects)

    entry = cache.load(key)

    assert entry is not None
    assert entry.key == key
    assert entry.subjects == subjects
    assert entry.inputs.items() >= inputs.items()
    k8s_files = {
        path.relative_to(root).as_posix()
        for path in (root / "k8s").rglob("*")
        if path.is_file()
    }
    assert k8s_files <= entry.inputs.keys()
    assert dt.datetime.fromisoformat(entry.written).tzinfo is not None


def stored_entry(tmp_path: Path) -> tuple[ResultCache, str, Path]:
    """A copy of the repository and an entry recording its Dockerfile as input."""
    root = copy_repository(tmp_path / "repo").resolve()
    cache = cache_of(root, tmp_path / "cache")
    key = cache.key()
    dockerfile = (root / "docker/Dockerfile").read_bytes()
    digest = hashlib.sha256(dockerfile).hexdigest()
    with cache.locked(key):
        path = cache.store(key, {"docker/Dockerfile": digest}, [tiny_subject()])
    assert cache.load(key) is not None
    return cache, key, path


def test_a_corrupt_entry_is_a_miss_naming_the_file(tmp_path: Path) -> None:
    cache, key, path = stored_entry(tmp_path)
    path.write_bytes(b"\x00{garbage")
    with pytest.raises(CacheMissError, match=rf"^{re.escape(str(path))}: not a stored"):
        cache.load(key)


@pytest.mark.parametrize(
    "document",
    [[1, 2], "an entry", {"format": 1}, {"format": 1, "key": None}],
    ids=["list", "string", "no-key", "null-key"],
)
def test_json_that_is_no_entry_is_a_miss_naming_the_file(
    tmp_path: Path, document: object
) -> None:
    cache, key, path = stored_entry(tmp_path)
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CacheMissError, match=rf"^{re.escape(str(path))}: "):
        cache.load(key)


def test_an_entry_of_another_format_is_a_miss(tmp_path: Path) -> None:
    cache, key, path = stored_entry(tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**document, "format": 2}), encoding="utf-8")
    with pytest.raises(
        CacheMissError, match=rf"^{re.escape(str(path))}: of another format or key$"
    ):
        cache.load(key)


def test_an_entry_stored_under_another_key_is_a_miss(tmp_path: Path) -> None:
    cache, _, path = stored_entry(tmp_path)
    other = path.with_name(f"{'0' * 64}.json")
    other.write_bytes(path.read_bytes())
    with pytest.raises(CacheMissError, match="of another format or key"):
        cache.load("0" * 64)


def test_an_entry_with_a_malformed_result_is_a_miss(tmp_path: Path) -> None:
    cache, key, path = stored_entry(tmp_path)
    document = json.loads(path.read_text(encoding="utf-8"))
    document["subjects"][0]["cases"][0]["outcome"] = "fine"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(CacheMissError, match=r": not a stored run \(ValueError"):
        cache.load(key)


def test_a_changed_recorded_input_is_a_miss_naming_it(tmp_path: Path) -> None:
    cache, key, _ = stored_entry(tmp_path)
    edit(cache.root, "docker/Dockerfile", "USER 65532:65532", "USER 0")
    assert cache.key() == key
    with pytest.raises(
        CacheMissError, match=r"^docker/Dockerfile changed since the entry was stored$"
    ):
        cache.load(key)


def test_every_file_under_k8s_counts_as_read(tmp_path: Path) -> None:
    cache, key, _ = stored_entry(tmp_path)
    edit(cache.root, PROD_KUSTOMIZATION, "count: 3", "count: 2")
    with pytest.raises(
        CacheMissError, match=rf"^{re.escape(PROD_KUSTOMIZATION)} changed since"
    ):
        cache.load(key)


def test_a_removed_recorded_input_is_a_miss_naming_it(tmp_path: Path) -> None:
    cache, key, _ = stored_entry(tmp_path)
    (cache.root / "docker/Dockerfile").unlink()
    with pytest.raises(CacheMissError, match=r"^docker/Dockerfile changed since"):
        cache.load(key)


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    cache = cache_of(root, tmp_path / "cache")
    keys = [f"{number:064x}" for number in range(KEEP + 3)]
    an_hour_ago = time.time() - 3600
    for number, key in enumerate(keys):
        with cache.locked(key):
            path = cache.store(key, {"docker/Dockerfile": "0" * 64}, [tiny_subject()])
        # As written by runs a minute apart (runs take seconds, not microseconds).
        os.utime(path, (an_hour_ago + 60 * number, an_hour_ago + 60 * number))

    kept = sorted(path.stem for path in cache.folder.glob("*.json"))
    locks = sorted(path.stem for path in cache.folder.glob("*.lock"))
    assert kept == keys[-KEEP:]
    assert locks == keys[-KEEP:]
    assert list(cache.folder.glob("*.tmp")) == []


# --- settle: waivers and --strict at report time ------------------------------------


def case_of(outcome: Outcome, **fields: object) -> CaseResult:
    values: dict[str, object] = {
        "name": "K8S-REPLICAS[prod:Deployment/runtime-api]",
        "control": "K8S-REPLICAS",
        "title": "Enough replicas",
        "clauses": "ORC-2 ENV-2",
        "severity": "high",
        "method": "static",
        "subject": "prod:Deployment/runtime-api",
        "file": PROD_KUSTOMIZATION,
        "line": 15,
        "outcome": outcome.value,
        **fields,
    }
    return CaseResult(**values)  # type: ignore[arg-type]


FAILED = case_of(
    Outcome.FAILED,
    findings=(f"{PROD_KUSTOMIZATION}:15: [K8S-REPLICAS ORC-2] runs 2 replicas",),
    headline=f"{PROD_KUSTOMIZATION}:15: runs 2 replicas",
)
WAIVER = Waiver(
    control="K8S-REPLICAS",
    subject="prod:*",
    reason="third zone rebuilt",
    approver="jane.doe",
    expiry=dt.date(2999, 1, 1),
    line=2,
)


def test_settle_waives_a_failure_its_waiver_matches() -> None:
    settled = settle(FAILED, [WAIVER], strict=False)
    assert settled.outcome is Outcome.WAIVED
    assert settled.message == (
        "WAIVED K8S-REPLICAS: waived by jane.doe until 2999-01-01: third zone rebuilt"
    )
    assert settled.text == f"WAIVED {FAILED.findings[0]}"


def test_settle_keeps_a_failure_no_waiver_matches() -> None:
    other = Waiver("K8S-REPLICAS", "dev:*", "r", "jane.doe", dt.date(2999, 1, 1), 2)
    settled = settle(FAILED, [other], strict=False)
    assert settled.outcome is Outcome.FAILED
    assert settled.message == FAILED.headline
    assert settled.text == FAILED.findings[0]


def test_settle_with_a_broken_waivers_file_waives_nothing() -> None:
    settled = settle(FAILED, None, strict=False)
    assert settled.outcome is Outcome.FAILED
    assert settled.text == FAILED.findings[0]


def test_settle_never_waives_a_case_without_subject() -> None:
    unselected = case_of(Outcome.FAILED, subject="", headline="nothing selected")
    everything = Waiver("K8S-REPLICAS", "*", "r", "jane.doe", dt.date(2999, 1, 1), 2)
    assert settle(unselected, [everything], strict=False).outcome is Outcome.FAILED


def test_strict_turns_not_evaluated_into_a_failure() -> None:
    missing = case_of(Outcome.NOT_EVALUATED, reason="no image evidence: pass --image")

    lenient = settle(missing, [], strict=False)
    strict = settle(missing, [], strict=True)

    assert lenient.outcome is Outcome.NOT_EVALUATED
    assert lenient.message == (
        "NOT EVALUATED K8S-REPLICAS: no image evidence: pass --image"
    )
    assert strict.outcome is Outcome.FAILED
    assert strict.case.outcome == Outcome.FAILED.value
    assert strict.message == "no image evidence: pass --image (--strict)"
    assert strict.text == (
        "[K8S-REPLICAS ORC-2,ENV-2] no image evidence: pass --image (--strict)"
    )
    assert missing.outcome == Outcome.NOT_EVALUATED.value  # the stored result


def test_strict_leaves_passed_cases_passed() -> None:
    settled = settle(case_of(Outcome.PASSED), [WAIVER], strict=True)
    assert (settled.outcome, settled.message, settled.text) == (Outcome.PASSED, "", "")
