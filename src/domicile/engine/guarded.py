"""``GuardedSite``: a site whose calls skip an open breaker and never wait on a hung site.

For callers that visit many sites one after the other and must not be held by one (the
audit log, which reads and writes checkpoints on every evidence site on every seal and on
close): a call to a site whose breaker is open fails at once with SiteUnavailable; any
other call runs on a daemon thread and is abandoned (SiteUnavailable) once the site has
made the caller wait ``STALL_LAG`` seconds and a probe found it hung (see
:meth:`~domicile.engine.health.Prober.stalled`). A ``get`` stream is read the same way,
piece by piece (the read path of objects has its own, hedged, deadlines:
:mod:`domicile.engine.hedge`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from typing import TypeVar

from domicile.engine.fanout import run_thread
from domicile.engine.health import Prober
from domicile.engine.hedge import Pump
from domicile.errors import SiteUnavailable
from domicile.sites import BlobInfo, Site

T = TypeVar("T")
_POLL = 0.05


class GuardedSite:
    """``inner`` behind its breaker (see the module docstring)."""

    def __init__(self, inner: Site, prober: Prober) -> None:
        self.inner = inner
        self._prober = prober

    def __repr__(self) -> str:
        return f"GuardedSite({self.inner!r})"

    @property
    def site_id(self) -> str:
        return self.inner.site_id

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        return self._guarded(lambda: self.inner.put(blob_id, chunks))

    def put_once(self, blob_id: str, data: bytes) -> bool:
        return self._guarded(lambda: self.inner.put_once(blob_id, data))

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        self._refuse_if_open()
        return self._pieces(Pump(self.inner, blob_id, start, end))

    def head(self, blob_id: str) -> BlobInfo:
        return self._guarded(lambda: self.inner.head(blob_id))

    def delete(self, blob_id: str) -> None:
        self._guarded(lambda: self.inner.delete(blob_id))

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        return iter(self._guarded(lambda: list(self.inner.list(prefix))))

    def close(self) -> None:
        self.inner.close()

    def _refuse_if_open(self) -> None:
        failure = self._prober.health.failure(self.site_id)
        if failure is not None:
            raise SiteUnavailable(
                f"site {self.site_id} is skipped: its breaker is open ({failure})",
                hint="the site is probed in the background; 'domicile sites' shows it",
                site=self.site_id,
            )

    def _pieces(self, pump: Pump) -> Iterator[bytes]:
        began = time.monotonic()
        try:
            while True:
                try:
                    piece = pump.take(_POLL)
                except SiteUnavailable as exc:
                    if not exc.context.get("stalled"):
                        raise
                    error = self._prober.stalled(self.site_id, time.monotonic() - began)
                    if error is not None:
                        raise error from None
                    continue
                if piece is None:
                    return
                began = time.monotonic()
                yield piece
        finally:
            pump.cancel()

    def _guarded(self, call: Callable[[], T]) -> T:
        self._refuse_if_open()
        began = time.monotonic()
        fut: Future[T] = run_thread(call)
        while not fut.done():
            with contextlib.suppress(TimeoutError):
                fut.exception(timeout=_POLL)
            if not fut.done():
                error = self._prober.stalled(self.site_id, time.monotonic() - began)
                if error is not None:
                    raise error
        return fut.result()
