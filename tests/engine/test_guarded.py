"""GuardedSite: the Site contract, and no wait on a site that stopped answering."""

from __future__ import annotations

import time

import pytest

from domicile.engine.guarded import GuardedSite
from domicile.engine.health import HealthBook, Prober
from domicile.errors import SiteUnavailable
from domicile.sites import FaultySite, MemorySite, Site
from tests.sites.conformance import SiteConformance


class TestGuardedMemorySite(SiteConformance):
    @pytest.fixture
    def site(self) -> Site:
        inner = MemorySite("guarded")
        return GuardedSite(inner, Prober(HealthBook(), {"guarded": inner}))


def test_a_hung_site_is_abandoned_then_skipped_at_once() -> None:
    hung = FaultySite(MemorySite("g"))
    hung.put("b1", [b"stored"])
    book = HealthBook(probe_timeout=0.5)
    site = GuardedSite(hung, Prober(book, {"g": hung}))
    hung.hang()
    try:
        start = time.monotonic()
        with pytest.raises(SiteUnavailable):
            site.put_once("b2", b"checkpoint")
        assert time.monotonic() - start < 5  # the stall lag, then the probe's deadline
        assert not book.healthy("g")
        calls = dict(hung.calls)
        start = time.monotonic()
        for call in (lambda: site.put_once("b3", b"x"), lambda: b"".join(site.get("b1"))):
            with pytest.raises(SiteUnavailable, match="breaker is open"):
                call()
        assert time.monotonic() - start < 0.5 and dict(hung.calls) == calls  # not asked
    finally:
        hung.thaw()


def test_a_read_that_stalls_mid_body_is_abandoned() -> None:
    hung = FaultySite(MemorySite("g"))
    hung.put("b1", [b"x" * 100_000])
    book = HealthBook(probe_timeout=0.5)
    site = GuardedSite(hung, Prober(book, {"g": hung}))
    hung.stall_at(50_000)
    try:
        pieces = site.get("b1")
        hung.hang()  # the probe the stall starts hangs too
        start = time.monotonic()
        with pytest.raises(SiteUnavailable):
            b"".join(pieces)
        assert time.monotonic() - start < 5
    finally:
        hung.thaw()
