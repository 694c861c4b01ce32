"""Process lifecycle: graceful SIGTERM, and secrets rotated by the CSI driver."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from pathlib import Path

import pytest
from probe_servers import (
    DB_USER,
    Deployment,
    ProbeProcess,
    Response,
    runtime_config,
    start_probe,
)


def own_probe(deployment: Deployment, directory: Path) -> ProbeProcess:
    """A second service process wired like the deployment's, to mutate freely."""
    config = runtime_config(
        deployment.db_proxy.port,
        f"http://127.0.0.1:{deployment.s3_proxy.port}",
        deployment.postgres.base / "ca.crt",
    )
    credentials = {"db-username": DB_USER, "db-password": deployment.postgres.password}
    return start_probe(directory, config, credentials)


def test_sigterm_finishes_the_request_in_flight_and_exits_0(
    healthy: Deployment, tmp_path: Path
) -> None:
    probe = own_probe(healthy, tmp_path)
    healthy.db_proxy.hang()  # makes the next /readyz take the full budget
    replies: list[Response] = []
    in_flight = threading.Thread(target=lambda: replies.append(probe.get("/readyz")))

    in_flight.start()
    time.sleep(0.4)
    status = probe.terminate()
    in_flight.join()

    assert status == 0
    assert [reply.status for reply in replies] == [503]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", probe.port), timeout=1)
    assert '"message": "stopped"' in probe.log()


def test_a_rotated_password_is_read_again_at_reconnect(
    healthy: Deployment, tmp_path: Path
) -> None:
    probe = own_probe(healthy, tmp_path)
    rotated = secrets.token_urlsafe(24)
    admin = healthy.postgres.admin()
    try:
        assert probe.wait_for("/readyz", 200).status == 200

        # What the rotation does: new password in the database and in the file,
        # and the old sessions end.
        admin.run(f"ALTER ROLE {DB_USER} PASSWORD '{rotated}'")
        (tmp_path / "secrets" / "db-password").write_text(rotated + "\n")
        admin.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE usename = :user",
            user=DB_USER,
        )

        time.sleep(1.1)  # the cached verdict expires

        # The dead session is replaced within the same check: no 503 flap.
        assert probe.get("/readyz").status == 200
        assert healthy.postgres.connections_of(DB_USER) == 1
        log = probe.log()
        assert log.count("opening a database connection") >= 2
        assert rotated not in log
    finally:
        admin.run(f"ALTER ROLE {DB_USER} PASSWORD '{healthy.postgres.password}'")
        admin.close()
        assert probe.terminate() == 0
