"""MemorySite runs the conformance suite, plus what is particular to it."""

from __future__ import annotations

import pytest

from domicile.sites import MemorySite, Site

from .conformance import SiteConformance


class TestMemorySite(SiteConformance):
    @pytest.fixture
    def site(self) -> Site:
        return MemorySite("mem-a")


def test_is_a_site() -> None:
    assert isinstance(MemorySite("m"), Site)
    assert repr(MemorySite("m")) == "MemorySite('m')"


def test_get_yields_pieces_of_at_most_one_mib() -> None:
    site = MemorySite("m")
    site.put("big", [b"z" * (2 * 1024 * 1024 + 1)])
    assert [len(p) for p in site.get("big")] == [1024 * 1024, 1024 * 1024, 1]


def test_close_keeps_blobs_readable() -> None:
    site = MemorySite("m")
    site.put("a", [b"1"])
    site.close()
    assert b"".join(site.get("a")) == b"1"
