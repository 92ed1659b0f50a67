"""Stream one blob to several sites at once, all or nothing.

The producer calls :meth:`FanOut.send` with each piece of ciphertext; every site's ``put``
runs on its own worker thread and pulls the same pieces from a bounded queue, so memory
stays at ``depth`` pieces per site whatever the blob size. If any site fails, every other
put is aborted (its chunk iterator raises, which a ``Site`` turns into "nothing written"),
blobs that already completed are deleted, and the first failure is raised.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from typing import Any

from domicile.errors import SiteError
from domicile.sites.base import Site

_END = object()
_POLL = 0.05


class FanOutAborted(Exception):
    """Raised inside a site's chunk iterator when another site failed."""


class FanOut:
    """Concurrent, atomic upload of one blob to several sites."""

    def __init__(self, sites: Sequence[Site], blob_id: str, depth: int = 8):
        self.blob_id = blob_id
        self._sites = list(sites)
        self._abort = threading.Event()
        self._queues: list[queue.Queue[object]] = [queue.Queue(depth) for _ in self._sites]
        # One thread per site and blob: a shared pool could starve a site's put of a worker
        # while the producer waits on that site's full queue.
        self._futures: list[Future[int]] = [
            _run(site.put, blob_id, self._drain(q))
            for site, q in zip(self._sites, self._queues, strict=True)
        ]

    def send(self, piece: bytes) -> None:
        """Queue ``piece`` for every site; raises the first site failure, if any."""
        for q, fut in zip(self._queues, self._futures, strict=True):
            while True:
                if fut.done():
                    self._fail()
                try:
                    q.put(piece, timeout=_POLL)
                    break
                except queue.Full:
                    continue

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
        for fut in self._futures:
            if fut.exception() is not None:
                self._fail()
        return self._sites

    def abort(self) -> None:
        """Cancel the upload on every site and remove what already landed."""
        self._abort.set()
        for fut in self._futures:
            fut.exception()  # wait for every worker to stop
        for site, fut in zip(self._sites, self._futures, strict=True):
            if fut.exception() is None:
                # On failure, an unreferenced blob stays: the orphan sweep removes it later.
                with contextlib.suppress(SiteError):
                    site.delete(self.blob_id)

    def _fail(self) -> None:
        self.abort()
        errors = [exc for fut in self._futures if (exc := fut.exception()) is not None]
        if not errors:
            raise SiteError(f"a site ended the upload of {self.blob_id} before its last byte")
        raise next((e for e in errors if not isinstance(e, FanOutAborted)), errors[0])

    def _drain(self, q: queue.Queue[object]) -> Iterator[bytes]:
        while True:
            try:
                item = q.get(timeout=_POLL)
            except queue.Empty:
                if self._abort.is_set():
                    raise FanOutAborted(self.blob_id) from None
                continue
            if self._abort.is_set():
                raise FanOutAborted(self.blob_id)
            if item is _END:
                return
            yield item  # type: ignore[misc]


def _run(fn: Any, *args: Any) -> Future[int]:
    """Run ``fn(*args)`` on a new daemon thread; its outcome lands in the returned future."""
    fut: Future[int] = Future()

    def target() -> None:
        if not fut.set_running_or_notify_cancel():
            return
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:
            fut.set_exception(exc)

    threading.Thread(target=target, name="domicile-fanout", daemon=True).start()
    return fut
