"""Controls over the probes: the service that answers them, and what points at it.

Runtime controls (subject ``service:tenon_probe``) start the probe service in
this process on a free loopback port, with its dependencies unreachable (a
loopback port bound but not listening, for PostgreSQL and for the S3
endpoint), and read what it answers. They need no server and take about a
second in all: the service gives its readiness verdict within its own budget.

- PROBE-LIVENESS-INDEPENDENT: /healthz is 200 with every dependency down.
- PROBE-READINESS-FOLLOWS-DEPENDENCIES: /readyz is 503 with them down.
- PROBE-NO-METRICS: bodies and headers carry no version, host, port or error.
- PROBE-INVALID-CONFIG-UNREADY: a bad runtime.json keeps /readyz at 503 and
  the log says which file and why.

Static controls compare the repository with the service's own route table:

- PROBE-K8S-ROUTES: each overlay's Deployment probes the service's routes
  with their meaning, on the port the service listens on.
- PROBE-CONFIG-VALID: each overlay's runtime.json passes the service's own
  validation, so no pod is rolled out with a configuration it refuses.
- PROBE-DOCKER-ENTRYPOINT: the image's ENTRYPOINT starts ``tenon_probe``.

The runtime controls exercise the ``tenon_probe`` package this process imports;
when its source differs from the repository's ``src/tenon_probe`` they error
instead of proving something about other code.
"""

from __future__ import annotations

import hashlib
import http.client
import importlib
import json
import logging
import platform
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenon_compliance.controls.base import control
from tenon_compliance.errors import LoadError
from tenon_compliance.evidence import ENVIRONMENTS, Evidence
from tenon_compliance.loaders import dockerfile as dockerfile_loader
from tenon_compliance.loaders.kubernetes import KubeObject, Overlay, kubernetes
from tenon_compliance.model import Location, Method, Severity, Subject, Violation
from tenon_probe import server as probe_server
from tenon_probe.config import parse_runtime_config
from tenon_probe.errors import ConfigError
from tenon_probe.server import Probe, route_for

SERVICE_SOURCE = "src/tenon_probe"
SERVICE_SUBJECT = "service:tenon_probe"
MAIN_DOCKERFILE = "docker/Dockerfile"
CONTAINER = "runtime-api"
CONFIG_MAP = "runtime-api-config"
CONFIG_KEY = "runtime.json"
DEFAULT_LISTEN_PORT = 8080  # where the service listens when runtime.json is bad

# How long a probe answer may take in the runtime controls. Liveness touches
# nothing, so it is near instant; readiness answers within the service's
# budget (1.5 s) and the rest is slack for a loaded machine.
LIVENESS_BOUND_SECONDS = 1.0
READINESS_BOUND_SECONDS = 3.0

# The words a probe answer may be made of (INV-5.1, INV-5.2).
STATUS_WORDS = {b"ok\n", b"unavailable\n", b""}
ALLOWED_HEADERS = {"content-type", "content-length", "cache-control", "allow"}

OK_EXCHANGES = (("GET", "/healthz"), ("HEAD", "/healthz"))
EXCHANGES = (
    ("GET", "/readyz"),
    ("HEAD", "/readyz"),
    ("GET", "/healthz"),
    ("HEAD", "/healthz"),
    ("GET", "/metrics"),
    ("POST", "/readyz"),
)


# --- what the service answered ----------------------------------------------


@dataclass(frozen=True)
class Exchange:
    """One request to the running service and its answer."""

    method: str
    path: str
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    seconds: float

    def text(self) -> str:
        """Everything the client saw besides the status line, for leak checks."""
        lines = [f"{name}: {value}" for name, value in self.headers]
        return "\n".join([*lines, self.body.decode(errors="replace")])


@dataclass(frozen=True)
class LogEntry:
    """A log record of the service, reduced to what the controls read."""

    level: str
    message: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class Observation:
    """What the service did with one configuration."""

    config: str
    exchanges: tuple[Exchange, ...]
    log: tuple[LogEntry, ...]
    forbidden: frozenset[str]

    def answer(self, method: str, path: str) -> Exchange:
        """The first exchange of ``method path``."""
        for exchange in self.exchanges:
            if (exchange.method, exchange.path) == (method, path):
                return exchange
        raise LoadError(SERVICE_SOURCE, None, f"no {method} {path} was observed")


@dataclass(frozen=True)
class Observations:
    """The service with dependencies down, and with an invalid configuration."""

    source: Location
    dependencies_down: Observation
    invalid_config: Observation


# A builder turns (runtime.json path, secrets dir) into a bound, unstarted
# server; tests pass other builders to prove that the controls catch a
# service that misbehaves.
Builder = Callable[[Path, Path], Any]


def default_builder(config: Path, secrets_dir: Path) -> Any:
    """The real service, as ``python3 -m tenon_probe`` builds it, on loopback."""
    service = importlib.import_module("tenon_probe.service")
    built = service.build_service(config, secrets_dir)
    return built.server(("127.0.0.1", 0))


def observe(evidence: Evidence, build: Builder = default_builder) -> Observations:
    """Run the service twice in this process and record what it answers.

    Raises LoadError when the package cannot be imported, when it is not the
    repository's source, or when the service cannot be started.
    """
    source = _service_source(evidence)
    with tempfile.TemporaryDirectory(prefix="tenon-probe-") as scratch:
        base = Path(scratch)
        with _closed_port() as dead_db, _closed_port() as dead_s3:
            down = _runtime_json(dead_db, f"http://127.0.0.1:{dead_s3}")
            forbidden = _forbidden_words(dead_db, dead_s3)
            dependencies_down = _observe(build, base / "down", down, forbidden)
            invalid = down.replace('"verify-full"', '"disable"')
            invalid_config = _observe(build, base / "invalid", invalid, forbidden)
    return Observations(source, dependencies_down, invalid_config)


def observations(evidence: Evidence) -> Observations:
    """The memoized observations of this run (see ``observe``)."""
    return evidence.load("probe-service", observe)


def _service_source(evidence: Evidence) -> Location:
    """Where the route table is defined; LoadError if the import is other code."""
    imported = Path(probe_server.__file__ or "").parent
    for relative in sorted(_sources(evidence.root / SERVICE_SOURCE)):
        data = evidence.read_bytes(f"{SERVICE_SOURCE}/{relative}")
        running = imported / relative
        if not running.is_file() or _digest(running.read_bytes()) != _digest(data):
            raise LoadError(
                f"{SERVICE_SOURCE}/{relative}",
                None,
                f"differs from the imported tenon_probe ({imported}); "
                "install the repository (pip install -e .) to test its service",
            )
    text = (evidence.root / SERVICE_SOURCE / "server.py").read_text()
    return Location(f"{SERVICE_SOURCE}/server.py", _line_of(text, "ROUTES:"))


def _sources(directory: Path) -> list[str]:
    if not directory.is_dir():
        raise LoadError(
            str(directory.name), None, "the probe service source is missing"
        )
    return [path.relative_to(directory).as_posix() for path in directory.rglob("*.py")]


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@contextmanager
def _closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connections to it are refused."""
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        yield int(bound.getsockname()[1])


def _line_of(text: str, needle: str) -> int | None:
    """The 1-based line of the first occurrence of needle, or None."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


def _runtime_json(db_port: int, s3_endpoint: str) -> str:
    return json.dumps(
        {
            "database": {
                "host": "127.0.0.1",
                "port": db_port,
                "name": "tenon",
                "sslmode": "verify-full",
                "connect_timeout_seconds": 1,
            },
            "object_storage": {
                "bucket": "tenon-dev-runtime-objects",
                "region": "eu-central-1",
                "endpoint_url": s3_endpoint,
            },
            "listen": {"host": "127.0.0.1", "port": DEFAULT_LISTEN_PORT},
        },
        indent=2,
    )


def _forbidden_words(*ports: int) -> frozenset[str]:
    """Host names, ports and versions that no probe answer may reveal."""
    words = {"127.0.0.1", "localhost", socket.gethostname(), "python", "basehttp"}
    words |= {str(port) for port in ports}
    words |= {platform.python_version(), "refused", "error", "timeout", "traceback"}
    return frozenset(word.lower() for word in words if word)


def _observe(
    build: Builder, base: Path, config: str, forbidden: frozenset[str]
) -> Observation:
    secrets_dir = base / "secrets"
    secrets_dir.mkdir(parents=True)
    (secrets_dir / "db-username").write_text("tenon_app\n")
    (secrets_dir / "db-password").write_text("not-a-real-password\n")
    config_file = base / "runtime.json"
    config_file.write_text(config)

    with _captured_log() as records:
        server = _start(build, config_file, secrets_dir)
        try:
            exchanges = tuple(_exchange(server, *pair) for pair in EXCHANGES)
        finally:
            server.shutdown()
            server.server_close()
            _close_gate(server)
    return Observation(config, exchanges, tuple(records), forbidden)


def _start(build: Builder, config: Path, secrets_dir: Path) -> Any:
    try:
        server = build(config, secrets_dir)
    except (ImportError, OSError) as error:
        raise LoadError(
            SERVICE_SOURCE, None, f"the service did not start: {error}"
        ) from error
    # A short poll interval keeps shutdown() quick; the controls start it twice.
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    ).start()
    return server


def _close_gate(server: Any) -> None:
    gate = getattr(getattr(server.ready, "__self__", None), "close", None)
    if callable(gate):
        gate()


def _exchange(server: Any, method: str, path: str) -> Exchange:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    started = time.monotonic()
    try:
        connection.request(method, path)
        reply = connection.getresponse()
        body = reply.read()
    except OSError as error:
        raise LoadError(
            SERVICE_SOURCE, None, f"{method} {path} failed: {error}"
        ) from error
    finally:
        connection.close()
    return Exchange(
        method,
        path,
        reply.status,
        tuple(reply.getheaders()),
        body,
        time.monotonic() - started,
    )


@contextmanager
def _captured_log() -> Iterator[list[LogEntry]]:
    """Collect the records of the ``tenon_probe`` loggers while the block runs."""
    records: list[LogEntry] = []
    logger = logging.getLogger("tenon_probe")
    level, handler = logger.level, _ListHandler(records)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


class _ListHandler(logging.Handler):
    def __init__(self, records: list[LogEntry]) -> None:
        super().__init__(logging.INFO)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        fields = getattr(record, "fields", None)
        self.records.append(
            LogEntry(
                record.levelname.lower(),
                record.getMessage(),
                dict(fields) if isinstance(fields, dict) else {},
            )
        )


def service_under_test(evidence: Evidence) -> Iterator[Subject]:
    """The probe service, run in this process (see ``observe``)."""
    seen = observations(evidence)
    yield Subject(SERVICE_SUBJECT, seen.source, seen)


# --- runtime controls ------------------------------------------------------


@control(
    id="PROBE-LIVENESS-INDEPENDENT",
    title="Liveness answers 200 with every dependency down",
    clauses=("PRB-1", "INV-5.1", "ACC-4"),
    severity=Severity.CRITICAL,
    method=Method.RUNTIME,
    rationale=(
        "RFC-16 PRB-1: /healthz checks only that the process is alive. A liveness "
        "probe that follows the database restarts every pod when the database "
        "blinks, turning a dependency outage into a crash loop."
    ),
    remedy=(
        "Answer /healthz from the process alone (tenon_probe.server ROUTES maps it "
        "to Probe.LIVENESS); never call a dependency or the readiness gate there."
    ),
    subjects=service_under_test,
)
def liveness_independent(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """/healthz (GET and HEAD) is 200, quickly, while PostgreSQL and S3 are down."""
    seen: Observations = subject.data
    for method, path in OK_EXCHANGES:
        answer = seen.dependencies_down.answer(method, path)
        if answer.status != 200:
            yield Violation(
                subject.location,
                f"{method} {path} is not 200 while the dependencies are down",
                "200",
                str(answer.status),
            )
        elif answer.seconds > LIVENESS_BOUND_SECONDS:
            yield Violation(
                subject.location,
                f"{method} {path} waited for something (dependencies down)",
                f"an answer within {LIVENESS_BOUND_SECONDS} s",
                f"{answer.seconds:.2f} s",
            )


@control(
    id="PROBE-READINESS-FOLLOWS-DEPENDENCIES",
    title="Readiness answers 503 while the database and object storage are down",
    clauses=("PRB-2", "FAIL-2", "ACC-4"),
    severity=Severity.CRITICAL,
    method=Method.RUNTIME,
    rationale=(
        "RFC-16 PRB-2 and FAIL-2: readiness checks the database connection and "
        "object storage access; a dependency down makes readiness false, within "
        "a bounded time, so the pod stops receiving traffic."
    ),
    remedy=(
        "Keep both the database and the object storage checks in the readiness "
        "gate (tenon_probe.service) with their timeouts."
    ),
    subjects=service_under_test,
)
def readiness_follows(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """/readyz is 503 within the bound, and the log names both failed checks."""
    seen: Observations = subject.data
    for method in ("GET", "HEAD"):
        answer = seen.dependencies_down.answer(method, "/readyz")
        if answer.status != 503:
            yield Violation(
                subject.location,
                f"{method} /readyz is not 503 while PostgreSQL and S3 are unreachable",
                "503",
                str(answer.status),
            )
        if answer.seconds > READINESS_BOUND_SECONDS:
            yield Violation(
                subject.location,
                f"{method} /readyz took too long with the dependencies down",
                f"an answer within {READINESS_BOUND_SECONDS} s",
                f"{answer.seconds:.2f} s",
            )
    failed = {e.fields.get("dependency") for e in seen.dependencies_down.log}
    for dependency in ("database", "object storage"):
        if dependency not in failed:
            yield Violation(
                subject.location,
                f"no log record says why the {dependency} check failed (FAIL-5)",
                f"a 'readiness check failed' record for {dependency}",
                ", ".join(sorted(str(name) for name in failed if name)) or "none",
            )


@control(
    id="PROBE-NO-METRICS",
    title="Probe answers carry no technical metrics",
    clauses=("INV-5.1", "INV-5.2"),
    severity=Severity.HIGH,
    method=Method.RUNTIME,
    rationale=(
        "RFC-16 INV-5: the system declares 'I am alive' and 'I am ready' without "
        "exposing technical metrics: no versions, host names, ports, timings, "
        "counts or error texts in any probe answer."
    ),
    remedy=(
        "Answer with the status code and the fixed word 'ok' or 'unavailable'; "
        "send no Server or Date header; write details to the log only."
    ),
    subjects=service_under_test,
)
def no_metrics(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Every observed answer: a fixed word, known headers, no forbidden word."""
    seen: Observations = subject.data
    for observation in (seen.dependencies_down, seen.invalid_config):
        for answer in observation.exchanges:
            yield from _leaks(subject.location, answer, observation.forbidden)


def _leaks(
    where: Location, answer: Exchange, forbidden: frozenset[str]
) -> Iterator[Violation]:
    request = f"{answer.method} {answer.path}"
    if answer.body not in STATUS_WORDS:
        yield Violation(
            where,
            f"{request} answers more than a status word",
            "ok or unavailable",
            repr(answer.body[:80]),
        )
    extra = sorted({name.lower() for name, _ in answer.headers} - ALLOWED_HEADERS)
    if extra:
        yield Violation(
            where,
            f"{request} sends headers beyond the allowed ones",
            ", ".join(sorted(ALLOWED_HEADERS)),
            ", ".join(extra),
        )
    leaked = sorted(word for word in forbidden if word in answer.text().lower())
    if leaked:
        yield Violation(
            where,
            f"{request} reveals technical details",
            "no host, port, version or error text",
            ", ".join(leaked),
        )


@control(
    id="PROBE-INVALID-CONFIG-UNREADY",
    title="An invalid configuration keeps the service out of Ready, and says why",
    clauses=("FAIL-4", "FAIL-5"),
    severity=Severity.CRITICAL,
    method=Method.RUNTIME,
    rationale=(
        "RFC-16 FAIL-4: an invalid configuration keeps the pod out of Ready; "
        "FAIL-5: never silence. The process stays alive (so it is not restarted "
        "in a loop) but never ready, and logs which file is wrong and why."
    ),
    remedy=(
        "Validate runtime.json and the secret files at start (tenon_probe.config) "
        "and serve a readiness gate that always fails when they are invalid."
    ),
    subjects=service_under_test,
)
def invalid_config_unready(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """With sslmode "disable": /readyz 503, /healthz 200, an error log line."""
    seen: Observations = subject.data
    invalid = seen.invalid_config
    expectations = (("/readyz", 503), ("/healthz", 200))
    for path, status in expectations:
        answer = invalid.answer("GET", path)
        if answer.status != status:
            yield Violation(
                subject.location,
                f"GET {path} with an invalid runtime.json (sslmode disable)",
                str(status),
                str(answer.status),
            )
    if not any(_explains(entry) for entry in invalid.log):
        yield Violation(
            subject.location,
            "no error log record names runtime.json and the bad key",
            "an error record with file runtime.json and problem database.sslmode",
            "; ".join(e.message for e in invalid.log if e.level == "error") or "none",
        )


def _explains(entry: LogEntry) -> bool:
    return (
        entry.level == "error"
        and str(entry.fields.get("file", "")).endswith("runtime.json")
        and "database.sslmode" in str(entry.fields.get("problem", ""))
    )


# --- static controls: what points at the service -----------------------------


@dataclass(frozen=True)
class Workload:
    """One overlay's runtime Deployment (None when the overlay lacks it)."""

    overlay: Overlay
    deployment: KubeObject | None


def runtime_deployments(evidence: Evidence) -> Iterator[Subject]:
    """``<env>:Deployment/runtime-api`` of every environment's overlay.

    Raises LoadError when an environment has no overlay at all.
    """
    model = kubernetes(evidence)
    for env in ENVIRONMENTS:
        overlay = model.overlays.get(env)
        if overlay is None:
            raise LoadError(f"k8s/overlays/{env}", None, "the overlay is missing")
        deployment = overlay.find("Deployment", CONTAINER)
        where = (
            deployment.location() if deployment else Location(overlay.kustomization, 1)
        )
        yield Subject(
            f"{env}:Deployment/{CONTAINER}", where, Workload(overlay, deployment)
        )


def runtime_config_maps(evidence: Evidence) -> Iterator[Subject]:
    """``<env>:ConfigMap/runtime-api-config`` of every environment's overlay."""
    for subject in runtime_deployments(evidence):
        workload: Workload = subject.data
        config_map = workload.overlay.find("ConfigMap", CONFIG_MAP)
        where = config_map.location() if config_map else subject.location
        yield Subject(
            f"{workload.overlay.env}:ConfigMap/{CONFIG_MAP}",
            where,
            (workload, config_map),
        )


def _runtime_container(deployment: KubeObject) -> int | None:
    containers = deployment.get("spec", "template", "spec", "containers") or []
    for index, container in enumerate(containers):
        if isinstance(container, dict) and container.get("name") == CONTAINER:
            return index
    return None


@control(
    id="PROBE-K8S-ROUTES",
    title="The Deployment probes the service's own routes, with their meaning",
    clauses=("PRB-1", "PRB-2", "ACC-4"),
    severity=Severity.CRITICAL,
    method=Method.STATIC,
    rationale=(
        "RFC-16 ACC-4: probes must be functional. A liveness probe aimed at the "
        "readiness route restarts pods when a dependency is down (PRB-1); a "
        "readiness probe aimed at liveness sends traffic to pods that cannot "
        "serve (PRB-2); a wrong path or port fails every probe."
    ),
    remedy=(
        "Point livenessProbe and startupProbe at GET /healthz and readinessProbe at "
        "GET /readyz, on the container port the service listens on (runtime.json "
        "listen.port), scheme HTTP, readiness timeoutSeconds of 2 or more; do not "
        "override the image's command."
    ),
    subjects=runtime_deployments,
)
def k8s_routes(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Each probe's path, port and scheme against tenon_probe's ROUTES."""
    workload: Workload = subject.data
    deployment = workload.deployment
    if deployment is None:
        yield Violation(
            subject.location,
            f"the overlay renders no Deployment {CONTAINER}",
            f"Deployment/{CONTAINER}",
            "none",
        )
        return
    index = _runtime_container(deployment)
    if index is None:
        yield Violation(
            subject.location,
            f"the Deployment has no container {CONTAINER}",
            f"container {CONTAINER}",
            "none",
        )
        return
    container = ("spec", "template", "spec", "containers", index)
    listen_port = _listen_port(workload.overlay)
    if deployment.get(*container, "command") is not None:
        yield Violation(
            deployment.location(*container, "command"),
            "the container replaces the image's ENTRYPOINT: the probes may miss "
            "tenon_probe",
            "no command: (the image runs python3 -m tenon_probe)",
            str(deployment.get(*container, "command"))[:120],
        )
    for field, meaning in _PROBES:
        yield from _probe(deployment, container, field, meaning, listen_port)


_PROBES = (
    ("livenessProbe", Probe.LIVENESS),
    ("startupProbe", Probe.LIVENESS),  # must not wait for dependencies either
    ("readinessProbe", Probe.READINESS),
)
# The service answers /readyz within 1.5 s (its readiness budget), rounded up.
READINESS_TIMEOUT_MIN_SECONDS = 2


def _probe(
    deployment: KubeObject,
    container: tuple[Any, ...],
    field: str,
    meaning: Probe,
    listen_port: int,
) -> Iterator[Violation]:
    """One probe of the container: present, HTTP GET, right route, port, timeout."""
    probe = deployment.get(*container, field)
    expected = route_for(meaning)
    if probe is None:
        if field != "startupProbe":  # a startup probe is optional
            yield Violation(
                deployment.location(*container),
                f"the container has no {field}",
                f"{field}.httpGet on {expected}",
                "none",
            )
        return
    get = probe.get("httpGet") if isinstance(probe, dict) else None
    if not isinstance(get, dict):
        yield Violation(
            deployment.location(*container, field),
            f"{field} is not an HTTP GET to the service",
            f"httpGet {expected}",
            ", ".join(sorted(probe)) if isinstance(probe, dict) else str(probe),
        )
        return
    at = (*container, field, "httpGet")
    yield from _http_get(deployment, at, get, meaning, listen_port)
    if field == "readinessProbe":
        yield from _readiness_timeout(deployment, (*container, field), probe)


def _http_get(
    deployment: KubeObject,
    at: tuple[Any, ...],
    get: dict[str, Any],
    meaning: Probe,
    listen_port: int,
) -> Iterator[Violation]:
    field = at[-2]
    if get.get("path") != route_for(meaning):
        yield Violation(
            deployment.location(*at, "path"),
            f"{field} asks a path that is not the service's {meaning.value} route",
            f"path {route_for(meaning)}",
            f"path {get.get('path')}",
        )
    port = _resolve_port(deployment, at[:-2], get.get("port"))
    if port != listen_port:
        yield Violation(
            deployment.location(*at, "port"),
            f"{field} port is not the port the service listens on",
            f"port {listen_port} (runtime.json listen.port)",
            f"port {get.get('port')} -> {port}",
        )
    if str(get.get("scheme", "HTTP")).upper() != "HTTP":
        yield Violation(
            deployment.location(*at, "scheme"),
            f"{field} uses a scheme the service does not serve",
            "scheme HTTP",
            str(get.get("scheme")),
        )


def _readiness_timeout(
    deployment: KubeObject, at: tuple[Any, ...], probe: dict[str, Any]
) -> Iterator[Violation]:
    timeout = probe.get("timeoutSeconds", 1)  # Kubernetes' default is 1 s
    if not isinstance(timeout, int) or timeout < READINESS_TIMEOUT_MIN_SECONDS:
        yield Violation(
            deployment.location(*at, "timeoutSeconds"),
            "readinessProbe gives up before the service's readiness budget ends",
            f"timeoutSeconds >= {READINESS_TIMEOUT_MIN_SECONDS}",
            f"timeoutSeconds {timeout}",
        )


def _resolve_port(
    deployment: KubeObject, container: tuple[Any, ...], port: Any
) -> int | None:
    """A probe port (number or name) as a container port number, or None."""
    if isinstance(port, int):
        return port
    for entry in deployment.get(*container, "ports") or []:
        if isinstance(entry, dict) and entry.get("name") == port:
            number = entry.get("containerPort")
            return number if isinstance(number, int) else None
    return None


def _listen_port(overlay: Overlay) -> int:
    """The port the service binds in this overlay: runtime.json, else the default."""
    config_map = overlay.find("ConfigMap", CONFIG_MAP)
    text = config_map.get("data", CONFIG_KEY) if config_map else None
    if not isinstance(text, str):
        return DEFAULT_LISTEN_PORT
    try:
        return parse_runtime_config(text, CONFIG_KEY).listen.port
    except ConfigError:
        # What the service does then; PROBE-CONFIG-VALID reports the problem.
        return DEFAULT_LISTEN_PORT


@control(
    id="PROBE-CONFIG-VALID",
    title="Each overlay's runtime.json is a configuration the service accepts",
    clauses=("FAIL-4", "ACC-4"),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "RFC-16 FAIL-4: an invalid configuration keeps the pod out of Ready. The "
        "service validates runtime.json at start; running the same validation "
        "here refuses such a configuration before it is applied."
    ),
    remedy=(
        "Fix runtime.json in the overlay's ConfigMap runtime-api-config to the "
        "documented shape (docs/probe-service.md): database host/port/name, "
        "sslmode verify-full, connect_timeout_seconds; object_storage bucket/"
        "region; listen host/port."
    ),
    subjects=runtime_config_maps,
)
def config_valid(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """runtime.json parses with tenon_probe.config.parse_runtime_config."""
    _, config_map = subject.data
    if config_map is None:
        yield Violation(
            subject.location,
            f"the overlay renders no ConfigMap {CONFIG_MAP}",
            f"ConfigMap/{CONFIG_MAP} with {CONFIG_KEY}",
            "none",
        )
        return
    text = config_map.get("data", CONFIG_KEY)
    key = config_map.location("data", CONFIG_KEY)
    if not isinstance(text, str):
        yield Violation(
            key,
            f"the ConfigMap has no data key {CONFIG_KEY}",
            f"data.{CONFIG_KEY}",
            "none",
        )
        return
    try:
        parse_runtime_config(text, CONFIG_KEY)
    except ConfigError as error:
        yield Violation(
            _line_in_block(key, text, error),
            "the service would refuse this runtime.json and never become ready",
            "a runtime.json the service accepts",
            error.reason,
        )


def _line_in_block(key: Location, text: str, error: ConfigError) -> Location:
    """The line inside a block scalar ``runtime.json: |`` the error points at."""
    if key.line is None:
        return key
    offset = error.line
    if offset is None:
        # "database.sslmode: ..." -> the line holding "sslmode"
        name = str(error.reason).split(":", 1)[0].rsplit(".", 1)[-1]
        offset = _line_of(text, f'"{name}"')
    return Location(key.file, key.line + offset) if offset else key


def runtime_stage(evidence: Evidence) -> Iterator[Subject]:
    """The runtime (final) stage of docker/Dockerfile; none makes the control fail."""
    for dockerfile in evidence.load("dockerfiles", dockerfile_loader.load):
        if dockerfile.path == MAIN_DOCKERFILE:
            final = dockerfile.final
            yield Subject(
                f"Dockerfile:{final.label}",
                Location(MAIN_DOCKERFILE, final.line),
                final,
            )


@control(
    id="PROBE-DOCKER-ENTRYPOINT",
    title="The image's ENTRYPOINT starts the probe service",
    clauses=("ACC-4",),
    severity=Severity.HIGH,
    method=Method.STATIC,
    rationale=(
        "RFC-16 ACC-4: the probes are verifiable only if the process the image "
        "starts is the service these controls examine."
    ),
    remedy=(
        'End docker/Dockerfile with ENTRYPOINT ["python3", "-m", "tenon_probe"] '
        "and no CMD."
    ),
    subjects=runtime_stage,
)
def docker_entrypoint(subject: Subject, evidence: Evidence) -> Iterator[Violation]:
    """Exec-form ENTRYPOINT running python3 -m tenon_probe, no CMD arguments."""
    final = subject.data
    entrypoints = final.of("ENTRYPOINT")
    if not entrypoints:
        yield Violation(
            subject.location,
            "the runtime stage sets no ENTRYPOINT",
            _ENTRYPOINT,
            "none",
        )
        return
    last = entrypoints[-1]
    # Shell form runs /bin/sh -c, which the distroless runtime does not have:
    # the service would never start (DOCKER-RUNTIME-NO-SHELL reports it too).
    argv = list(last.exec_form or [])
    if not _starts_service(argv):
        yield Violation(
            Location(MAIN_DOCKERFILE, last.line),
            "ENTRYPOINT does not start the probe service",
            _ENTRYPOINT,
            f"ENTRYPOINT {last.arguments}"[:120],
        )
    for cmd in final.of("CMD"):
        yield Violation(
            Location(MAIN_DOCKERFILE, cmd.line),
            "CMD adds arguments to the service's command line",
            "no CMD (the defaults are the deployed paths)",
            f"CMD {cmd.arguments}"[:120],
        )


_ENTRYPOINT = 'ENTRYPOINT ["python3", "-m", "tenon_probe"]'
_PYTHON = frozenset({"python3", "/usr/bin/python3", "python", "/usr/bin/python"})


def _starts_service(argv: list[str]) -> bool:
    if len(argv) != 3 or argv[1:] != ["-m", "tenon_probe"]:
        return False
    name = argv[0]
    return name in _PYTHON or name.rsplit("/", 1)[-1].startswith("python3.")
