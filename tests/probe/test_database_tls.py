"""verify-full for real: the service trusts only the configured CA bundle."""

from __future__ import annotations

from pathlib import Path

from probe_servers import (
    DB_USER,
    Deployment,
    ProbeProcess,
    make_tls,
    runtime_config,
    start_probe,
)


def probe_trusting(
    deployment: Deployment, directory: Path, ca_file: Path
) -> ProbeProcess:
    config = runtime_config(
        deployment.db_proxy.port,
        f"http://127.0.0.1:{deployment.s3_proxy.port}",
        ca_file,
    )
    credentials = {"db-username": DB_USER, "db-password": deployment.postgres.password}
    return start_probe(directory / "probe", config, credentials)


def test_a_server_certificate_from_another_ca_keeps_readiness_503(
    healthy: Deployment, tmp_path: Path
) -> None:
    stranger = make_tls(tmp_path).ca_file
    probe = probe_trusting(healthy, tmp_path, stranger)
    try:
        reply = probe.wait_for("/readyz", 200, within=2)
    finally:
        assert probe.terminate() == 0

    assert reply.status == 503
    assert "CERTIFICATE_VERIFY_FAILED" in probe.log()


def test_a_missing_ca_bundle_is_an_invalid_configuration(
    healthy: Deployment, tmp_path: Path
) -> None:
    probe = probe_trusting(healthy, tmp_path, tmp_path / "absent-ca.pem")
    try:
        reply = probe.get("/readyz")
    finally:
        assert probe.terminate() == 0

    assert reply.status == 503
    assert "database.sslrootcert: no CA bundle at" in probe.log()
