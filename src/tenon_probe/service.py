"""Assembles the service from its configuration: the readiness gate and the server.

A configuration problem never stops the process: liveness keeps answering 200
while readiness answers 503 and the log says, at every readiness evaluation,
which file is wrong and why (RFC-16 FAIL-4, FAIL-5). Kubernetes then keeps the
pod out of the Service's endpoints and the rollout does not progress.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from tenon_probe.config import (
    ListenSettings,
    RuntimeConfig,
    load_runtime_config,
    read_credentials,
)
from tenon_probe.dependencies import DatabaseCheck, ObjectStorageCheck
from tenon_probe.errors import ConfigError, DependencyError
from tenon_probe.logs import register_secret
from tenon_probe.readiness import READINESS_BUDGET_SECONDS, Dependency, ReadinessGate
from tenon_probe.server import ProbeServer

log = logging.getLogger(__name__)

CONFIGURATION = "configuration"


@dataclass
class Service:
    """The readiness gate and the listen address chosen from the configuration."""

    gate: ReadinessGate
    listen: ListenSettings

    def server(self, address: tuple[str, int] | None = None) -> ProbeServer:
        """A ProbeServer bound to ``address`` (default: the configured one)."""
        bind = address or (self.listen.host, self.listen.port)
        return ProbeServer(bind, self.gate.ready)


def build_service(config_path: Path, secrets_dir: Path) -> Service:
    """Read the configuration and build the service; never raises for bad input.

    An invalid configuration yields a service whose readiness is always false
    and which listens on the default address (0.0.0.0:8080).
    """
    try:
        config = load_runtime_config(config_path)
        _check_ca_bundle(config, config_path)
        _check_secret_files(secrets_dir)
    except ConfigError as error:
        log.error(
            "configuration invalid: the service stays not ready",
            extra={"fields": {"file": error.file, "problem": error.reason}},
        )
        return Service(_unready_gate(error), ListenSettings())
    log.info("configuration loaded", extra={"fields": {"file": str(config_path)}})
    return Service(_dependency_gate(config, secrets_dir), config.listen)


def _check_ca_bundle(config: RuntimeConfig, config_path: Path) -> None:
    bundle = config.database.sslrootcert
    if bundle is not None and not Path(bundle).is_file():
        raise ConfigError(
            str(config_path), f"database.sslrootcert: no CA bundle at {bundle}"
        )


def _check_secret_files(secrets_dir: Path) -> None:
    credentials = read_credentials(secrets_dir)
    register_secret(credentials.password)


def _dependency_gate(config: RuntimeConfig, secrets_dir: Path) -> ReadinessGate:
    budget = READINESS_BUDGET_SECONDS
    database = DatabaseCheck(config.database, secrets_dir, timeout=budget)
    storage = ObjectStorageCheck(config.object_storage, timeout=budget)
    return ReadinessGate(
        [Dependency(database.name, database), Dependency(storage.name, storage)]
    )


def _unready_gate(problem: ConfigError) -> ReadinessGate:
    def configuration_is_invalid() -> None:
        raise DependencyError(CONFIGURATION, str(problem))

    return ReadinessGate([Dependency(CONFIGURATION, configuration_is_invalid)])
