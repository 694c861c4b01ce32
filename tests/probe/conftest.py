"""Fixtures of the probe tests: real PostgreSQL, real S3 (moto), real service.

The servers are session-scoped for speed and always stopped, even when a test
fails; tests that stop or break a server restore it before they end.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from probe_servers import (
    BUCKET,
    DB_USER,
    PG_BIN,
    Deployment,
    PostgresServer,
    S3Server,
    SwitchableProxy,
    remove_postgres,
    runtime_config,
    start_postgres,
    start_probe,
    start_s3,
)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """PostgreSQL 15 with TLS and a password user, for the whole session."""
    if not (PG_BIN / "initdb").exists() or (
        shutil.which("runuser") is None and os.geteuid() == 0
    ):
        pytest.skip(f"PostgreSQL binaries not found under {PG_BIN}")
    server = start_postgres()
    try:
        yield server
    finally:
        remove_postgres(server)


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """moto's S3 server on loopback, with the runtime's bucket."""
    server = start_s3()
    try:
        server.create_bucket(BUCKET)
        yield server
    finally:
        server.server.stop()


@pytest.fixture(scope="session")
def db_proxy(postgres: PostgresServer) -> Iterator[SwitchableProxy]:
    proxy = SwitchableProxy(("127.0.0.1", postgres.port))
    yield proxy
    proxy.close()


@pytest.fixture(scope="session")
def s3_proxy(s3: S3Server) -> Iterator[SwitchableProxy]:
    proxy = SwitchableProxy(("127.0.0.1", s3.port))
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory,
    postgres: PostgresServer,
    s3: S3Server,
    db_proxy: SwitchableProxy,
    s3_proxy: SwitchableProxy,
) -> Iterator[Deployment]:
    """One probe service process for a test module, stopped at its end."""
    config = runtime_config(
        db_proxy.port, f"http://127.0.0.1:{s3_proxy.port}", postgres.base / "ca.crt"
    )
    credentials = {"db-username": DB_USER, "db-password": postgres.password}
    probe = start_probe(tmp_path_factory.mktemp("probe"), config, credentials)
    try:
        yield Deployment(probe, postgres, s3, db_proxy, s3_proxy, config)
    finally:
        probe.terminate()


@pytest.fixture
def healthy(deployment: Deployment) -> Iterator[Deployment]:
    """The deployment with every dependency up, before and after the test."""
    _restore(deployment)
    try:
        yield deployment
    finally:
        _restore(deployment)


def _restore(deployment: Deployment) -> None:
    deployment.db_proxy.resume()
    deployment.s3_proxy.resume()
    if not deployment.postgres.running():
        deployment.postgres.start()
    client = deployment.s3.client()
    names = {bucket["Name"] for bucket in client.list_buckets().get("Buckets", [])}
    if BUCKET not in names:
        deployment.s3.create_bucket(BUCKET)
