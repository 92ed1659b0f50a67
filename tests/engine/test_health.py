"""The circuit breaker, latency samples and the background prober (engine/health.py)."""

from __future__ import annotations

import time

from domicile.engine.health import (
    HEDGE_MAX,
    HEDGE_MIN,
    HEDGE_UNKNOWN,
    HealthBook,
    Prober,
    probe_sites,
)
from domicile.errors import SiteUnavailable
from domicile.sites import FaultySite, MemorySite, Site


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_failure_opens_the_breaker_until_an_answer_closes_it() -> None:
    clock = Clock()
    book = HealthBook(clock=clock)
    assert book.healthy("a") and book.state("a") == "closed"
    book.record_failure("a", SiteUnavailable("timed out", site="a"))
    assert book.state("a") == "open" and book.failure("a") == "SiteUnavailable: timed out"
    clock.now += 3600  # time alone closes nothing: only an answer does
    assert not book.healthy("a")
    assert book.snapshot(["a", "b"]) == {"a": False, "b": True}
    assert book.read_order(["a", "b"]) == ["b", "a"]
    book.record_latency("a", 0.01)
    assert book.healthy("a") and book.error_counts() == {"a": 1}


def test_open_sites_are_probed_with_backoff() -> None:
    clock = Clock()
    book = HealthBook(probe_every=4.0, clock=clock)
    book.record_failure("a", SiteUnavailable("down", site="a"))
    assert book.due(["a", "b"]) == []  # the first probe comes 0.5 s after the failure
    gaps = []
    last = clock.now
    for _ in range(40):
        clock.now += 0.25
        if book.due(["a", "b"]) == ["a"]:
            gaps.append(round(clock.now - last, 2))
            last = clock.now
    assert gaps[:4] == [0.5, 1.0, 2.0, 4.0] and set(gaps[3:]) == {4.0}


def test_the_hedge_delay_follows_the_p99_within_bounds() -> None:
    book = HealthBook()
    assert book.hedge_delay("a") == HEDGE_UNKNOWN
    for _ in range(10):
        book.record_ttfb("a", 0.005)
    assert book.hedge_delay("a") == HEDGE_MIN  # 2 x 5 ms, raised to the floor
    for _ in range(10):
        book.record_ttfb("a", 0.4)
    assert book.hedge_delay("a") == 0.8
    book.record_ttfb("a", 30.0)
    assert book.hedge_delay("a") == HEDGE_MAX
    assert book.percentile("a", 0.5) == 0.4 and book.percentile("a", 0.99) == 30.0


def test_a_hung_probe_counts_as_a_failure_at_its_deadline_and_is_never_doubled() -> None:
    hung = FaultySite(MemorySite("m"))
    sites: dict[str, Site] = {"m": hung}
    book = HealthBook(probe_timeout=0.3)
    prober = Prober(book, sites)
    hung.hang()
    try:
        began = time.monotonic()
        probe_sites(prober, ttl=0, wait=5.0)
        assert time.monotonic() - began < 2.0  # bounded by the probe deadline, not the site
        assert not book.healthy("m") and "did not answer a probe" in (book.failure("m") or "")
        first = prober.probe("m")
        assert prober.probe("m") is first  # one probe at a time: the hung one is still out
        assert hung.calls["head"] == 1
    finally:
        hung.thaw()
    deadline = time.monotonic() + 10
    while not book.healthy("m"):  # once the hung probe returns, a new one answers
        assert time.monotonic() < deadline, "no probe closed the breaker"
        prober.probe("m").wait(1)
        time.sleep(0.01)
    assert book.latency("m") is not None and hung.calls["head"] >= 2


def test_the_background_loop_closes_a_breaker_once_the_site_answers() -> None:
    site = FaultySite(MemorySite("m"))
    book = HealthBook(probe_every=0.5, probe_timeout=0.3)
    prober = Prober(book, {"m": site})
    site.go_down()
    book.record_failure("m", SiteUnavailable("down", site="m"))
    prober.start()
    try:
        time.sleep(1.5)
        assert not book.healthy("m") and site.calls["head"] >= 1  # probed, still down
        site.heal()
        deadline = time.monotonic() + 10
        while not book.healthy("m"):
            assert time.monotonic() < deadline, "no probe closed the breaker"
            time.sleep(0.05)
    finally:
        prober.stop()
