"""Between the event loop and the worker threads: request bodies in, response bodies out.

The engine is synchronous (sites and the catalog block), so every S3 handler runs on a
worker thread. :class:`ThreadBody` lets such a thread read the ASGI body as a plain
iterator: each step asks the event loop for the next messages and gathers them up to
``batch`` bytes (4 MiB), so a 1 GiB upload crosses threads about 250 times, not once per
network read; the pieces are handed on as received, never joined. At most one batch is
held: memory stays bounded whatever the body size. :func:`batched` does the same for a
response body: the engine's 64 KiB chunks are joined into pieces of 1 MiB, which
:class:`~domicile.gateway.feed.Feed` hands to the loop.

A client that disconnects before the body's end makes the iterator raise
``IncompleteBody``: the engine then aborts the upload and nothing becomes visible.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any, Final

from domicile.gateway.s3errors import reject

Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]

#: Bytes gathered from the loop per crossing into a worker thread (requests) and per
#: crossing back (responses): few crossings, and a bounded amount held per transfer.
BATCH: Final = 4 * 1024 * 1024


class ThreadBody:
    """The request body as a blocking iterator of pieces, for use on a worker thread."""

    def __init__(
        self, receive: Receive, loop: asyncio.AbstractEventLoop, *, batch: int = BATCH
    ) -> None:
        self._receive = receive
        self._loop = loop
        self._batch = batch
        self._done = False
        self.received = 0

    def __iter__(self) -> Iterator[bytes]:
        while not self._done:
            pieces = asyncio.run_coroutine_threadsafe(self._gather(), self._loop).result()
            for piece in pieces:
                self.received += len(piece)
                yield piece

    @property
    def complete(self) -> bool:
        """Whether the body was read to its end."""
        return self._done

    def drain(self) -> None:
        """Read and drop what is left of the body (so the connection can be reused)."""
        for _ in self:
            pass

    async def _gather(self) -> list[bytes]:
        parts: list[bytes] = []
        size = 0
        while size < self._batch and not self._done:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                self._done = True
                raise reject(
                    "IncompleteBody",
                    "the client went away before the end of the body",
                    hint="send the request again; nothing of this one was kept",
                )
            chunk = message.get("body", b"")
            if chunk:
                parts.append(chunk)
                size += len(chunk)
            if not message.get("more_body", False):
                self._done = True
        return parts


#: The size of the pieces a response body crosses to the event loop in.
RESPONSE_PIECE: Final = 1 * 1024 * 1024


def batched(chunks: Iterator[bytes], size: int = RESPONSE_PIECE) -> Iterator[bytes]:
    """``chunks`` joined into pieces of at least ``size`` bytes (the last may be shorter)."""
    pending: list[bytes] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += len(chunk)
        if held >= size:
            yield pending[0] if len(pending) == 1 else b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def close_stream(chunks: object) -> None:
    """Close ``chunks`` if it can be closed (a generator, a site's response stream)."""
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
