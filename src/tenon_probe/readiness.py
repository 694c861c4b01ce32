"""The readiness verdict: every dependency answered within the budget.

Bounds (RFC-16 PRB-2, FAIL-2, FAIL-5):

- The dependencies are checked in parallel and the verdict is given after at
  most ``budget`` seconds: a check still running then counts as failed.
- A verdict is reused for ``cache_for`` seconds, and concurrent callers wait
  for the one evaluation in progress (single flight), so a burst of probes
  costs one round of checks.
- A check that outlives the budget is not started again while it runs; the
  next evaluation waits on the same attempt. At most one attempt per
  dependency is ever in flight, so at most one database connection is open.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from tenon_probe.dependencies import Check
from tenon_probe.errors import DependencyError

log = logging.getLogger(__name__)

READINESS_BUDGET_SECONDS = 1.5
VERDICT_CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class Dependency:
    """A named readiness check."""

    name: str
    check: Check


class ReadinessGate:
    """Answers "is the service ready?" within a bounded time, cheaply."""

    def __init__(
        self,
        dependencies: Sequence[Dependency],
        *,
        budget: float = READINESS_BUDGET_SECONDS,
        cache_for: float = VERDICT_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not dependencies:
            # An empty gate would always be ready: readiness that proves nothing.
            raise ValueError("a readiness gate needs at least one dependency")
        self.dependencies = tuple(dependencies)
        self.budget = budget
        self.cache_for = cache_for
        self._clock = clock
        self._lock = threading.Lock()
        self._verdict: bool | None = None
        self._decided_at = 0.0
        self._in_flight: dict[str, Future[None]] = {}
        self._pool = ThreadPoolExecutor(
            max_workers=len(self.dependencies), thread_name_prefix="readiness"
        )

    def ready(self) -> bool:
        """The current verdict, evaluated at most once per ``cache_for`` seconds."""
        with self._lock:
            fresh = self._clock() - self._decided_at < self.cache_for
            if self._verdict is None or not fresh:
                self._record(self._evaluate())
            return bool(self._verdict)

    def close(self) -> None:
        """Stop the worker threads (a check still running finishes on its own)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _evaluate(self) -> bool:
        attempts = {dep.name: self._attempt(dep) for dep in self.dependencies}
        wait(attempts.values(), timeout=self.budget)

        ready = True
        for name, attempt in attempts.items():
            if not attempt.done():
                log.warning(
                    "readiness check timed out",
                    extra={"fields": {"dependency": name, "budget_s": self.budget}},
                )
                ready = False
            elif (error := attempt.exception()) is not None:
                _log_failure(name, error)
                ready = False
        return ready

    def _attempt(self, dependency: Dependency) -> Future[None]:
        """The attempt still in flight for this dependency, or a new one."""
        running = self._in_flight.get(dependency.name)
        if running is not None and not running.done():
            return running
        attempt = self._pool.submit(dependency.check)
        self._in_flight[dependency.name] = attempt
        return attempt

    def _record(self, verdict: bool) -> None:
        if verdict != self._verdict:
            level = logging.INFO if verdict else logging.ERROR
            state = "ready" if verdict else "not ready"
            log.log(
                level,
                f"readiness changed: {state}",
                extra={"fields": {"ready": verdict}},
            )
        self._verdict = verdict
        self._decided_at = self._clock()


def _log_failure(name: str, error: BaseException) -> None:
    if isinstance(error, DependencyError):
        reason = error.reason
    else:  # an unexpected failure of a check still means "not ready"
        reason = f"unexpected {type(error).__name__}: {error}"
    log.warning(
        "readiness check failed",
        extra={"fields": {"dependency": name, "reason": reason}},
    )
