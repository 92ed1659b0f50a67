"""The response feed: pieces in order, read ahead a bounded amount, no thread held."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from domicile.gateway.feed import Feed


class Source:
    """A stream of ``count`` pieces that records how far it was read and whether closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.read = 0
        self.closed = False
        self.threads: set[str] = set()

    def __iter__(self) -> Iterator[bytes]:
        try:
            for i in range(self.count):
                if i == self.fail_at:
                    raise OSError(f"site gone at piece {i}")
                self.read += 1
                self.threads.add(threading.current_thread().name)
                yield bytes([i]) * 10
        finally:
            self.closed = True


def run(body: Coroutine[Any, Any, None]) -> None:
    asyncio.run(body)


def feed_of(chunks: Iterator[bytes], pool: ThreadPoolExecutor, **options: int) -> Feed:
    """A feed of ``chunks`` on ``pool``, from the running loop and the current context."""
    return Feed(chunks, asyncio.get_running_loop(), pool, contextvars.copy_context(), **options)


def test_every_piece_in_order_then_the_end() -> None:
    source = Source(20)

    async def body() -> None:
        with ThreadPoolExecutor(2) as pool:
            feed = feed_of(iter(source), pool)
            got = []
            while (piece := await feed.next()) is not None:
                got.append(piece)
            await feed.close()
        assert got == [bytes([i]) * 10 for i in range(20)]

    run(body())
    assert source.closed
    assert all(name.startswith("ThreadPoolExecutor") for name in source.threads)


def test_reads_ahead_a_bounded_amount_and_gives_its_thread_back() -> None:
    source = Source(100)

    async def body() -> None:
        with ThreadPoolExecutor(1) as pool:
            feed = feed_of(iter(source), pool, ahead=3)
            assert await feed.next() == bytes([0]) * 10
            await asyncio.sleep(0.1)  # the consumer is slow: the producer fills up and stops
            assert source.read == 4  # the one taken, and three ahead
            # The only worker thread is free for other requests while the feed is full.
            other = await asyncio.get_running_loop().run_in_executor(pool, lambda: "served")
            assert other == "served"
            for i in range(1, 100):
                assert await feed.next() == bytes([i]) * 10
                assert source.read <= i + 1 + 3
            assert await feed.next() is None
            await feed.close()

    run(body())


def test_the_streams_failure_comes_after_the_pieces_before_it() -> None:
    source = Source(10, fail_at=5)

    async def body() -> None:
        with ThreadPoolExecutor(2) as pool:
            feed = feed_of(iter(source), pool)
            for i in range(5):
                assert await feed.next() == bytes([i]) * 10
            with pytest.raises(OSError, match="site gone at piece 5"):
                await feed.next()
            await feed.close()

    run(body())
    assert source.closed


def test_closing_mid_stream_stops_reading_and_closes_the_stream() -> None:
    source = Source(1000)

    async def body() -> None:
        with ThreadPoolExecutor(2) as pool:
            feed = feed_of(iter(source), pool, ahead=2)
            assert await feed.next() is not None
            await feed.close()  # the client went away

    run(body())
    assert source.closed
    assert source.read <= 4


def test_the_context_of_the_request_is_kept() -> None:
    request = contextvars.ContextVar("request", default="-")
    seen: list[str] = []

    def stream() -> Iterator[bytes]:
        for _ in range(3):
            seen.append(request.get())
            yield b"x"

    async def body() -> None:
        request.set("R1")
        with ThreadPoolExecutor(2) as pool:
            feed = feed_of(stream(), pool)
            while await feed.next() is not None:
                pass
            await feed.close()

    run(body())
    assert seen == ["R1", "R1", "R1"]


def test_many_feeds_share_few_threads() -> None:
    sources = [Source(50) for _ in range(8)]

    async def body() -> None:
        with ThreadPoolExecutor(2) as pool:
            feeds = [feed_of(iter(s), pool) for s in sources]

            async def drain(feed: Feed) -> int:
                n = 0
                while await feed.next() is not None:
                    n += 1
                    await asyncio.sleep(0)
                await feed.close()
                return n

            assert await asyncio.gather(*(drain(f) for f in feeds)) == [50] * 8

    run(body())
    assert all(s.closed for s in sources)
