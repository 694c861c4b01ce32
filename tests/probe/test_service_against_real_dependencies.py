"""The probe service as a subprocess against real PostgreSQL and real S3 (moto).

Every dependency failure is produced for real: PostgreSQL stopped with pg_ctl,
the bucket deleted through the S3 API, a relay that accepts and never answers.
"""

from __future__ import annotations

import platform
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import botocore
import pg8000
import pytest
from probe_servers import BUCKET, DB_USER, Deployment, Response

# Generous bound for one /readyz request while a dependency hangs: the service
# promises a verdict within 1.5 s (readiness budget); the rest is slack for a
# loaded CI machine.
HUNG_REQUEST_BOUND_SECONDS = 5.0


def assert_liveness_unaffected(deployment: Deployment) -> None:
    reply = deployment.probe.get("/healthz")
    assert (reply.status, reply.body) == (200, b"ok\n")


def wait_unready(deployment: Deployment) -> Response:
    """Poll /readyz until 503; every request must itself answer within the bound."""
    deadline = time.monotonic() + 10
    while True:
        reply = deployment.probe.get("/readyz")
        assert reply.seconds < HUNG_REQUEST_BOUND_SECONDS, reply
        assert_liveness_unaffected(deployment)
        if reply.status == 503 or time.monotonic() > deadline:
            return reply
        time.sleep(0.2)


def test_readiness_is_200_when_database_and_bucket_answer(healthy: Deployment) -> None:
    reply = healthy.probe.wait_for("/readyz", 200)

    assert (reply.status, reply.body) == (200, b"ok\n")
    assert_liveness_unaffected(healthy)


def test_stopping_postgres_makes_readiness_503_and_starting_it_restores_200(
    healthy: Deployment,
) -> None:
    assert healthy.probe.wait_for("/readyz", 200).status == 200

    healthy.postgres.stop()
    reply = wait_unready(healthy)
    assert (reply.status, reply.body) == (503, b"unavailable\n")

    healthy.postgres.start()
    assert healthy.probe.wait_for("/readyz", 200).status == 200
    assert_liveness_unaffected(healthy)
    assert any(
        record.get("dependency") == "database" and "reason" in record
        for record in healthy.probe.log_records()
    ), "the database failure is not in the log"


def test_removing_the_bucket_makes_readiness_503_until_it_exists_again(
    healthy: Deployment,
) -> None:
    assert healthy.probe.wait_for("/readyz", 200).status == 200

    healthy.s3.delete_bucket(BUCKET)
    reply = wait_unready(healthy)
    assert (reply.status, reply.body) == (503, b"unavailable\n")
    assert any(
        record.get("dependency") == "object storage"
        and "HeadBucket answered 404" in record.get("reason", "")
        for record in healthy.probe.log_records()
    )

    healthy.s3.create_bucket(BUCKET)
    assert healthy.probe.wait_for("/readyz", 200).status == 200


@pytest.mark.parametrize("dependency", ["database", "object-storage"])
def test_a_hung_dependency_makes_readiness_503_within_the_bound(
    healthy: Deployment, dependency: str
) -> None:
    proxy = healthy.db_proxy if dependency == "database" else healthy.s3_proxy
    assert healthy.probe.wait_for("/readyz", 200).status == 200
    time.sleep(1.1)  # let the cached "ready" verdict expire

    proxy.hang()
    reply = healthy.probe.get("/readyz")
    print(f"/readyz with the {dependency} hung answered in {reply.seconds:.2f}s")
    assert reply.status == 503
    assert reply.seconds < HUNG_REQUEST_BOUND_SECONDS
    assert wait_unready(healthy).status == 503

    proxy.resume()
    assert healthy.probe.wait_for("/readyz", 200).status == 200


def test_fifty_concurrent_readiness_requests_use_at_most_one_database_connection(
    healthy: Deployment,
) -> None:
    assert healthy.probe.wait_for("/readyz", 200).status == 200
    time.sleep(1.1)  # the burst must trigger a fresh evaluation
    counts: list[int] = []
    bursting = threading.Event()

    def sample() -> None:  # pg_stat_activity, over and over, during the burst
        admin = healthy.postgres.admin()
        try:
            while bursting.is_set():
                rows = admin.run(
                    "SELECT count(*) FROM pg_stat_activity WHERE usename = :user",
                    user=DB_USER,
                )
                counts.append(int(rows[0][0]))
        finally:
            admin.close()

    bursting.set()
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=50) as pool:
            replies = list(pool.map(lambda _: healthy.probe.get("/readyz"), range(50)))
    finally:
        bursting.clear()
        sampler.join()

    assert [reply.status for reply in replies] == [200] * 50
    assert counts
    print(f"{len(counts)} samples of pg_stat_activity, at most {max(counts)} open")
    assert max(counts) <= 1, counts


def test_bodies_and_headers_reveal_no_version_host_port_or_error(
    healthy: Deployment,
) -> None:
    ready = [healthy.probe.get(path) for path in ("/healthz", "/readyz", "/x")]
    ready.append(healthy.probe.get("/readyz", method="POST"))
    healthy.postgres.stop()
    unready = [wait_unready(healthy), healthy.probe.get("/healthz")]
    healthy.postgres.start()

    forbidden = {
        "localhost",
        "127.0.0.1",
        socket.gethostname(),
        str(healthy.postgres.port),
        str(healthy.s3.port),
        str(healthy.db_proxy.port),
        str(healthy.s3_proxy.port),
        healthy.postgres.version,
        platform.python_version(),
        botocore.__version__,
        pg8000.__version__,
        "python",
        "basehttp",
        "error",
        "timeout",
    }
    for reply in ready + unready:
        assert reply.body in {b"ok\n", b"unavailable\n", b""}, reply
        assert "Server" not in reply.headers
        assert "Date" not in reply.headers
        text = (reply.body.decode() + repr(reply.headers)).lower()
        leaked = {word for word in forbidden if word.lower() in text}
        assert not leaked, f"{reply} reveals {leaked}"


def test_unknown_paths_are_an_empty_404_and_other_methods_an_empty_405(
    healthy: Deployment,
) -> None:
    unknown = healthy.probe.get("/metrics")
    posted = healthy.probe.get("/healthz", method="POST")
    head = healthy.probe.get("/healthz", method="HEAD")

    assert (unknown.status, unknown.body) == (404, b"")
    assert (posted.status, posted.body, posted.headers["Allow"]) == (
        405,
        b"",
        "GET, HEAD",
    )
    assert (head.status, head.body) == (200, b"")


def test_the_log_never_contains_the_database_password(healthy: Deployment) -> None:
    healthy.postgres.stop()  # failures are logged with their full error text
    wait_unready(healthy)
    healthy.postgres.start()
    healthy.probe.wait_for("/readyz", 200)

    log = healthy.probe.log()
    assert "readiness check failed" in log
    assert healthy.postgres.password not in log
