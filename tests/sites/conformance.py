"""The one conformance suite that every Site implementation runs.

To run it against a site, subclass :class:`SiteConformance` in a ``test_*.py`` module and
provide a ``site`` fixture returning a fresh, empty site::

    class TestMemorySite(SiteConformance):
        @pytest.fixture
        def site(self):
            return MemorySite("conf")

Every case below then runs against that site. Errors raised by ``get``/``list`` may surface
at the call or at the first ``next()``: the cases consume the iterators inside
``pytest.raises`` so either is accepted.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.errors import BlobNotFound, InvalidName, InvalidRange
from domicile.sites import BlobInfo, Site, new_blob_id
from tests.examples import examples

KiB = 1024
MiB = 1024 * KiB

HOSTILE_IDS = [
    "../x",
    "a/b",
    "",
    "a\x00b",
    "a" * 2000,
    "café",
    "ABC",
    "a\udcff",
    ".hidden",
    "-leading-dash",
    "a b",
]


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic, non-repeating-looking bytes (so that an offset error shows)."""
    block = bytes((i * 131 + seed * 7 + (i >> 8)) & 0xFF for i in range(4096))
    return (block * (size // 4096 + 1))[:size]


def read(site: Site, blob_id: str, start: int = 0, end: int | None = None) -> bytes:
    pieces = list(site.get(blob_id, start, end))
    assert all(isinstance(p, bytes) for p in pieces)
    return b"".join(pieces)


class Boom(Exception):
    """Raised by a chunk iterator that fails midway."""


def failing_chunks(good: bytes, pieces: int = 4) -> Iterator[bytes]:
    step = max(1, len(good) // pieces)
    yield from (good[i : i + step] for i in range(0, len(good), step))
    raise Boom("the client went away")


def _race_writer(
    site: Site, blob_id: str, n: int, barrier: threading.Barrier, won: list[int]
) -> None:
    barrier.wait()
    if site.put_once(blob_id, f"writer {n}".encode()):
        won.append(n)


class SiteConformance:
    """The cases; subclasses provide the ``site`` fixture."""

    @pytest.fixture
    def site(self) -> Site:
        raise NotImplementedError("subclasses provide a fresh, empty site")

    # --- put / get ------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "size", [0, 1, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 3 * MiB], ids=lambda s: f"{s}B"
    )
    def test_roundtrip(self, site: Site, size: int) -> None:
        data = payload(size, seed=size)
        blob_id = new_blob_id()
        assert site.put(blob_id, [data]) == size
        assert read(site, blob_id) == data
        assert site.head(blob_id) == BlobInfo(blob_id, size)

    def test_many_small_chunks(self, site: Site) -> None:
        data = payload(300_007)
        chunks: list[bytes] = [b""]  # empty chunks are allowed anywhere
        pos = 0
        while pos < len(data):
            step = 1 + (len(chunks) * 37) % 1500
            chunks += (
                [data[pos : pos + step], b""] if len(chunks) % 7 == 0 else [data[pos : pos + step]]
            )
            pos += step
        assert len(chunks) > 300
        assert site.put("many", iter(chunks)) == len(data)
        assert read(site, "many") == data

    def test_bytes_like_chunks(self, site: Site) -> None:
        data = payload(10_000)
        chunks: list[Any] = [data[:10], bytearray(data[10:5000]), memoryview(data)[5000:]]
        assert site.put("mixed", chunks) == len(data)
        assert read(site, "mixed") == data

    def test_small_and_large_chunks_interleaved(self, site: Site) -> None:
        sizes = [10, 100 * KiB, 5, 64 * KiB, 64 * KiB - 1, 1, MiB - 3, 7, MiB + 9, 3, 200 * KiB]
        chunks = [payload(n, seed=i) for i, n in enumerate(sizes * 2)]
        data = b"".join(chunks)
        assert site.put("interleaved", chunks) == len(data)
        assert read(site, "interleaved") == data

    def test_put_returns_size_of_one_shot_generator(self, site: Site) -> None:
        data = payload(2 * MiB + 3)
        gen = (data[i : i + 100_000] for i in range(0, len(data), 100_000))
        assert site.put("gen", gen) == len(data)
        assert read(site, "gen") == data

    # --- ranges ---------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("start", "end"),
        [
            (0, None),
            (0, 1),
            (1, 2),
            (100, 70_000),
            (65_536, 65_537),
            (99_999, None),
            (99_999, 100_000),
            (50_000, 10**9),  # past the end: clipped
            (0, 100_000),
            (5, 5),  # empty range
            (100_000, None),  # start at the end
            (100_000, 200_000),
            (150_000, None),  # start past the end
            (150_000, 160_000),
        ],
    )
    def test_ranged_get(self, site: Site, start: int, end: int | None) -> None:
        data = payload(100_000, seed=3)
        site.put("ranged", [data])
        assert read(site, "ranged", start, end) == data[start:end]

    def test_any_range_matches_slicing(self, site: Site) -> None:
        @settings(max_examples=examples(40), deadline=None)
        @given(
            sizes=st.lists(st.integers(0, 40_000), max_size=6),
            start=st.integers(0, 250_000),
            length=st.none() | st.integers(0, 250_000),
        )
        def check(sizes: list[int], start: int, length: int | None) -> None:
            chunks = [payload(n, seed=i) for i, n in enumerate(sizes)]
            data = b"".join(chunks)
            site.put("prop", chunks)
            end = None if length is None else start + length
            assert read(site, "prop", start, end) == data[start:end]

        check()

    def test_ranged_get_over_read_pieces(self, site: Site) -> None:
        data = payload(3 * MiB + 5, seed=9)
        site.put("big", [data])
        assert read(site, "big", MiB - 3, 2 * MiB + 7) == data[MiB - 3 : 2 * MiB + 7]

    @pytest.mark.parametrize(("start", "end"), [(-1, None), (-5, 3), (10, 9)])
    def test_bad_range_refused(self, site: Site, start: int, end: int | None) -> None:
        site.put("r", [b"0123456789abcdef"])
        with pytest.raises(InvalidRange):
            read(site, "r", start, end)

    # --- head, delete, list ---------------------------------------------------------------

    def test_missing_blob_names_the_site(self, site: Site) -> None:
        with pytest.raises(BlobNotFound) as info:
            read(site, "missing")
        assert info.value.context["site"] == site.site_id
        assert site.site_id in str(info.value)
        with pytest.raises(BlobNotFound) as info:
            site.head("missing")
        assert info.value.context["site"] == site.site_id

    def test_delete_is_idempotent(self, site: Site) -> None:
        site.delete("never-there")
        site.put("gone", [b"x" * 10])
        site.delete("gone")
        site.delete("gone")
        with pytest.raises(BlobNotFound):
            site.head("gone")
        assert list(site.list()) == []

    def test_list_sorted_with_prefix(self, site: Site) -> None:
        assert list(site.list()) == []
        ids = ["b2", "a1", "m-9", "b10", "a", "ab_c", "z"] + [new_blob_id("x") for _ in range(20)]
        for n, blob_id in enumerate(ids):
            site.put(blob_id, [b"y" * n])
        listed = list(site.list())
        assert [i.blob_id for i in listed] == sorted(ids)
        assert {i.blob_id: i.size for i in listed} == {b: n for n, b in enumerate(ids)}
        assert [i.blob_id for i in site.list("a")] == ["a", "a1", "ab_c"]
        assert [i.blob_id for i in site.list("b1")] == ["b10"]
        assert list(site.list("q")) == []
        assert len(list(site.list("x"))) == 20

    @pytest.mark.parametrize("prefix", ["../", "A", "a/b", "\x00", "é", "a" * 129])
    def test_list_refuses_hostile_prefix(self, site: Site, prefix: str) -> None:
        with pytest.raises(InvalidName):
            list(site.list(prefix))

    # --- atomicity ------------------------------------------------------------------------

    def test_replace_existing(self, site: Site) -> None:
        site.put("same", [b"old" * 1000])
        site.put("same", [b"new!" * 10])
        assert read(site, "same") == b"new!" * 10
        assert site.head("same").size == 40
        assert [i.blob_id for i in site.list()] == ["same"]

    def test_readers_see_old_or_new_never_a_mix(self, site: Site) -> None:
        old, new = b"o" * (512 * KiB), b"n" * (768 * KiB)
        site.put("swap", [old])
        seen: set[bytes] = set()
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                seen.add(read(site, "swap"))

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            for n in range(10):
                site.put("swap", [new if n % 2 == 0 else old])
        finally:
            stop.set()
            thread.join()
        assert seen <= {old, new}

    def test_failed_put_leaves_nothing(self, site: Site) -> None:
        with pytest.raises(Boom):
            site.put("half", failing_chunks(payload(3 * MiB)))
        with pytest.raises(BlobNotFound):
            site.head("half")
        assert list(site.list()) == []

    def test_failed_put_keeps_previous_content(self, site: Site) -> None:
        before = payload(200_000, seed=1)
        site.put("keep", [before])
        with pytest.raises(Boom):
            site.put("keep", failing_chunks(payload(2 * MiB, seed=2)))
        assert read(site, "keep") == before
        assert [i.blob_id for i in site.list()] == ["keep"]

    def test_non_bytes_chunk_refused(self, site: Site) -> None:
        with pytest.raises(TypeError, match="bytes-like"):
            site.put("typed", [b"ok", "text"])  # type: ignore[list-item]
        assert list(site.list()) == []

    # --- hostile ids ----------------------------------------------------------------------

    @pytest.mark.parametrize("bad", HOSTILE_IDS, ids=repr)
    def test_hostile_ids_refused_before_io(self, site: Site, bad: str) -> None:
        asked = []

        def chunks() -> Iterator[bytes]:
            asked.append(True)
            yield b"data"

        with pytest.raises(InvalidName):
            site.put(bad, chunks())
        assert asked == []
        with pytest.raises(InvalidName):
            read(site, bad)
        with pytest.raises(InvalidName):
            site.head(bad)
        with pytest.raises(InvalidName):
            site.delete(bad)
        assert list(site.list()) == []

    @pytest.mark.parametrize("bad", [b"abc", 12, None], ids=repr)
    def test_non_string_ids_refused(self, site: Site, bad: object) -> None:
        with pytest.raises(InvalidName):
            site.put(bad, [b"x"])  # type: ignore[arg-type]
        with pytest.raises(InvalidName):
            site.head(bad)  # type: ignore[arg-type]

    def test_longest_valid_id(self, site: Site) -> None:
        blob_id = "a" * 128
        site.put(blob_id, [b"long"])
        assert read(site, blob_id) == b"long"
        with pytest.raises(InvalidName):
            site.head("a" * 129)

    # --- write-once puts (evidence blobs) ---------------------------------------------------

    def test_put_once_writes_an_absent_blob(self, site: Site) -> None:
        assert site.put_once("ckpt-1", b"first") is True
        assert read(site, "ckpt-1") == b"first"
        assert [i.blob_id for i in site.list("ckpt-")] == ["ckpt-1"]

    def test_put_once_never_replaces(self, site: Site) -> None:
        site.put("ckpt-2", [b"signed"])
        assert site.put_once("ckpt-2", b"forged") is False
        assert site.put_once("ckpt-3", b"one") is True
        assert site.put_once("ckpt-3", b"two") is False
        assert read(site, "ckpt-2") == b"signed" and read(site, "ckpt-3") == b"one"

    def test_put_once_after_delete_writes_again(self, site: Site) -> None:
        assert site.put_once("ckpt-4", b"a") is True
        site.delete("ckpt-4")
        assert site.put_once("ckpt-4", b"b") is True
        assert read(site, "ckpt-4") == b"b"

    @pytest.mark.parametrize("bad", HOSTILE_IDS)
    def test_put_once_refuses_hostile_ids(self, site: Site, bad: str) -> None:
        with pytest.raises(InvalidName):
            site.put_once(bad, b"x")

    def exclusive_under_race(self, site: Site) -> bool:
        """Whether two writers racing ``put_once`` on one id are decided atomically: true of
        every site but an S3 server whose ``If-None-Match`` check is not atomic."""
        del site
        return True

    def test_put_once_race_has_one_winner(self, site: Site) -> None:
        if not self.exclusive_under_race(site):
            pytest.skip("this server's If-None-Match is not atomic under racing writers")
        for round_ in range(5):
            blob_id = f"ckpt-race-{round_}"
            won: list[int] = []
            barrier = threading.Barrier(6)
            threads = [
                threading.Thread(target=_race_writer, args=(site, blob_id, n, barrier, won))
                for n in range(6)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(won) == 1, won
            assert read(site, blob_id) == f"writer {won[0]}".encode()

    # --- concurrency ----------------------------------------------------------------------

    def test_concurrent_puts_and_gets(self, site: Site) -> None:
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                for k in range(12):
                    blob_id = f"t{n}-{k}"
                    data = os.urandom(1000 * (k + 1)) + bytes([n])
                    site.put(blob_id, [data[:500], data[500:]])
                    assert read(site, blob_id) == data
                    assert site.head(blob_id).size == len(data)
                    if k % 3 == 0:
                        site.delete(blob_id)
            except BaseException as exc:  # reported below, in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(list(site.list("t"))) == 8 * 8
