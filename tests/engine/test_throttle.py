"""The bandwidth limit paces all callers together."""

from __future__ import annotations

import pytest

from domicile.engine.throttle import Throttle


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_paces_to_the_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(1000.0, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        throttle.consume(500)
    assert clock.now - 100.0 == pytest.approx(4.5)  # 5,000 bytes at 1,000 B/s, first free


def test_idle_time_is_not_banked_beyond_one_call() -> None:
    clock = FakeClock()
    throttle = Throttle(1000.0, clock=clock, sleep=clock.sleep)
    clock.now += 60  # a minute idle
    throttle.consume(1000)
    throttle.consume(1000)
    assert clock.slept == [pytest.approx(1.0)]


def test_no_limit_and_bad_limit() -> None:
    clock = FakeClock()
    Throttle(None, clock=clock, sleep=clock.sleep).consume(10**12)
    assert clock.slept == []
    with pytest.raises(ValueError, match="positive"):
        Throttle(0)
