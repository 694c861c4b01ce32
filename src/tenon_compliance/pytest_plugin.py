"""The pytest face of the suite: one test per control and subject, and the JUnit.

Loaded by the repository's top-level conftest.py. ``compliance/test_rfc16.py``
holds the ``RFC16`` marker that this plugin expands into one ``ControlItem``
per case, named ``CONTROL[subject]``. Options:

- ``--root PATH``: check another checkout of the same layout;
- ``--image REF`` and ``--signature-bundle FILE``: the built image and its
  Sigstore bundle (without them the image controls are *not evaluated*);
- ``--trusted-root FILE``, ``--revision SHA``: a private Sigstore root, the
  commit being deployed;
- ``--junit-report PATH``: where the evidence goes (``reports/junit.xml``);
- ``--result-cache DIR``: replay a previous run over unchanged inputs
  (``result_cache``); off unless given;
- pytest's own ``--strict`` also makes *not evaluated* a failure.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import json
import platform
import shutil
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tenon_compliance import __version__
from tenon_compliance.catalog import Catalog, load_catalog
from tenon_compliance.engine import Outcome
from tenon_compliance.errors import WaiverError
from tenon_compliance.evidence import Evidence, Options
from tenon_compliance.provenance import git_commit, input_digests, tool_versions
from tenon_compliance.report.junit import CaseRecord, write_junit
from tenon_compliance.result_cache import CacheMissError, ResultCache
from tenon_compliance.results import Settled, SubjectResults, evaluate, settle
from tenon_compliance.waivers import Waiver, load_waivers

DEFAULT_REPORT = Path("reports") / "junit.xml"


class RFC16:
    """Marker placed in compliance/test_rfc16.py; the plugin expands it."""


@dataclass
class ComplianceRun:
    """Everything one pytest session shares: evidence, waivers, results."""

    options: Options
    report_path: Path
    cache: ResultCache | None = None
    cache_status: str = "off: no --result-cache given"
    cache_label: str = ""
    _exchange: Path | None = None
    _evidence: Evidence | None = None
    _catalog: Catalog | None = None
    _waivers: list[Waiver] | WaiverError | None = None

    @property
    def evidence(self) -> Evidence:
        if self._evidence is None:
            self._evidence = Evidence(self.options)
        return self._evidence

    @property
    def catalog(self) -> Catalog:
        if self._catalog is None:
            self._catalog = load_catalog()
        return self._catalog

    def waivers(self) -> list[Waiver]:
        """The valid waivers, read once; raises WaiverError for a bad file."""
        if self._waivers is None:
            try:
                self._waivers = load_waivers(self.options.root)
            except WaiverError as error:
                self._waivers = error
        if isinstance(self._waivers, WaiverError):
            raise self._waivers
        return self._waivers

    def valid_waivers(self) -> list[Waiver] | None:
        """The waivers, or None when the file is broken (its own test fails)."""
        try:
            return self.waivers()
        except WaiverError:
            return None

    def subject_results(self) -> list[SubjectResults]:
        """Every subject's results: replayed from the cache, or evaluated."""
        if self.cache is None:
            return evaluate(self.evidence).subjects
        lock = contextlib.ExitStack()
        try:
            key = self.cache.key()
            lock.enter_context(self.cache.locked(key))
        except OSError as error:
            # A cache can make a run faster, never stop it.
            self.cache_status = (
                f"{self.cache_label}unusable ({error}); evaluated without it"
            )
            return evaluate(self.evidence).subjects
        with lock:
            try:
                entry = self.cache.load(key)
            except CacheMissError as miss:
                entry, why = None, f"{miss}; "
            else:
                why = "" if entry else "no entry; "
            if entry is not None:
                self.cache_status = self.cache_label + (
                    f"replayed entry {key[:16]} of {entry.written}: "
                    f"{len(entry.inputs)} input files unchanged"
                )
                return entry.subjects
            return self._evaluate_and_store(self.cache, key, why)

    def _evaluate_and_store(
        self, cache: ResultCache, key: str, why: str
    ) -> list[SubjectResults]:
        evaluation = evaluate(self.evidence)
        if evaluation.internal_errors:
            self.cache_status = self.cache_label + (
                f"{why}evaluated, not stored: "
                f"{evaluation.internal_errors} internal errors"
            )
            return evaluation.subjects
        try:
            cache.store(key, self.evidence.inputs, evaluation.subjects)
        except OSError as error:
            self.cache_status = f"{self.cache_label}{why}evaluated, not stored: {error}"
            return evaluation.subjects
        self.cache_status = (
            f"{self.cache_label}{why}evaluated and stored as entry {key[:16]}"
        )
        return evaluation.subjects

    def exchange_folder(self) -> Path:
        """A folder of this session only, where xdist workers share results."""
        if self._exchange is None:
            self._exchange = Path(tempfile.mkdtemp(prefix="tenon-compliance-xdist-"))
        return self._exchange

    def remove_exchange(self) -> None:
        if self._exchange is not None:
            shutil.rmtree(self._exchange, ignore_errors=True)
            self._exchange = None


RUN_KEY = pytest.StashKey[ComplianceRun]()
EXCHANGE_INPUT = "tenon_compliance_exchange"


# Options and configuration ---------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tenon", "TENON RFC-16 compliance")
    group.addoption(
        "--root",
        type=Path,
        default=None,
        help="checkout to check (default: the repository holding this suite)",
    )
    group.addoption(
        "--image",
        default=None,
        help="image evidence: oci:PATH, "
        "oci-archive:PATH, registry:HOST/REPO@sha256:HEX or docker:ID",
    )
    group.addoption(
        "--signature-bundle",
        type=Path,
        default=None,
        help="Sigstore bundle of the image",
    )
    group.addoption(
        "--trusted-root",
        type=Path,
        default=None,
        help="Sigstore trusted_root.json (default: the production root)",
    )
    group.addoption(
        "--revision",
        default=None,
        help="git commit the image must have been built from",
    )
    group.addoption(
        "--result-cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="replay the results of a previous run over unchanged inputs, "
        "kept in DIR (off unless given)",
    )
    group.addoption(
        "--junit-report",
        type=Path,
        default=None,
        help=f"where to write the JUnit evidence (default {DEFAULT_REPORT})",
    )


def pytest_configure(config: pytest.Config) -> None:
    root = config.getoption("root") or config.rootpath
    report = config.getoption("junit_report") or config.rootpath / DEFAULT_REPORT
    options = Options(
        root=Path(root).resolve(),
        image=config.getoption("image"),
        signature_bundle=config.getoption("signature_bundle"),
        trusted_root=config.getoption("trusted_root"),
        revision=config.getoption("revision"),
        strict=bool(config.getoption("strict", False)),
    )
    run = ComplianceRun(options=options, report_path=Path(report))
    cache_folder = config.getoption("result_cache")
    exchange = getattr(config, "workerinput", {}).get(EXCHANGE_INPUT)
    if cache_folder is not None and options.image is None:
        run.cache = ResultCache(Path(cache_folder).resolve(), options, run.report_path)
        run.cache_status = "not used: no compliance test was collected"
    elif exchange is not None:
        # An xdist worker without a result cache: the workers of this run
        # still share one evaluation instead of each computing it.
        run.cache = ResultCache(Path(exchange), options, run.report_path)
        run.cache_label = "no --result-cache; shared by this run's xdist workers: "
    elif cache_folder is not None:
        run.cache_status = "off: an image is checked, its evidence is read anew"
    config.stash[RUN_KEY] = run
    config.pluginmanager.register(JUnitReporter(config), "tenon-junit")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist, in the controller: tell each worker the run's exchange."""
    run = node.config.stash[RUN_KEY]
    node.workerinput[EXCHANGE_INPUT] = str(run.exchange_folder())


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(RUN_KEY, None)
    if run is not None:
        run.remove_exchange()
    # Everything is reported. The evidence is millions of objects, and the
    # full collections still to come (pytest's own at unconfigure, Python's at
    # exit) would walk every one of them: 2.5 s at 10,000 objects. Frozen,
    # they are skipped; the process is about to end and free them anyway.
    gc.freeze()


@pytest.fixture(scope="session")
def compliance_run(request: pytest.FixtureRequest) -> ComplianceRun:
    """The session's shared run: options, evidence, catalog."""
    return request.config.stash[RUN_KEY]


# Collection ------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(
    collector: pytest.Collector, name: str, obj: object
) -> pytest.Collector | None:
    if obj is RFC16:
        return ControlSuite.from_parent(collector, name=name)
    return None


class ControlSuite(pytest.Collector):
    """Every registered control applied to every subject it selects.

    One test per subject (``[prod:Deployment/runtime-api]``) reports every
    control that selected it; a control that could not select anything gets a
    test of its own (``[K8S-REPLICAS]``). Pytest's cost grows with the number
    of tests, so grouping by subject keeps large estates fast, while the JUnit
    still gets one testcase per control and subject.

    The controls are evaluated while collecting (or replayed from the result
    cache), so every pytest-xdist worker reports the same results.
    """

    def collect(self) -> Iterator[pytest.Item]:
        run = self.config.stash[RUN_KEY]
        for subject in run.subject_results():
            yield SubjectItem.from_parent(self, name=subject.name, results=subject)


class ControlFailedError(Exception):
    """Raised by a SubjectItem when one of its cases failed; carries the texts."""

    def __init__(self, failed: list[Settled]) -> None:
        super().__init__("control failed")
        self.failed = failed


class SubjectItem(pytest.Item):
    """Every control that selected one subject (or one control with no subject)."""

    def __init__(self, *, results: SubjectResults, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results
        self.user_properties.append((SUBJECT_PROPERTY, self.name))

    def runtest(self) -> None:
        run = self.config.stash[RUN_KEY]
        waivers = run.valid_waivers()
        settled = [
            settle(case, waivers, strict=run.options.strict)
            for case in self.results.cases
        ]
        self.user_properties.append((CACHE_PROPERTY, run.cache_status))
        self.user_properties.append(
            (CASES_PROPERTY, json.dumps([_case_record(case) for case in settled]))
        )

        failed = [s for s in settled if s.outcome in (Outcome.FAILED, Outcome.ERROR)]
        if failed:
            raise ControlFailedError(failed)
        outcomes = {case.outcome for case in settled}
        if outcomes == {Outcome.PASSED}:
            return
        skipped = [
            case.message for case in settled if case.outcome is not Outcome.PASSED
        ]
        kind = Outcome.WAIVED if Outcome.WAIVED in outcomes else Outcome.NOT_EVALUATED
        self.user_properties.append(("outcome", kind.value))
        pytest.skip("; ".join(skipped))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str:
        if isinstance(excinfo.value, ControlFailedError):
            return "\n".join(case.text for case in excinfo.value.failed)
        return str(super().repr_failure(excinfo, style=style))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        root = self.config.stash[RUN_KEY].options.root
        if not self.results.file:
            return root, None, self.name
        line = self.results.line - 1 if self.results.line else None
        return root / self.results.file, line, self.name


CASES_PROPERTY = "tenon.cases"
SUBJECT_PROPERTY = "tenon.subject"


CACHE_PROPERTY = "tenon.cache"


def _case_record(settled: Settled) -> dict[str, Any]:
    """What the JUnit needs of one case; plain data, so xdist can carry it."""
    case = settled.case
    return {
        "name": case.name,
        "control": case.control,
        "title": case.title,
        "clauses": case.clauses,
        "severity": case.severity,
        "method": case.method,
        "subject": case.subject,
        "file": case.file,
        "line": case.line,
        "outcome": settled.outcome.value,
        "message": settled.message,
        "text": settled.text,
    }


# Reporting ------------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_report_teststatus(
    report: pytest.TestReport, config: pytest.Config
) -> tuple[str, str, str] | None:
    if report.when != "call" or not report.skipped:
        return None
    outcome = dict(report.user_properties).get("outcome")
    if outcome == Outcome.WAIVED.value:
        return "waived", "W", "WAIVED"
    if outcome == Outcome.NOT_EVALUATED.value:
        return "not evaluated", "N", "NOT EVALUATED"
    return None


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    run = config.stash.get(RUN_KEY, None)
    reporter = config.pluginmanager.get_plugin("tenon-junit")
    if run is None or not isinstance(reporter, JUnitReporter) or not reporter.active:
        return
    write = terminalreporter.write_line
    not_proven = [c for c in run.catalog.clauses if c.status != "proven"]
    terminalreporter.section("RFC-16 clauses not proven yet")
    for clause in not_proven:
        write(f"{clause.id}: {clause.not_proven or 'NO CONTROL AND NO REASON'}")
    if not not_proven:
        write("none: every clause has a control")
    for title, entries in (
        ("controls not evaluated", reporter.not_evaluated),
        ("waived findings", reporter.waived),
    ):
        if entries:
            terminalreporter.section(title)
            for name, reason in entries:
                write(f"{name}: {reason}")
    write(f"result cache: {reporter.cache_status(run)}")
    write(f"JUnit evidence: {reporter.path}")


_JUNIT_OUTCOME = {
    Outcome.PASSED.value: "passed",
    Outcome.FAILED.value: "failed",
    Outcome.ERROR.value: "error",
    Outcome.WAIVED.value: "skipped",
    Outcome.NOT_EVALUATED.value: "skipped",
}
_CASE_PROPERTIES = (
    "control",
    "title",
    "clauses",
    "severity",
    "method",
    "subject",
    "file",
    "line",
    "outcome",
)


class JUnitReporter:
    """Collects every compliance/ test report and writes the JUnit at the end.

    It works in the main process, so it also sees the reports of xdist
    workers. Nothing is written when the session ran no compliance test.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.path = config.stash[RUN_KEY].report_path
        self.records: dict[str, CaseRecord] = {}
        self.waived: list[tuple[str, str]] = []
        self.not_evaluated: list[tuple[str, str]] = []
        self.cache_statuses: set[str] = set()
        self.started = dt.datetime.now(dt.UTC)

    @property
    def active(self) -> bool:
        return bool(self.records)

    def _is_compliance(self, nodeid: str) -> bool:
        return (
            nodeid.split("::", maxsplit=1)[0].split("/", maxsplit=1)[0] == "compliance"
        )

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed and self._is_compliance(report.nodeid or "compliance"):
            self.records[report.nodeid] = CaseRecord(
                name=report.nodeid or "collection",
                classname="compliance.collection",
                time=0.0,
                outcome="error",
                message="collection failed",
                text=str(report.longrepr),
            )

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self._is_compliance(report.nodeid):
            return
        properties = dict(report.user_properties)
        if CASES_PROPERTY in properties:
            self.cache_statuses.add(str(properties[CACHE_PROPERTY]))
            if report.when == "call":
                self._expand(report, json.loads(str(properties[CASES_PROPERTY])))
            return
        if SUBJECT_PROPERTY in properties and not report.failed:
            return  # a subject's setup and teardown; its cases come with the call
        record = self.records.get(report.nodeid)
        if record is None:
            record = self._new_record(report)
            self.records[report.nodeid] = record
        record.time += report.duration
        if report.passed:
            return
        if report.skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
            record.outcome = "skipped"
            record.message = record.text = reason.removeprefix("Skipped: ")
        elif record.outcome != "failed":
            record.outcome = "failed" if report.when == "call" else "error"
            record.message = _first_line(str(report.longrepr))
            record.text = str(report.longrepr)

    def _new_record(self, report: pytest.TestReport) -> CaseRecord:
        path, _, name = report.nodeid.partition("::")
        return CaseRecord(
            name=name or path,
            classname=path.removesuffix(".py").replace("/", "."),
            time=0.0,
            outcome="passed",
            file=path,
            properties=[(k, str(v)) for k, v in report.user_properties],
        )

    def _expand(self, report: pytest.TestReport, cases: list[dict[str, Any]]) -> None:
        """One JUnit testcase per control and subject of a subject's test."""
        share = report.duration / max(len(cases), 1)
        for case in cases:
            outcome = _JUNIT_OUTCOME[case["outcome"]]
            if case["outcome"] == Outcome.WAIVED.value:
                self.waived.append((case["name"], case["message"]))
            elif case["outcome"] == Outcome.NOT_EVALUATED.value:
                self.not_evaluated.append((case["name"], case["message"]))
            self.records[f"{report.nodeid}::{case['name']}"] = CaseRecord(
                name=case["name"],
                classname=f"compliance.{case['control']}",
                time=share,
                outcome=outcome,
                message=case["message"] if outcome != "passed" else "",
                text=case["text"],
                file=case["file"] or None,
                line=case["line"],
                properties=[
                    (key, "" if case[key] is None else str(case[key]))
                    for key in _CASE_PROPERTIES
                ],
            )

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if not self.active:
            return
        run = self.config.stash[RUN_KEY]
        write_junit(
            self.path,
            self.records.values(),
            self._suite_properties(run),
            suite_name="TENON RFC-16 compliance",
            timestamp=self.started.replace(microsecond=0, tzinfo=None).isoformat(),
            hostname=socket.gethostname(),
        )

    def cache_status(self, run: ComplianceRun) -> str:
        """What the result cache did; with xdist, what each worker's did."""
        return "; ".join(sorted(self.cache_statuses)) or run.cache_status

    def _suite_properties(self, run: ComplianceRun) -> list[tuple[str, str]]:
        root = run.options.root
        properties = [
            ("git.commit", git_commit(root)),
            ("root", str(root)),
            ("catalog.version", run.catalog.version),
            ("strict", str(run.options.strict).lower()),
            ("result.cache", self.cache_status(run)),
            ("image", run.options.image or "not given"),
            ("signature.bundle", str(run.options.signature_bundle or "not given")),
            ("platform", platform.platform()),
            ("tool.tenon-compliance", __version__),
        ]
        properties += [(f"tool.{name}", version) for name, version in tool_versions()]
        properties += [
            (f"input.sha256:{path}", digest) for path, digest in input_digests(root)
        ]
        return properties


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def pytest_report_header(config: pytest.Config) -> list[str]:
    run = config.stash.get(RUN_KEY, None)
    if run is None:
        return []
    return [
        f"tenon-compliance {__version__}: root {run.options.root}, "
        f"image {run.options.image or 'not given'}, strict {run.options.strict}"
    ]
