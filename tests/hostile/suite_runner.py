"""Runs the main job (`pytest compliance/ --root COPY`) in a watched subprocess.

The child gets a ``sitecustomize`` (first on PYTHONPATH) that installs an
audit hook before any other code runs. The hook records every
``socket.getaddrinfo``, ``socket.connect``, ``socket.bind`` and
``subprocess.Popen`` event to a JSON-lines file, and makes any socket event
for an address outside loopback fail with ``NetworkRefused``. Where the
machine allows it the child also runs in a network namespace of its own
(``unshare --net``) with only the loopback interface up, so a tool started by
the suite (kustomize) could not reach the network either.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SITECUSTOMIZE = '''
import ipaddress, json, os, sys

_LOG = os.environ["TENON_AUDIT_LOG"]
_WATCHED = {"socket.getaddrinfo", "socket.connect", "socket.bind", "subprocess.Popen"}


class NetworkRefused(RuntimeError):
    """A socket event for an address outside loopback."""


def _loopback(host):
    if host is None or host in ("", "localhost", "localhost.localdomain"):
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


def _address(event, args):
    if event == "socket.getaddrinfo":
        return args[0]
    address = args[1]
    if isinstance(address, (str, bytes)):  # AF_UNIX: a path on this machine
        return None
    return address[0]


def _hook(event, args):
    if event not in _WATCHED:
        return
    record = {"event": event, "pid": os.getpid()}
    if event == "subprocess.Popen":
        record["argv"] = [str(part) for part in (args[1] or [args[0]])]
        allowed = True
    else:
        host = _address(event, args)
        record["host"] = None if host is None else str(host)
        allowed = _loopback(host)
    record["allowed"] = allowed
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\\n")
    if not allowed:
        raise NetworkRefused(f"{event} to {record['host']} refused: loopback only")


sys.addaudithook(_hook)
'''


@dataclass(frozen=True)
class SuiteRun:
    """The child's exit code, its output and the audit events it recorded."""

    code: int
    output: str
    events: list[dict[str, Any]]
    isolated: bool

    def refused(self) -> list[dict[str, Any]]:
        return [event for event in self.events if not event["allowed"]]

    def socket_hosts(self) -> set[str | None]:
        return {e.get("host") for e in self.events if e["event"].startswith("socket.")}

    def started(self, program: str) -> list[list[str]]:
        return [
            event["argv"]
            for event in self.events
            if event["event"] == "subprocess.Popen"
            and Path(event["argv"][0]).name == program
        ]


def network_namespace() -> list[str]:
    """The prefix that runs a command with only loopback, or [] if unavailable."""
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return []
    probe = subprocess.run(
        ["unshare", "--net", "ip", "link", "set", "lo", "up"],
        capture_output=True,
        check=False,
        timeout=30,
    )
    if probe.returncode != 0:
        return []
    return ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "--"]


def run_suite(root: Path, watch: Path, *extra: str) -> SuiteRun:
    """``python -m pytest compliance/ --root root`` from inside root, watched.

    ``watch`` is a folder outside root for the sitecustomize and the log.
    The JUnit goes to root/reports/junit.xml.
    """
    watch.mkdir(parents=True, exist_ok=True)
    (watch / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = watch / "audit.jsonl"
    log.write_text("", encoding="utf-8")
    environment = dict(os.environ)
    environment.update(
        PYTHONPATH=os.pathsep.join([str(watch), environment.get("PYTHONPATH", "")]),
        TENON_AUDIT_LOG=str(log),
        PYTHONDONTWRITEBYTECODE="1",
    )
    prefix = network_namespace()
    command = [
        *prefix,
        sys.executable,
        "-m",
        "pytest",
        "compliance/",
        "-q",
        "-p",
        "no:randomly",
        "--root",
        str(root),
        "--junit-report",
        str(root / "reports" / "junit.xml"),
        *extra,
    ]
    done = subprocess.run(
        command,
        cwd=root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    events = [json.loads(line) for line in log.read_text().splitlines() if line]
    return SuiteRun(done.returncode, done.stdout + done.stderr, events, bool(prefix))


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root: relative path -> (size, mtime in ns); links too."""
    found = {}
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            stat = path.lstat()
            found[path.relative_to(root).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return found
