"""The fan-out: one stream to several sites concurrently, all or nothing."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest

from domicile.engine.fanout import FanOut
from domicile.errors import SiteFull
from domicile.sites import MemorySite


class _DiesAfter(MemorySite):
    """A memory site whose disk fills after ``budget`` bytes of one put."""

    def __init__(self, site_id: str, budget: int) -> None:
        super().__init__(site_id)
        self._budget = budget

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        def counted() -> Iterator[bytes]:
            seen = 0
            for chunk in chunks:
                seen += len(chunk)
                if seen > self._budget:
                    raise SiteFull("no space left", site=self.site_id)
                yield chunk

        return super().put(blob_id, counted())


def test_every_site_gets_the_same_bytes() -> None:
    sites = [MemorySite(f"s{i}") for i in range(3)]
    fan = FanOut(sites, "b1", depth=2)
    pieces = [bytes([i]) * 1000 for i in range(50)]
    for piece in pieces:
        fan.send(piece)
    fan.finish()
    for site in sites:
        assert b"".join(site.get("b1")) == b"".join(pieces)


def test_one_failure_aborts_all_and_leaves_nothing() -> None:
    good = MemorySite("good")
    bad = _DiesAfter("bad", budget=10_000)
    fan = FanOut([good, bad], "b1", depth=2)
    with pytest.raises(SiteFull) as err:
        for _ in range(100):
            fan.send(b"x" * 1000)
        fan.finish()
    assert err.value.context["site"] == "bad"
    assert list(good.list()) == []
    assert list(bad.list()) == []


def test_failure_at_the_very_end_rolls_back_completed_sites() -> None:
    good = MemorySite("good")
    bad = _DiesAfter("bad", budget=999)
    fan = FanOut([good, bad], "b1")
    fan.send(b"x" * 1000)  # small enough to queue: the failure shows at finish()
    with pytest.raises(SiteFull):
        fan.finish()
    assert list(good.list()) == []
