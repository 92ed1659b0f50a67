"""RetryingSite and ReadOnlySite: conformance, and exactly when a retry happens."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from domicile.errors import (
    BlobNotFound,
    InvalidName,
    SiteAccessDenied,
    SiteFull,
    SiteUnavailable,
)
from domicile.sites import (
    BlobInfo,
    FaultySite,
    LocalSite,
    MemorySite,
    ReadOnlySite,
    RetryingSite,
    Site,
)

from .conformance import SiteConformance, payload, read


class TestRetryingMemorySite(SiteConformance):
    @pytest.fixture
    def site(self) -> Site:
        return RetryingSite(MemorySite("retry-mem"), sleep=lambda _: None)


class TestRetryingOverFlakyLocalSite(SiteConformance):
    """A third of the calls fail before reaching the folder; the retries hide every one."""

    @pytest.fixture
    def site(self, tmp_path: Path) -> Site:
        flaky = FaultySite(LocalSite.create("flaky", tmp_path / "site"))
        flaky.flaky(0.3, random.Random(1234))
        return RetryingSite(flaky, attempts=12, sleep=lambda _: None)


class Sleeps:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.slept.append(seconds)


@pytest.fixture
def faulty() -> FaultySite:
    return FaultySite(MemorySite("m"))


def retrying(inner: Site, sleeps: Sleeps | None = None, **kw: object) -> RetryingSite:
    return RetryingSite(inner, sleep=sleeps or Sleeps(), rng=lambda: 0.5, **kw)  # type: ignore[arg-type]


# --- what is retried, and how long it waits ------------------------------------------------


def test_a_failure_that_used_up_the_deadline_is_not_retried(faulty: FaultySite) -> None:
    """A timeout takes the site's whole socket timeout: retrying it would multiply the wait
    (what made a hung server hold a read for minutes). A quick failure is retried."""
    now = [0.0]

    def timed_out() -> SiteUnavailable:
        now[0] += 10.0  # the call took a whole socket timeout
        return SiteUnavailable("read timeout", site="m")

    def advance(seconds: float) -> None:
        now[0] += seconds

    faulty.put("b1", [b"x"])
    site = RetryingSite(
        faulty, attempts=10, deadline=2.0, sleep=advance, rng=lambda: 1.0, clock=lambda: now[0]
    )
    faulty.fail_next("head", 1, timed_out)
    with pytest.raises(SiteUnavailable) as info:
        site.head("b1")
    assert info.value.context["attempts"] == 1
    assert now[0] == 10.0  # no sleep, no second try

    now[0] = 0.0
    faulty.fail_next("head", 3)  # quick refusals: retried within the deadline
    assert site.head("b1").size == 1
    assert faulty.calls["head"] == 5
    assert now[0] <= 2.0


def test_gives_up_after_attempts_with_backoff(faulty: FaultySite) -> None:
    sleeps = Sleeps()
    faulty.go_down()
    with pytest.raises(SiteUnavailable) as info:
        retrying(faulty, sleeps).head("b1")
    assert faulty.calls["head"] == 4
    assert info.value.context["attempts"] == 4
    assert sleeps.slept == [0.025, 0.05, 0.1]  # rng 0.5 x 0.05 x 2**n


def test_backoff_is_capped_and_jittered(faulty: FaultySite) -> None:
    draws = iter([1.0, 0.0, 1.0, 0.999, 1.0])
    sleeps = Sleeps()
    site = RetryingSite(
        faulty,
        attempts=6,
        base_delay=1.0,
        max_delay=3.0,
        deadline=60,
        sleep=sleeps,
        rng=lambda: next(draws),
    )
    faulty.go_down()
    with pytest.raises(SiteUnavailable):
        site.delete("b1")
    assert sleeps.slept == [1.0, 0.0, 3.0, 2.997, 3.0]


def test_recovers_from_transient_failures(faulty: FaultySite) -> None:
    faulty.put("b1", [b"x"])
    faulty.fail_next("head", 2)
    assert retrying(faulty).head("b1") == BlobInfo("b1", 1)
    assert faulty.calls["head"] == 3


@pytest.mark.parametrize(
    "error",
    [
        BlobNotFound("gone", site="m"),
        SiteFull("full", site="m"),
        SiteAccessDenied("denied", site="m"),
    ],
)
def test_permanent_errors_are_not_retried(faulty: FaultySite, error: Exception) -> None:
    faulty.fail_next("head", 5, error)
    sleeps = Sleeps()
    with pytest.raises(type(error)):
        retrying(faulty, sleeps).head("b1")
    assert faulty.calls["head"] == 1
    assert sleeps.slept == []


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryingSite(MemorySite("m"), attempts=0)


# --- put: replayable and one-shot chunks ------------------------------------------------------


def test_put_retries_a_list(faulty: FaultySite) -> None:
    faulty.fail_next("put", 2)
    assert retrying(faulty).put("b1", [b"ab", b"cd"]) == 4
    assert read(faulty, "b1") == b"abcd"
    assert faulty.calls["put"] == 3


def test_put_retries_bare_bytes_as_one_chunk(faulty: FaultySite) -> None:
    faulty.fail_next("put", 1)
    assert retrying(faulty).put("b1", b"whole") == 5
    assert read(faulty, "b1") == b"whole"


def test_put_retries_a_factory_with_fresh_chunks(faulty: FaultySite) -> None:
    made: list[int] = []

    def fresh() -> Iterator[bytes]:
        made.append(1)
        yield from (b"a" * 1000, b"b" * 1000)

    faulty.die_after(1500)  # the first attempt dies mid-upload
    assert retrying(faulty).put("b1", fresh) == 2000
    assert len(made) == 2
    assert read(faulty, "b1") == b"a" * 1000 + b"b" * 1000


def test_put_retries_a_generator_not_yet_started(faulty: FaultySite) -> None:
    faulty.fail_next("put", 2)  # fails before the inner site asks for a chunk
    gen = (bytes([n]) * 100 for n in range(5))
    assert retrying(faulty).put("b1", gen) == 500
    assert read(faulty, "b1") == b"".join(bytes([n]) * 100 for n in range(5))


def test_put_does_not_retry_a_started_generator(faulty: FaultySite) -> None:
    faulty.die_after(150)
    gen = (bytes([n]) * 100 for n in range(5))
    with pytest.raises(SiteUnavailable, match="died after"):
        retrying(faulty).put("b1", gen)
    assert faulty.calls["put"] == 1
    assert list(faulty.list()) == []


def test_put_does_not_retry_a_generator_that_failed_on_its_first_chunk(faulty: FaultySite) -> None:
    def broken() -> Iterator[bytes]:
        raise SiteUnavailable("the upstream source is down", site="src")
        yield b""  # type: ignore[unreachable]

    with pytest.raises(SiteUnavailable, match="upstream"):
        retrying(faulty).put("b1", broken())
    assert faulty.calls["put"] == 1
    assert list(faulty.list()) == []


# --- get and list: only before the first item ------------------------------------------------


class MidStreamFailure(MemorySite):
    """Yields the first piece of a blob, then fails, on every get."""

    gets = 0

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self.gets += 1
        pieces = super().get(blob_id, start, end)

        def broken() -> Iterator[bytes]:
            yield next(pieces)
            raise SiteUnavailable("connection reset", site=self.site_id)

        return broken()


class LazyFirstFailure(MemorySite):
    """Fails at the first ``next()`` (not at the call) of its first ``failures`` gets/lists."""

    def __init__(self, site_id: str, failures: int) -> None:
        super().__init__(site_id)
        self.failures = failures

    def _lazy_fail(self) -> Iterator[object]:
        self.failures -= 1
        raise SiteUnavailable("timed out", site=self.site_id)
        yield  # type: ignore[unreachable]

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        if self.failures > 0:
            return self._lazy_fail()  # type: ignore[return-value]
        return super().get(blob_id, start, end)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        if self.failures > 0:
            return self._lazy_fail()  # type: ignore[return-value]
        return super().list(prefix)


def test_get_retries_until_the_first_byte(faulty: FaultySite) -> None:
    faulty.put("b1", [payload(3 * 1024 * 1024)])
    faulty.fail_next("get", 3)
    assert read(retrying(faulty), "b1") == payload(3 * 1024 * 1024)
    assert faulty.calls["get"] == 4


def test_get_retries_a_failure_at_the_first_next() -> None:
    inner = LazyFirstFailure("lazy", failures=2)
    inner.put("b1", [b"data"])
    assert read(retrying(inner), "b1") == b"data"
    assert inner.failures == 0


def test_get_failure_after_the_first_byte_propagates() -> None:
    inner = MidStreamFailure("mid")
    inner.put("b1", [payload(3 * 1024 * 1024)])
    stream = retrying(inner).get("b1")
    assert len(next(stream)) == 1024 * 1024
    with pytest.raises(SiteUnavailable, match="connection reset"):
        list(stream)
    assert inner.gets == 1


def test_list_retries_until_the_first_item() -> None:
    inner = LazyFirstFailure("lazy", failures=3)
    inner.put("b1", [b"1"])
    assert list(retrying(inner).list()) == [BlobInfo("b1", 1)]


def test_get_of_empty_blob(faulty: FaultySite) -> None:
    faulty.put("empty", [])
    assert list(retrying(faulty).get("empty")) == []


def test_delegates_identity_and_close() -> None:
    inner = MemorySite("m")
    site = RetryingSite(inner)
    assert site.site_id == "m"
    assert isinstance(site, Site)
    assert "RetryingSite(MemorySite('m')" in repr(site)
    site.close()


# --- ReadOnlySite ------------------------------------------------------------------------------


def test_read_only_refuses_writes_and_passes_reads() -> None:
    inner = MemorySite("drain")
    inner.put("b1", [b"kept"])
    site = ReadOnlySite(inner)
    asked: list[int] = []

    def chunks() -> Iterator[bytes]:
        asked.append(1)
        yield b"new"

    with pytest.raises(SiteAccessDenied, match="read-only") as info:
        site.put("b2", chunks())
    assert info.value.context == {"site": "drain", "operation": "put", "blob": "b2"}
    assert "status to active" in (info.value.hint or "")
    with pytest.raises(SiteAccessDenied):
        site.delete("b1")
    assert asked == []
    assert read(site, "b1") == b"kept"
    assert site.head("b1") == BlobInfo("b1", 4)
    assert list(site.list()) == [BlobInfo("b1", 4)]
    assert site.site_id == "drain"
    assert isinstance(site, Site)
    site.close()


@pytest.mark.parametrize("wrapper", [RetryingSite, ReadOnlySite, FaultySite])
def test_wrappers_check_names_before_calling_inner(faulty: FaultySite, wrapper: type) -> None:
    site = wrapper(faulty)
    for call in (
        lambda: site.put("../x", [b"x"]),
        lambda: read(site, "../x"),
        lambda: site.head("A"),
        lambda: site.delete("a/b"),
        lambda: list(site.list("\x00")),
    ):
        with pytest.raises(InvalidName):
            call()
    assert sum(faulty.calls.values()) == 0
