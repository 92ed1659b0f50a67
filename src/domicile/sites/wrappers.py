"""Behaviour that wraps any :class:`~domicile.sites.base.Site`: retries and read-only access.

Each wrapper is itself a ``Site`` (and passes the conformance suite), so they compose:
``RetryingSite(ReadOnlySite(LocalSite(...)))``. Fault injection for tests lives in
:mod:`domicile.sites.faulty`.
"""

from __future__ import annotations

import builtins
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TypeVar, cast

from domicile.errors import ConfigError, DomicileError, SiteAccessDenied
from domicile.sites.base import (
    BlobInfo,
    Leftover,
    LocksBlobs,
    Site,
    SweepsTemp,
    check_blob_id,
    check_prefix,
    check_range,
)

T = TypeVar("T")
#: What :meth:`RetryingSite.put` accepts: one bytes-like chunk, chunks, or a callable
#: returning fresh chunks.
PutSource = bytes | bytearray | memoryview | Iterable[bytes] | Callable[[], Iterable[bytes]]


class RetryingSite:
    """Retries the retryable failures (``err.retryable``, e.g. SiteUnavailable) of ``inner``.

    This is the one place that retries a call to a site (the S3 client makes one attempt
    per call; the read path adds no retry of its own, only failover to other copies). A
    retry is made only while it can start within ``deadline`` seconds of the first
    attempt's start, and at most ``attempts`` tries are made in all, sleeping
    ``rng() * min(max_delay, base_delay * 2**n)`` seconds after the n-th failed one
    (exponential backoff with full jitter). So a site that refuses connections is retried
    for a moment, while one that timed out (it took the site's whole socket timeout, longer
    than the deadline) is not retried at all: the caller moves on. Errors that are
    not retryable (BlobNotFound, SiteFull, InvalidName, ...) and errors raised by the caller's
    own chunk iterator propagate at once; the last failure propagates unchanged, with
    ``context['attempts']`` set.

    What can be retried:

    - ``put`` with chunks that can be replayed: a bare ``bytes``/``bytearray``/``memoryview``
      (one chunk), a ``Sequence`` of chunks (list, tuple), or a zero-argument callable that
      returns a fresh iterable for each attempt. Any other iterable (a generator, a queue
      drain) is one-shot: it is retried only while the failed attempt had not asked it for
      any chunk (e.g. the site was unreachable before the upload began); once one chunk was
      requested, the first failure propagates.
    - ``get`` and ``list``: until their first item is delivered. The first item is fetched
      when the call is made; after it has been yielded, a failure propagates (the engine
      then reads another copy).
    - ``head`` and ``delete``: whole calls (both are idempotent).
    """

    def __init__(
        self,
        inner: Site,
        attempts: int = 4,
        base_delay: float = 0.05,
        max_delay: float = 0.5,
        *,
        deadline: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, not {attempts}")
        self.inner = inner
        self._attempts = attempts
        self._deadline = deadline
        self._clock = clock
        self._base = base_delay
        self._max = max_delay
        self._sleep = sleep
        self._rng = rng

    def __repr__(self) -> str:
        return (
            f"RetryingSite({self.inner!r}, attempts={self._attempts}, deadline={self._deadline:g})"
        )

    @property
    def site_id(self) -> str:
        return self.inner.site_id

    def put(self, blob_id: str, chunks: PutSource) -> int:
        """``inner.put`` with retries, as far as ``chunks`` can be replayed (see the class)."""
        check_blob_id(blob_id)
        if isinstance(chunks, bytes | bytearray | memoryview):
            data = chunks
            return self._call(lambda: self.inner.put(blob_id, [data]))  # type: ignore[list-item]
        if isinstance(chunks, Sequence):
            replayable = cast("Sequence[bytes]", chunks)
            return self._call(lambda: self.inner.put(blob_id, replayable))
        if callable(chunks):
            factory = chunks
            return self._call(lambda: self.inner.put(blob_id, factory()))
        once = _OneShot(chunks)
        return self._call(lambda: self.inner.put(blob_id, once), lambda: not once.started)

    def put_once(self, blob_id: str, data: bytes) -> bool:
        """``inner.put_once`` with retries. A retry after a lost answer finds the blob
        written by the failed attempt and returns False: callers read it and compare."""
        check_blob_id(blob_id)
        return self._call(lambda: self.inner.put_once(blob_id, data))

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        check_blob_id(blob_id)
        check_range(start, end, site=self.site_id)
        return self._streamed(lambda: self.inner.get(blob_id, start, end))

    def head(self, blob_id: str) -> BlobInfo:
        check_blob_id(blob_id)
        return self._call(lambda: self.inner.head(blob_id))

    def delete(self, blob_id: str) -> None:
        check_blob_id(blob_id)
        self._call(lambda: self.inner.delete(blob_id))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        check_prefix(prefix)
        return self._streamed(lambda: self.inner.list(prefix))

    def sweep_temp(
        self, older_than: float = 3600.0, *, dry_run: bool = False
    ) -> builtins.list[Leftover]:
        """``inner.sweep_temp``, not retried (a retry would not report what the failed
        attempt removed; the next sweep finishes the job); [] when ``inner`` has no writer
        scratch (:class:`~domicile.sites.base.SweepsTemp`)."""
        if not isinstance(self.inner, SweepsTemp):
            return []
        return self.inner.sweep_temp(older_than, dry_run=dry_run)

    def check_locking(self) -> None:
        """``inner.check_locking``; ConfigError when ``inner`` cannot lock blobs at all
        (:class:`~domicile.sites.base.LocksBlobs`: only S3 buckets with Object Lock)."""
        if not isinstance(self.inner, LocksBlobs):
            raise ConfigError(
                f'site {self.site_id} cannot lock blobs (lock = "mirror"): its store has no '
                "Object Lock",
                hint='use lock = "mirror" only on an S3 site whose bucket has Object Lock',
                site=self.site_id,
                key=f"sites.{self.site_id}.lock",
            )
        self._call(self.inner.check_locking)

    def lock_blob(
        self, blob_id: str, mode: str | None, until: float | None, legal_hold: bool
    ) -> None:
        """``inner.lock_blob`` with retries (idempotent: it only extends)."""
        check_blob_id(blob_id)
        if not isinstance(self.inner, LocksBlobs):
            raise ConfigError(f"site {self.site_id} cannot lock blobs", site=self.site_id)
        inner = self.inner
        self._call(lambda: inner.lock_blob(blob_id, mode, until, legal_hold))

    def close(self) -> None:
        self.inner.close()

    def delay(self, failures: int) -> float:
        """Seconds to sleep after ``failures`` (1, 2, ...) failed attempts: full jitter."""
        return self._rng() * min(self._max, self._base * 2.0 ** (failures - 1))

    def _call(self, fn: Callable[[], T], may_retry: Callable[[], bool] = lambda: True) -> T:
        failures = 0
        began = self._clock()
        while True:
            try:
                return fn()
            except DomicileError as exc:
                failures += 1
                if exc.retryable and failures < self._attempts and may_retry():
                    pause = self.delay(failures)
                    if self._clock() - began + pause <= self._deadline:
                        self._sleep(pause)
                        continue
                exc.context["attempts"] = failures
                raise

    def _streamed(self, open_stream: Callable[[], Iterable[T]]) -> Iterator[T]:
        def first() -> tuple[Iterator[T], list[T]]:
            stream = iter(open_stream())
            try:
                return stream, [next(stream)]
            except StopIteration:
                return stream, []
            except BaseException:
                _close(stream)
                raise

        stream, head = self._call(first)
        return _chain(head, stream)


class ReadOnlySite:
    """Lets reads through and refuses writes (``put``, ``delete``) with SiteAccessDenied.

    Used for sites that are draining: their copies are read and moved off, never added to
    or removed by anything but the planner, which works on the unwrapped site.
    """

    def __init__(self, inner: Site, reason: str = "draining") -> None:
        self.inner = inner
        self.reason = reason

    def __repr__(self) -> str:
        return f"ReadOnlySite({self.inner!r}, reason={self.reason!r})"

    @property
    def site_id(self) -> str:
        return self.inner.site_id

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        check_blob_id(blob_id)
        raise self._refuse("put", blob_id)

    def put_once(self, blob_id: str, data: bytes) -> bool:
        check_blob_id(blob_id)
        raise self._refuse("put", blob_id)

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        return self.inner.get(blob_id, start, end)

    def head(self, blob_id: str) -> BlobInfo:
        return self.inner.head(blob_id)

    def delete(self, blob_id: str) -> None:
        check_blob_id(blob_id)
        raise self._refuse("delete", blob_id)

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return self.inner.list(prefix)

    def close(self) -> None:
        self.inner.close()

    def _refuse(self, operation: str, blob_id: str) -> SiteAccessDenied:
        return SiteAccessDenied(
            f"site {self.site_id} is read-only ({self.reason}): {operation} of blob "
            f"{blob_id} refused",
            hint="new copies go to active sites; set the site's status to active to write "
            "to it again",
            site=self.site_id,
            operation=operation,
            blob=blob_id,
        )


class _OneShot:
    """A one-shot chunk iterator that remembers whether anyone asked it for a chunk."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self.started = False

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        self.started = True
        return next(self._it)


def _chain(head: Sequence[T], stream: Iterator[T]) -> Iterator[T]:
    try:
        yield from head
        yield from stream
    finally:
        _close(stream)


def _close(stream: Iterator[object]) -> None:
    close = getattr(stream, "close", None)
    if callable(close):
        close()
