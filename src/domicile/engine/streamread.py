"""Serve a SeekableReader's range reads from one streaming GET per segment.

The seekable reader asks for the header, then for consecutive windows of chunks. Asking a
remote site for each window separately pays a round trip per window; this reader opens
one ranged stream covering every chunk the request needs and serves consecutive reads from
it, reopening only if a read jumps. The header of a blob whose requested range starts
further in is fetched on its own, so a small range in a large blob moves only what it needs.

A read that lies within one piece of the site's stream is answered with a view of that
piece, not a copy; only a read that straddles two pieces is joined. Asked for one chunk at
a time (65,552 bytes against a local site's 1 MiB pieces), the reader copies one chunk in
sixteen instead of every byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from domicile.crypto import CHUNK_SIZE, chunk_offset


class Getter(Protocol):
    """What the reader streams from: a ``Site``, or a hedged set of copies
    (:class:`~domicile.engine.hedge.CopySource`)."""

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]: ...


class StreamingReader:
    """A ``read(offset, length)`` callable over ``site``'s blob, streamed up to ``stop``."""

    def __init__(self, site: Getter, blob_id: str, *, header_length: int, start: int, stop: int):
        self._site = site
        self._blob_id = blob_id
        self._first = chunk_offset(start // CHUNK_SIZE, header_length)
        self._stop = stop
        self._it: Iterator[bytes] | None = None
        self._pos = 0
        self._buf = memoryview(b"")

    def __call__(self, offset: int, length: int) -> bytes | memoryview:
        if offset == 0 and length < self._first:
            return b"".join(self._site.get(self._blob_id, 0, length))  # the header alone
        if self._it is None or offset != self._pos:
            self._open(offset)
        parts: list[memoryview] = []
        need = length
        while need:
            if not self._buf:
                assert self._it is not None
                piece = next(self._it, None)
                if piece is None:
                    break
                self._buf = memoryview(piece)
            take = min(need, len(self._buf))
            parts.append(self._buf[:take])
            self._buf = self._buf[take:]
            need -= take
        self._pos += length - need
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _open(self, offset: int) -> None:
        self.close()
        stop = self._stop if offset < self._stop else None
        self._it = iter(self._site.get(self._blob_id, offset, stop))
        self._pos = offset
        self._buf = memoryview(b"")

    def close(self) -> None:
        """Abandon the open stream (a remote site closes its response)."""
        close = getattr(self._it, "close", None)
        if close is not None:
            close()
        self._it = None
