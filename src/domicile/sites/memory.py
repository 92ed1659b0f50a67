"""A site that keeps blobs in a dict: for tests and for throw-away deployments.

It follows the whole :mod:`domicile.sites.base` contract, including atomic puts (the blob is
assembled apart and published under the lock in one step) and thread safety. Nothing
survives the process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator

from domicile.errors import BlobNotFound
from domicile.sites.base import BlobInfo, check_blob_id, check_prefix, check_range, chunk_views

#: Largest piece ``get`` yields.
READ_PIECE = 1024 * 1024


class MemorySite:
    """A dict-backed, thread-safe :class:`~domicile.sites.base.Site`."""

    def __init__(self, site_id: str) -> None:
        self._site_id = site_id
        self._blobs: dict[str, bytes] = {}
        self._written: dict[str, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"MemorySite({self._site_id!r})"

    @property
    def site_id(self) -> str:
        return self._site_id

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        """Assemble the blob from ``chunks``, then publish it in one step; return its size."""
        check_blob_id(blob_id)
        data = b"".join(chunk_views(chunks))
        with self._lock:
            self._blobs[blob_id] = data
            self._written[blob_id] = time.time()
        return len(data)

    def put_once(self, blob_id: str, data: bytes) -> bool:
        """Publish ``data`` under ``blob_id`` unless a blob is there (decided under the lock)."""
        check_blob_id(blob_id)
        blob = bytes(data)
        with self._lock:
            if blob_id in self._blobs:
                return False
            self._blobs[blob_id] = blob
            self._written[blob_id] = time.time()
        return True

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the blob, clipped to its size, in pieces of <= 1 MiB."""
        check_blob_id(blob_id)
        check_range(start, end, site=self._site_id)
        data = self._lookup(blob_id, "get")
        stop = len(data) if end is None else min(end, len(data))
        return _pieces(data, start, stop)

    def head(self, blob_id: str) -> BlobInfo:
        check_blob_id(blob_id)
        return BlobInfo(blob_id, len(self._lookup(blob_id, "head")))

    def delete(self, blob_id: str) -> None:
        check_blob_id(blob_id)
        with self._lock:
            self._blobs.pop(blob_id, None)
            self._written.pop(blob_id, None)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """A snapshot of the blobs whose id starts with ``prefix``, in id order."""
        check_prefix(prefix)
        with self._lock:
            found = [
                BlobInfo(k, len(v), self._written.get(k))
                for k, v in self._blobs.items()
                if k.startswith(prefix)
            ]
        return iter(sorted(found, key=lambda info: info.blob_id))

    def close(self) -> None:
        """Nothing to release; the blobs stay readable for tests that inspect them."""

    def _lookup(self, blob_id: str, operation: str) -> bytes:
        with self._lock:
            data = self._blobs.get(blob_id)
        if data is None:
            raise BlobNotFound(
                f"blob {blob_id} not found on site {self._site_id}",
                hint="the catalog may be stale: run 'domicile verify' to find and repair copies",
                site=self._site_id,
                blob=blob_id,
                operation=operation,
            )
        return data


def _pieces(data: bytes, start: int, stop: int) -> Iterator[bytes]:
    view = memoryview(data)
    for pos in range(start, stop, READ_PIECE):
        yield bytes(view[pos : min(pos + READ_PIECE, stop)])
