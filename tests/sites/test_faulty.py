"""FaultySite: transparent when disarmed (conformance), and each fault does what it says."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from domicile.errors import BlobNotFound, SiteFull, SiteUnavailable
from domicile.sites import FaultySite, MemorySite, Site

from .conformance import SiteConformance, payload, read


class TestFaultySiteDisarmed(SiteConformance):
    @pytest.fixture
    def site(self) -> Site:
        return FaultySite(MemorySite("faulty"))


@pytest.fixture
def site() -> FaultySite:
    inner = MemorySite("f")
    inner.put("blob", [payload(300_000)])
    return FaultySite(inner)


def test_counts_calls(site: FaultySite) -> None:
    site.head("blob")
    read(site, "blob")
    site.put("b2", [b"1"])
    site.delete("b2")
    list(site.list())
    assert site.calls == {"head": 1, "get": 1, "put": 1, "delete": 1, "list": 1}


def test_fail_next_counts_down_then_passes(site: FaultySite) -> None:
    site.fail_next("head", 2)
    for _ in range(2):
        with pytest.raises(SiteUnavailable, match="injected") as info:
            site.head("blob")
        assert info.value.context["site"] == "f"
    assert site.head("blob").size == 300_000


def test_fail_next_with_given_errors(site: FaultySite) -> None:
    site.fail_next("get", 1, SiteFull("disk full", site="f"))
    site.fail_next("get", 1, lambda: KeyError("made per call"))
    with pytest.raises(SiteFull):
        read(site, "blob")
    with pytest.raises(KeyError):
        read(site, "blob")
    assert len(read(site, "blob")) == 300_000


def test_fail_next_refuses_unknown_methods(site: FaultySite) -> None:
    with pytest.raises(ValueError, match="unknown site method"):
        site.fail_next("gett")


def test_down_until_healed(site: FaultySite) -> None:
    site.go_down()
    for call in (lambda: site.head("blob"), lambda: list(site.list()), lambda: site.delete("x")):
        with pytest.raises(SiteUnavailable, match="down"):
            call()
    site.heal()
    assert site.head("blob").size == 300_000


def test_die_after_passes_exactly_k_bytes(site: FaultySite) -> None:
    received: list[int] = []

    class Recording(MemorySite):
        def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
            def counted() -> Iterator[bytes]:
                for c in chunks:
                    received.append(len(c))
                    yield c

            return super().put(blob_id, counted())

    faulty = FaultySite(Recording("r"))
    faulty.die_after(250)
    with pytest.raises(SiteUnavailable, match="died after 250 bytes"):
        faulty.put("b", [b"x" * 100] * 5)
    assert sum(received) == 250
    assert list(faulty.list()) == []
    assert faulty.put("b", [b"x" * 100] * 5) == 500  # the fault was one-shot


def test_die_after_more_than_the_blob_still_dies(site: FaultySite) -> None:
    site.die_after(10**9, lambda: ConnectionResetError("peer went away"))
    with pytest.raises(ConnectionResetError):
        site.put("short", [b"abc"])
    with pytest.raises(BlobNotFound):
        site.head("short")


def test_fill_after_budget(site: FaultySite) -> None:
    site.fill_after(1000)
    site.put("a", [b"a" * 600])
    with pytest.raises(SiteFull, match="no space"):
        site.put("b", [b"b" * 300, b"b" * 300])
    site.delete("a")
    assert site.put("b", [b"b" * 1000]) == 1000
    site.fill_after(None)
    assert site.put("c", [b"c" * 10_000]) == 10_000


@pytest.mark.parametrize(("start", "end"), [(0, None), (70_000, 70_001), (69_000, 200_000)])
def test_flip_byte(site: FaultySite, start: int, end: int | None) -> None:
    site.flip_byte(70_000)
    good = payload(300_000)[start:end]
    got = read(site, "blob", start, end)
    assert len(got) == len(good)
    diff = [i for i in range(len(good)) if got[i] != good[i]]
    assert diff == [70_000 - start]
    assert got[70_000 - start] == good[70_000 - start] ^ 0xFF


def test_flip_outside_the_range_changes_nothing(site: FaultySite) -> None:
    site.flip_byte(10)
    assert read(site, "blob", 100, 200) == payload(300_000)[100:200]


@pytest.mark.parametrize(("start", "end"), [(0, None), (1000, None), (200_000, 250_000)])
def test_truncate_is_a_silent_short_read(site: FaultySite, start: int, end: int | None) -> None:
    site.truncate_at(123_457)
    assert read(site, "blob", start, end) == payload(300_000)[start:end][: max(0, 123_457 - start)]


def test_latency_uses_the_given_sleep() -> None:
    slept: list[float] = []
    site = FaultySite(MemorySite("slow"), sleep=slept.append)
    site.latency = 0.25
    site.put("a", [b"1"])
    site.head("a")
    assert slept == [0.25, 0.25]


def test_flaky_fails_some_calls_and_reset_disarms(site: FaultySite) -> None:
    site.flaky(0.5)
    outcomes = []
    for _ in range(40):
        try:
            site.head("blob")
            outcomes.append(True)
        except SiteUnavailable:
            outcomes.append(False)
    assert True in outcomes and False in outcomes
    site.go_down()
    site.fail_next("put", 3)
    site.truncate_at(5)
    site.reset()
    assert site.calls == {}
    assert len(read(site, "blob")) == 300_000
    assert site.put("after", [b"1"]) == 1
