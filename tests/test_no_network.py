"""The main job needs no network, and writes only its report.

``pytest compliance/ --root COPY`` runs in a subprocess whose audit hook
refuses and records any socket use outside loopback (tests/hostile/
suite_runner.py), inside a network namespace with only loopback where the
machine allows it. The run must complete as on CI, record no refused event,
and change nothing in the copy but reports/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import copy_repository
from tests.hostile.suite_runner import SITECUSTOMIZE, SuiteRun, run_suite, tree

INSTANCE_METADATA = "169.254.169.254"
Tree = dict[str, tuple[int, int]]
Watched = tuple[SuiteRun, Tree, Tree]


@pytest.fixture(scope="module")
def watched_run(tmp_path_factory: pytest.TempPathFactory) -> Watched:
    """One watched run of the main job on a fresh copy, with the copy's tree
    before and after."""
    base = tmp_path_factory.mktemp("offline")
    root = copy_repository(base / "repo")
    before = tree(root)
    run = run_suite(root, base / "watch")
    return run, before, tree(root)


def test_the_main_job_completes_with_only_loopback_and_the_known_lookup(
    watched_run: Watched,
) -> None:
    """Any network use beyond the known metadata lookup below fails here."""
    run, _, _ = watched_run

    assert run.code == 0, run.output[-4000:]
    assert [e for e in run.refused() if e.get("host") != INSTANCE_METADATA] == []


def test_the_main_job_uses_no_network_at_all(watched_run: Watched) -> None:
    run, _, _ = watched_run

    assert run.refused() == []


def test_the_audit_hook_was_live(watched_run: Watched) -> None:
    run, _, _ = watched_run

    # The runtime probe controls start the service on loopback: the hook saw it.
    assert {"127.0.0.1"} <= run.socket_hosts()
    assert run.socket_hosts() <= {"127.0.0.1", "::1", "localhost", None} | {
        INSTANCE_METADATA
    }


def test_the_run_writes_nothing_but_its_report(watched_run: Watched) -> None:
    _, before, after = watched_run

    changed = {
        name
        for name in before.keys() | after.keys()
        if before.get(name) != after.get(name)
    }

    assert changed == {"reports/junit.xml"}


def test_the_hook_refuses_an_address_outside_loopback(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "audit.jsonl"
    environment = dict(os.environ, PYTHONPATH=str(tmp_path), TENON_AUDIT_LOG=str(log))
    program = (
        "import socket\n"
        "socket.socket().connect(('192.0.2.1', 443))\n"  # TEST-NET-1, never routed
    )

    done = subprocess.run(
        [sys.executable, "-c", program],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode != 0
    assert "NetworkRefused: socket.connect to 192.0.2.1 refused" in done.stderr
    assert '"allowed": false' in log.read_text()
