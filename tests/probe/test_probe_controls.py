"""The PROBE-* controls: they pass on the repository and catch real violations.

Static controls are fed a copy of the repository with one realistic edit.
Runtime controls are fed a service that really runs and really misbehaves
(liveness answered from the readiness gate, readiness that ignores its
dependencies, the stock http.server headers), built by a different builder.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from tenon_compliance.controls.base import all_controls
from tenon_compliance.controls.probes import Builder, observe
from tenon_compliance.engine import Outcome, Result, cases, run_case
from tenon_compliance.evidence import Evidence, Options
from tenon_probe.server import ProbeHandler, ProbeServer
from tenon_probe.service import build_service

REPO = Path(__file__).resolve().parents[2]
RUNTIME_CONTROLS = (
    "PROBE-LIVENESS-INDEPENDENT",
    "PROBE-READINESS-FOLLOWS-DEPENDENCIES",
    "PROBE-NO-METRICS",
    "PROBE-INVALID-CONFIG-UNREADY",
)
STATIC_CONTROLS = ("PROBE-K8S-ROUTES", "PROBE-CONFIG-VALID", "PROBE-DOCKER-ENTRYPOINT")


def run(control_id: str, root: Path, builder: Builder | None = None) -> list[Result]:
    """Run one control; ``builder`` replaces the service the runtime controls start."""
    evidence = Evidence(Options(root=root))
    if builder is not None:
        evidence.load("probe-service", lambda ev: observe(ev, builder))
    chosen = next(item for item in all_controls() if item.id == control_id)
    return [run_case(case, evidence) for case in cases(chosen, evidence)]


def finding_lines(results: list[Result]) -> list[str]:
    return [finding.line() for result in results for finding in result.findings]


def line_of(root: Path, relative: str, pattern: str, after: str = "") -> int:
    """The line of the first match of pattern (after the first match of after)."""
    lines = (root / relative).read_text().splitlines()
    start = next(i for i, text in enumerate(lines) if after in text) if after else 0
    for number, text in enumerate(lines[start:], start=start + 1):
        if re.search(pattern, text):
            return number
    raise AssertionError(f"{pattern!r} not in {relative}")


SERVER = "src/tenon_probe/server.py"
# Where the runtime controls' findings point: the service's route table.
ROUTES_AT = f"{SERVER}:{line_of(REPO, SERVER, r'^ROUTES:')}"


def edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))


# --- the repository passes ------------------------------------------------------


@pytest.mark.parametrize("control_id", RUNTIME_CONTROLS + STATIC_CONTROLS)
def test_the_repository_passes(control_id: str) -> None:
    results = run(control_id, REPO)

    assert results
    assert [r.outcome for r in results] == [Outcome.PASSED] * len(results), [
        (r.case.id, r.reason, finding_lines([r])) for r in results
    ]


# --- runtime controls against services that misbehave ---------------------------


class LivenessFromReadiness(ProbeHandler):
    """/healthz answered from the readiness gate, i.e. from the dependencies."""

    def _answer(self, *, body: bool) -> None:
        ok = self.server.ready()
        status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
        self._send(status, b"ok\n" if ok else b"unavailable\n", body=body)


class StockHeaders(ProbeHandler):
    """The http.server defaults: Server with versions, and Date."""

    server_version = BaseHTTPRequestHandler.server_version
    sys_version = BaseHTTPRequestHandler.sys_version

    def send_response(self, code: int, message: str | None = None) -> None:
        BaseHTTPRequestHandler.send_response(self, code, message)


def with_handler(handler: type[ProbeHandler]) -> Builder:
    def build(config: Path, secrets_dir: Path) -> Any:
        gate = build_service(config, secrets_dir).gate
        return ProbeServer(("127.0.0.1", 0), gate.ready, handler)

    return build


def always_ready(config: Path, secrets_dir: Path) -> Any:
    """Readiness that checks nothing and reads no configuration."""
    return ProbeServer(("127.0.0.1", 0), lambda: True)


def test_liveness_that_follows_the_database_fails_prb_1() -> None:
    lines = finding_lines(
        run("PROBE-LIVENESS-INDEPENDENT", REPO, with_handler(LivenessFromReadiness))
    )

    assert len(lines) == 2
    assert lines[0].startswith(
        f"{ROUTES_AT}: [PROBE-LIVENESS-INDEPENDENT PRB-1,INV-5.1,ACC-4]"
        " service:tenon_probe: GET /healthz is not 200 while the dependencies are"
        " down (expected: 200; found: 503)"
    )


def test_readiness_that_ignores_its_dependencies_fails_prb_2_and_fail_2() -> None:
    lines = finding_lines(
        run("PROBE-READINESS-FOLLOWS-DEPENDENCIES", REPO, always_ready)
    )

    assert lines[0].startswith(
        f"{ROUTES_AT}: [PROBE-READINESS-FOLLOWS-DEPENDENCIES "
        "PRB-2,FAIL-2,ACC-4] service:tenon_probe: GET /readyz is not 503 while "
        "PostgreSQL and S3 are unreachable (expected: 503; found: 200)"
    )
    assert any("no log record says why the database check failed" in x for x in lines)


def test_readiness_that_ignores_an_invalid_configuration_fails_fail_4() -> None:
    lines = finding_lines(run("PROBE-INVALID-CONFIG-UNREADY", REPO, always_ready))

    assert lines == [
        f"{ROUTES_AT}: [PROBE-INVALID-CONFIG-UNREADY FAIL-4,FAIL-5] "
        "service:tenon_probe: GET /readyz with an invalid runtime.json (sslmode "
        "disable) (expected: 503; found: 200) fix: Validate runtime.json and the "
        "secret files at start (tenon_probe.config) and serve a readiness gate "
        "that always fails when they are invalid.",
        f"{ROUTES_AT}: [PROBE-INVALID-CONFIG-UNREADY FAIL-4,FAIL-5] "
        "service:tenon_probe: no error log record names runtime.json and the bad "
        "key (expected: an error record with file runtime.json and problem "
        "database.sslmode; found: none) fix: Validate runtime.json and the secret "
        "files at start (tenon_probe.config) and serve a readiness gate that "
        "always fails when they are invalid.",
    ]


def test_the_stock_server_and_date_headers_fail_inv_5() -> None:
    lines = finding_lines(run("PROBE-NO-METRICS", REPO, with_handler(StockHeaders)))

    assert lines
    assert all(
        line.startswith(f"{ROUTES_AT}: [PROBE-NO-METRICS INV-5.1,INV-5.2]")
        for line in lines
    )
    assert any(
        "GET /healthz sends headers beyond the allowed ones" in line
        and "found: date, server)" in line
        for line in lines
    )
    assert any(
        "GET /readyz reveals technical details" in line and "basehttp" in line
        for line in lines
    )


def test_runtime_controls_refuse_to_test_a_service_other_than_the_repository(
    repo_copy: Path,
) -> None:
    edit(
        repo_copy,
        "src/tenon_probe/server.py",
        "MAX_HANDLER_THREADS = 32",
        "MAX_HANDLER_THREADS = 4",
    )

    results = run("PROBE-LIVENESS-INDEPENDENT", repo_copy)

    assert [r.outcome for r in results] == [Outcome.ERROR]
    assert results[0].reason.startswith(
        "src/tenon_probe/server.py: differs from the imported tenon_probe"
    )


# --- static controls against a repository with one edit --------------------------

DEPLOYMENT = "k8s/base/deployment.yaml"


def test_liveness_aimed_at_the_readiness_route_fails_in_every_overlay(
    repo_copy: Path,
) -> None:
    line = line_of(repo_copy, DEPLOYMENT, r"path: /healthz", after="livenessProbe:")
    edit_at(repo_copy, DEPLOYMENT, line, "/healthz", "/readyz")

    lines = finding_lines(run("PROBE-K8S-ROUTES", repo_copy))

    assert [x.split(": ", 2)[1] for x in lines] == [
        "[PROBE-K8S-ROUTES PRB-1,PRB-2,ACC-4] dev:Deployment/runtime-api",
        "[PROBE-K8S-ROUTES PRB-1,PRB-2,ACC-4] stage:Deployment/runtime-api",
        "[PROBE-K8S-ROUTES PRB-1,PRB-2,ACC-4] prod:Deployment/runtime-api",
    ], lines
    assert lines[2].startswith(
        f"{DEPLOYMENT}:{line}: [PROBE-K8S-ROUTES PRB-1,PRB-2,ACC-4] "
        "prod:Deployment/runtime-api: livenessProbe asks a path that is not the "
        "service's liveness route (expected: path /healthz; found: path /readyz)"
    )


def test_a_readiness_timeout_shorter_than_the_budget_fails(repo_copy: Path) -> None:
    line = line_of(repo_copy, DEPLOYMENT, r"timeoutSeconds:", after="readinessProbe:")
    edit_at(repo_copy, DEPLOYMENT, line, "timeoutSeconds: 4", "timeoutSeconds: 1")

    lines = finding_lines(run("PROBE-K8S-ROUTES", repo_copy))

    assert len(lines) == 3
    assert lines[0].startswith(
        f"{DEPLOYMENT}:{line}: [PROBE-K8S-ROUTES PRB-1,PRB-2,ACC-4] "
        "dev:Deployment/runtime-api: readinessProbe gives up before the service's "
        "readiness budget ends (expected: timeoutSeconds >= 2; found: "
        "timeoutSeconds 1)"
    )


def test_a_prod_service_listening_elsewhere_than_the_probes_fails_prod_only(
    repo_copy: Path,
) -> None:
    config_map = "k8s/overlays/prod/configmap.yaml"
    edit(repo_copy, config_map, '"port": 8080', '"port": 9090')

    lines = finding_lines(run("PROBE-K8S-ROUTES", repo_copy))

    assert len(lines) == 3  # startup, liveness and readiness probes
    assert all("prod:Deployment/runtime-api" in x for x in lines)
    assert (
        "(expected: port 9090 (runtime.json listen.port); found: port http -> 8080)"
        in lines[0]
    )


def test_a_runtime_json_the_service_refuses_fails_fail_4(repo_copy: Path) -> None:
    config_map = "k8s/overlays/prod/configmap.yaml"
    edit(repo_copy, config_map, '"verify-full"', '"require"')
    line = line_of(repo_copy, config_map, r'"sslmode"')

    lines = finding_lines(run("PROBE-CONFIG-VALID", repo_copy))

    assert len(lines) == 1
    assert lines[0].startswith(
        f"{config_map}:{line}: [PROBE-CONFIG-VALID FAIL-4,ACC-4] "
        "prod:ConfigMap/runtime-api-config: the service would refuse this "
        "runtime.json and never become ready (expected: a runtime.json the "
        "service accepts; found: database.sslmode: expected 'verify-full', found "
        "'require')"
    )


def test_broken_json_in_the_config_map_is_located_at_its_line(repo_copy: Path) -> None:
    config_map = "k8s/overlays/dev/configmap.yaml"
    line = line_of(repo_copy, config_map, r'"name":')
    edit_at(repo_copy, config_map, line, '"name":', '"name"')

    lines = finding_lines(run("PROBE-CONFIG-VALID", repo_copy))

    assert len(lines) == 1
    assert lines[0].startswith(f"{config_map}:{line}: [PROBE-CONFIG-VALID")
    assert "found: not JSON: Expecting ':' delimiter)" in lines[0]


def test_an_entrypoint_that_starts_something_else_fails_acc_4(repo_copy: Path) -> None:
    dockerfile = "docker/Dockerfile"
    line = line_of(repo_copy, dockerfile, r"^ENTRYPOINT")
    edit(repo_copy, dockerfile, '"-m", "tenon_probe"]', '"-m", "http.server", "8080"]')

    lines = finding_lines(run("PROBE-DOCKER-ENTRYPOINT", repo_copy))

    assert lines == [
        f"{dockerfile}:{line}: [PROBE-DOCKER-ENTRYPOINT ACC-4] Dockerfile:runtime: "
        "ENTRYPOINT does not start the probe service (expected: ENTRYPOINT "
        '["python3", "-m", "tenon_probe"]; found: ENTRYPOINT ["python3", "-m", '
        '"http.server", "8080"]) fix: End docker/Dockerfile with ENTRYPOINT '
        '["python3", "-m", "tenon_probe"] and no CMD.'
    ]


def test_a_cmd_that_adds_arguments_fails_acc_4(repo_copy: Path) -> None:
    dockerfile = "docker/Dockerfile"
    path = repo_copy / dockerfile
    path.write_text(path.read_text() + 'CMD ["--config", "/tmp/other.json"]\n')
    line = len(path.read_text().splitlines())

    lines = finding_lines(run("PROBE-DOCKER-ENTRYPOINT", repo_copy))

    assert len(lines) == 1
    assert lines[0].startswith(
        f"{dockerfile}:{line}: [PROBE-DOCKER-ENTRYPOINT ACC-4] Dockerfile:runtime: "
        "CMD adds arguments to the service's command line"
    )


def edit_at(root: Path, relative: str, line: int, old: str, new: str) -> None:
    """Replace old by new on one line (1-based) of the file."""
    path = root / relative
    lines = path.read_text().splitlines(keepends=True)
    assert old in lines[line - 1], lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("".join(lines))


def test_a_shell_form_entrypoint_fails_because_distroless_has_no_shell(
    repo_copy: Path,
) -> None:
    dockerfile = "docker/Dockerfile"
    line = line_of(repo_copy, dockerfile, r"^ENTRYPOINT")
    edit_at(
        repo_copy,
        dockerfile,
        line,
        'ENTRYPOINT ["python3", "-m", "tenon_probe"]',
        "ENTRYPOINT python3 -m tenon_probe",
    )

    lines = finding_lines(run("PROBE-DOCKER-ENTRYPOINT", repo_copy))

    assert len(lines) == 1
    assert lines[0].startswith(
        f"{dockerfile}:{line}: [PROBE-DOCKER-ENTRYPOINT ACC-4] Dockerfile:runtime: "
        "ENTRYPOINT does not start the probe service"
    )
    assert "found: ENTRYPOINT python3 -m tenon_probe)" in lines[0]
