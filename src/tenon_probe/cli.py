"""The entry point: parse arguments, configure logging, serve until SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from pathlib import Path
from types import FrameType

from tenon_probe import logs
from tenon_probe.config import DEFAULT_CONFIG, DEFAULT_SECRETS_DIR
from tenon_probe.server import ProbeServer
from tenon_probe.service import build_service

log = logging.getLogger("tenon_probe")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line: configuration file, secrets directory, listen override."""
    parser = argparse.ArgumentParser(
        prog="python3 -m tenon_probe", description="TENON's liveness and readiness"
    )
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--secrets-dir", type=Path, default=DEFAULT_SECRETS_DIR)
    parser.add_argument(
        "--listen",
        type=_address,
        default=None,
        metavar="HOST:PORT",
        help="bind here instead of runtime.json's listen (local runs and tests)",
    )
    return parser.parse_args(argv)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, found {text!r}")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM or SIGINT, then finish requests in flight and return 0."""
    args = parse_args(argv)
    logs.configure()
    service = build_service(args.config, args.secrets_dir)
    server = service.server(args.listen)
    _stop_on_signals(server)

    log.info("serving probes", extra={"fields": {"address": server.url}})
    server.serve_forever()
    server.server_close()  # waits for the handlers still in flight
    service.gate.close()
    log.info("stopped")
    return 0


def _stop_on_signals(server: ProbeServer) -> None:
    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping", extra={"fields": {"signal": signal.Signals(signum).name}})
        # shutdown() waits for serve_forever to return: call it off this thread.
        threading.Thread(target=server.shutdown, name="shutdown").start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
