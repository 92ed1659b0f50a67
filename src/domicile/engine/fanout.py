"""Stream one blob to several sites at once, all or nothing.

The producer calls :meth:`FanOut.send` with each piece of ciphertext; every site's ``put``
runs on its own worker thread and pulls the same pieces from a bounded queue, so memory
stays at ``depth`` pieces per site whatever the blob size. If any site fails, every other
put is aborted (its chunk iterator raises, which a ``Site`` turns into "nothing written"),
blobs that already completed are deleted, and the first failure is raised.

A site that stops answering (a hung server: connections open, nothing moves) would block
the producer on its full queue, or the end of the upload, for as long as its sockets
allow. With a ``guard`` (the engine's :class:`~domicile.engine.health.Prober`), a site that
made no progress for a while is probed; once its breaker is open the upload is abandoned
with that site's SiteUnavailable, without waiting for its worker, which stays blocked in
the background until its own socket timeout (what it may have written by then is an
unreferenced blob, removed by the orphan sweep).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from domicile.engine.daemons import POOL
from domicile.errors import SiteError
from domicile.sites.base import Site

T = TypeVar("T")
_END = object()
_POLL = 0.05
#: How long an abort waits for the workers of the sites that still answer.
ABORT_WAIT = 10.0


class StallGuard(Protocol):
    """Judges a site that made no progress for ``idle`` seconds: an error to abandon the
    write with, or None to keep waiting."""

    def stalled(self, site_id: str, idle: float) -> SiteError | None: ...


class FanOutAborted(Exception):
    """Raised inside a site's chunk iterator when another site failed."""


class FanOut:
    """Concurrent, atomic upload of one blob to several sites."""

    def __init__(
        self,
        sites: Sequence[Site],
        blob_id: str,
        depth: int = 8,
        *,
        guard: StallGuard | None = None,
    ):
        self.blob_id = blob_id
        self._sites = list(sites)
        self._guard = guard
        self._abort = threading.Event()
        self._hung: set[int] = set()
        self._stall: SiteError | None = None
        self._moved = [time.monotonic()] * len(self._sites)  # a site's last progress
        self._queues: list[queue.Queue[object]] = [queue.Queue(depth) for _ in self._sites]
        # One thread per site and blob: a shared pool could starve a site's put of a worker
        # while the producer waits on that site's full queue.
        self._futures: list[Future[int]] = [
            run_thread(site.put, blob_id, self._drain(i, q))
            for i, (site, q) in enumerate(zip(self._sites, self._queues, strict=True))
        ]

    def send(self, piece: bytes) -> None:
        """Queue ``piece`` for every site; raises the first site failure, if any."""
        for i, (q, fut) in enumerate(zip(self._queues, self._futures, strict=True)):
            blocked = time.monotonic()
            while True:
                if fut.done():
                    self._fail()
                try:
                    q.put(piece, timeout=_POLL)
                    break
                except queue.Full:
                    self._check(i, blocked)

    def finish(self) -> list[Site]:
        """End the blob and wait for every site; return the sites, or raise after rollback."""
        self.end()
        return self.wait()

    def end(self) -> None:
        """Mark the end of the blob; the sites finish writing in the background."""
        self.send(_END)  # type: ignore[arg-type]

    def wait(self) -> list[Site]:
        """Wait until every site holds the blob durably; return the sites, or raise after
        rollback."""
        ended = time.monotonic()
        for i, fut in enumerate(self._futures):
            while not fut.done():
                with contextlib.suppress(TimeoutError):
                    fut.exception(timeout=_POLL)
                if not fut.done():
                    self._check(i, ended)
            if fut.exception() is not None:
                self._fail()
        return self._sites

    def abort(self) -> None:
        """Cancel the upload on every site and remove what already landed (a hung site's
        worker is not waited for; the others at most ``ABORT_WAIT`` seconds)."""
        self._abort.set()
        deadline = time.monotonic() + ABORT_WAIT
        for i, fut in enumerate(self._futures):  # wait for every worker but the hung ones
            while i not in self._hung and not fut.done() and time.monotonic() < deadline:
                with contextlib.suppress(TimeoutError):
                    fut.exception(timeout=_POLL)
                if self._stalled_now(i, fut):
                    self._hung.add(i)
        for site, fut in zip(self._sites, self._futures, strict=True):
            if fut.done() and fut.exception() is None:
                # On failure, an unreferenced blob stays: the orphan sweep removes it later.
                with contextlib.suppress(SiteError):
                    site.delete(self.blob_id)

    def _stalled_now(self, i: int, fut: Future[int]) -> bool:
        """Whether site ``i``'s unfinished worker belongs to a site the guard judges hung."""
        if self._guard is None or fut.done():
            return False
        idle = time.monotonic() - self._moved[i]
        return self._guard.stalled(self._sites[i].site_id, idle) is not None

    def _check(self, i: int, since: float) -> None:
        """Abandon the upload if site ``i`` made no progress since ``since`` and the guard
        judges it hung."""
        if self._guard is None:
            return
        idle = time.monotonic() - max(since, self._moved[i])
        error = self._guard.stalled(self._sites[i].site_id, idle)
        if error is not None:
            self._hung.add(i)
            self._stall = error
            self._fail()

    def _fail(self) -> None:
        self.abort()
        if self._stall is not None:
            raise self._stall
        errors = [
            exc for fut in self._futures if fut.done() and (exc := fut.exception()) is not None
        ]
        if not errors:
            raise SiteError(f"a site ended the upload of {self.blob_id} before its last byte")
        raise next((e for e in errors if not isinstance(e, FanOutAborted)), errors[0])

    def _drain(self, i: int, q: queue.Queue[object]) -> Iterator[bytes]:
        while True:
            try:
                item = q.get(timeout=_POLL)
            except queue.Empty:
                if self._abort.is_set():
                    raise FanOutAborted(self.blob_id) from None
                continue
            if self._abort.is_set():
                raise FanOutAborted(self.blob_id)
            self._moved[i] = time.monotonic()
            if item is _END:
                return
            yield item  # type: ignore[misc]


def run_thread(fn: Callable[..., T], *args: Any) -> Future[T]:
    """Run ``fn(*args)`` on a daemon thread of the engine's pool; its outcome lands in the
    returned future (a daemon: a call blocked on a hung site never holds the process at
    exit; the pool never makes a call wait for a thread)."""
    fut: Future[T] = Future()

    def target() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:
            fut.set_exception(exc)

    POOL.submit(target)
    return fut


def put_all(writes: Sequence[tuple[Site, str, bytes]], guard: StallGuard | None = None) -> None:
    """Write in-memory blobs (``(site, blob_id, data)``) all at once, each on its own
    thread; raise the first failure, or the guard's error for a site that stopped
    answering (without waiting for its worker)."""
    started = time.monotonic()
    futures = [(site, run_thread(site.put, blob_id, [data])) for site, blob_id, data in writes]
    for site, fut in futures:
        while not fut.done():
            with contextlib.suppress(TimeoutError):
                fut.exception(timeout=_POLL)
            if not fut.done() and guard is not None:
                error = guard.stalled(site.site_id, time.monotonic() - started)
                if error is not None:
                    raise error
    errors = [exc for _site, fut in futures if (exc := fut.exception()) is not None]
    if errors:
        raise errors[0]
