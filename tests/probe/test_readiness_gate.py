"""ReadinessGate's bounds: budget, verdict cache, single flight, one attempt each.

The dependencies here are plain callables that sleep or count (the real ones are
exercised in test_service_against_real_dependencies.py); the clock is real.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tenon_probe.errors import DependencyError
from tenon_probe.readiness import Dependency, ReadinessGate


class Counting:
    """A dependency check that counts its calls and can be made slow or failing."""

    def __init__(self, *, delay: float = 0.0, fail: bool = False) -> None:
        self.calls = 0
        self.delay = delay
        self.fail = fail
        self.running = 0
        self.most_running = 0
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.calls += 1
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        try:
            time.sleep(self.delay)
            if self.fail:
                raise DependencyError("fake", "refused")
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def gates() -> Iterator[list[ReadinessGate]]:
    made: list[ReadinessGate] = []
    yield made
    for gate in made:
        gate.close()


def gate_of(
    gates: list[ReadinessGate], *checks: Counting, **kw: float
) -> ReadinessGate:
    gate = ReadinessGate(
        [Dependency(f"dep{index}", check) for index, check in enumerate(checks)], **kw
    )
    gates.append(gate)
    return gate


def test_ready_only_when_every_dependency_answers(gates: list[ReadinessGate]) -> None:
    assert gate_of(gates, Counting(), Counting()).ready() is True
    assert gate_of(gates, Counting(), Counting(fail=True)).ready() is False


def test_a_gate_without_dependencies_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one dependency"):
        ReadinessGate([])


def test_a_slow_dependency_fails_the_verdict_within_the_budget(
    gates: list[ReadinessGate],
) -> None:
    gate = gate_of(gates, Counting(delay=3.0), budget=0.3)

    started = time.monotonic()
    verdict = gate.ready()

    assert verdict is False
    assert time.monotonic() - started < 1.0


def test_the_verdict_is_cached_for_the_interval(gates: list[ReadinessGate]) -> None:
    check = Counting()
    gate = gate_of(gates, check, cache_for=0.3)

    assert [gate.ready() for _ in range(10)] == [True] * 10
    assert check.calls == 1
    time.sleep(0.35)
    gate.ready()
    assert check.calls == 2


def test_concurrent_callers_share_one_evaluation(gates: list[ReadinessGate]) -> None:
    check = Counting(delay=0.2)
    gate = gate_of(gates, check, cache_for=5.0)
    verdicts: list[bool] = []

    threads = [
        threading.Thread(target=lambda: verdicts.append(gate.ready()))
        for _ in range(40)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert verdicts == [True] * 40
    assert check.calls == 1


def test_a_hung_check_is_never_started_twice(gates: list[ReadinessGate]) -> None:
    check = Counting(delay=1.0)
    gate = gate_of(gates, check, budget=0.1, cache_for=0.0)

    assert [gate.ready() for _ in range(5)] == [False] * 5

    assert check.calls == 1
    assert check.most_running == 1
