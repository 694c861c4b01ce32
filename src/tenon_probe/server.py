"""The HTTP server of the probes: two routes, fixed bodies, bounded threads.

What a response may carry (RFC-16 INV-5.1, INV-5.2): a status code and the
fixed word "ok" or "unavailable". No Server or Date header, no version, host
name, timing, count or error text; unknown paths get an empty 404, methods
other than GET and HEAD an empty 405.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from enum import StrEnum
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

MAX_HANDLER_THREADS = 32
CLIENT_TIMEOUT_SECONDS = 5.0


class Probe(StrEnum):
    """What a route means to Kubernetes."""

    LIVENESS = "liveness"
    READINESS = "readiness"


# The routes the service serves, and their meaning. The compliance suite checks
# the Deployment's probes against this table (PROBE-K8S-ROUTES).
ROUTES: Mapping[str, Probe] = {"/healthz": Probe.LIVENESS, "/readyz": Probe.READINESS}


def route_for(probe: Probe) -> str:
    """The path that serves ``probe``."""
    return next(path for path, meaning in ROUTES.items() if meaning is probe)


class ProbeServer(ThreadingHTTPServer):
    """A threaded HTTP server with at most ``MAX_HANDLER_THREADS`` handlers.

    Past that bound, connections wait in the listen backlog (backpressure)
    instead of spawning threads. ``server_close`` waits for handlers in flight,
    which is what makes a SIGTERM shutdown graceful.
    """

    daemon_threads = False
    block_on_close = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        ready: Callable[[], bool],
        handler: type[ProbeHandler] | None = None,
    ) -> None:
        self.ready = ready
        self._slots = threading.BoundedSemaphore(MAX_HANDLER_THREADS)
        super().__init__(address, handler or ProbeHandler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self._slots.acquire()
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        """The base URL of the bound socket (for local runs and tests)."""
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else host
        return f"http://{name}:{port}"


class ProbeHandler(BaseHTTPRequestHandler):
    """Serves ``ROUTES``; everything else is an empty 404 or 405."""

    server: ProbeServer
    timeout = CLIENT_TIMEOUT_SECONDS
    # BaseHTTPRequestHandler would advertise "BaseHTTP/x Python/3.x".
    server_version = ""
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_POST(self) -> None:
        self._empty(HTTPStatus.METHOD_NOT_ALLOWED, allow=True)

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """Answer a malformed request with its status only, no explanation."""
        self.close_connection = True
        self._empty(HTTPStatus(code))

    def send_response(self, code: int, message: str | None = None) -> None:
        """The status line without the Server and Date headers."""
        self.log_request(code)
        self.send_response_only(code, message)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format % args, extra={"fields": {"client": self.client_address[0]}})

    def _answer(self, *, body: bool) -> None:
        probe = ROUTES.get(urlsplit(self.path).path)
        if probe is None:
            self._empty(HTTPStatus.NOT_FOUND)
            return
        ok = probe is Probe.LIVENESS or self.server.ready()
        status = HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE
        self._send(status, b"ok\n" if ok else b"unavailable\n", body=body)

    def _empty(self, status: HTTPStatus, *, allow: bool = False) -> None:
        self.send_response(status)
        if allow:
            self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, status: HTTPStatus, payload: bytes, *, body: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(payload)


def serve_in_thread(server: ProbeServer) -> threading.Thread:
    """Run ``server`` on a background thread (in-process use and tests)."""
    thread = threading.Thread(
        target=server.serve_forever, name="probe-server", daemon=True
    )
    thread.start()
    return thread
