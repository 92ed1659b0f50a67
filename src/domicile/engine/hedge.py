"""Hedged, deadline-bound reads of one blob from the sites holding its copies.

Every ``get`` runs on a daemon thread of :data:`~domicile.engine.daemons.POOL` (a
:class:`Pump`) that hands pieces over through a
small queue, so the reader can stop waiting for a site whatever the site does: a hung
S3 server, a hung NFS mount under a local site. The thread itself ends at the site's
own socket timeout, or never for a hung file system (it is a daemon: it never holds the
process).

:class:`CopySource` serves one blob from its copies, best first:

- **First byte, hedged.** The first copy is asked; if it has not answered within its hedge
  delay (:meth:`~domicile.engine.health.HealthBook.hedge_delay`), the next copy is asked
  too, and so on; the first copy to answer is read, the others are cancelled. A copy that
  fails to answer is skipped at once (the next one is asked without waiting). A copy that
  lost the race after waiting longer than its own hedge delay counts as a timeout: its
  breaker opens, and the background probes decide when it is back.
- **Mid-body, deadline per piece.** Once a copy is chosen, each piece must arrive within
  the stall deadline (twice the hedge delay, within [``STALL_MIN``, ``STALL_MAX``]
  seconds); past it the copy is abandoned with SiteUnavailable and the reader
  (:mod:`domicile.engine.reader`) goes on from the next copy at the same plaintext offset.
  The last copy left is given ``LAST_WAIT`` seconds per piece: abandoning it gains nothing.

Later ``get`` calls of the same source (the body after the header, a jump) go to the chosen
copy, so that every byte of one pass comes from one site and a fault is blamed correctly.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Final

from domicile.engine.daemons import POOL
from domicile.engine.health import HealthBook
from domicile.errors import SiteError, SiteUnavailable
from domicile.sites import Site

STALL_MIN, STALL_MAX = 1.0, 5.0
#: Seconds per piece (and for the first byte) when no other copy is left to ask.
LAST_WAIT = 30.0
#: Pieces a pump reads ahead of the reader.
DEPTH = 2
_END: Final = object()


class _Failed:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class Pump:
    """``site.get(blob_id, start, stop)`` on its own daemon thread, read with deadlines."""

    def __init__(
        self,
        site: Site,
        blob_id: str,
        start: int,
        stop: int | None,
        *,
        signal: queue.SimpleQueue[Pump] | None = None,
    ) -> None:
        self.site = site
        self.started = time.monotonic()
        self.answered: float | None = None
        self._queue: queue.Queue[object] = queue.Queue(DEPTH)
        self._cancelled = threading.Event()
        self._signal = signal
        POOL.submit(lambda: self._run(blob_id, start, stop))

    def cancel(self) -> None:
        """Stop reading; the thread ends as soon as the site lets it."""
        self._cancelled.set()

    def take(self, timeout: float) -> bytes | None:
        """The next piece, None at the end; the site's error; SiteUnavailable if nothing
        came within ``timeout`` seconds."""
        try:
            item = self._queue.get(timeout=timeout)
        except queue.Empty:
            site_id = self.site.site_id
            raise SiteUnavailable(
                f"site {site_id} sent nothing for {timeout:.1f} s during a read (stalled)",
                hint="the read goes on from another copy; 'domicile sites' shows the site",
                site=site_id,
                operation="get",
                stalled=True,
            ) from None
        if item is _END:
            return None
        if isinstance(item, _Failed):
            raise item.error
        return item  # type: ignore[return-value]

    def _run(self, blob_id: str, start: int, stop: int | None) -> None:
        stream: Iterator[bytes] | None = None
        try:
            stream = iter(self.site.get(blob_id, start, stop))
            for piece in stream:
                if not self._offer(piece):
                    return
            self._offer(_END)
        except BaseException as exc:  # handed to the reader, raised there
            self._offer(_Failed(exc))
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def _offer(self, item: object) -> bool:
        first = self.answered is None
        if first:
            self.answered = time.monotonic()
        while not self._cancelled.is_set():
            try:
                self._queue.put(item, timeout=0.1)
            except queue.Full:
                continue
            if first and self._signal is not None:
                self._signal.put(self)
            return True
        return False


class CopySource:
    """One blob, read from the first of ``site_ids`` (best first) to answer; see the module
    docstring. ``site_id`` is the chosen copy once the first ``get`` answered; ``failed``
    lists the copies that failed on the way, with their errors (for the fault record)."""

    def __init__(
        self,
        health: HealthBook,
        sites: Sequence[tuple[str, Site]],
    ) -> None:
        self._health = health
        self._sites = list(sites)
        self.site_id: str | None = None
        self.failed: list[tuple[str, SiteError]] = []
        self._pumps: list[Pump] = []

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Bytes ``[start, end)`` of the blob, as :meth:`Site.get`, with the deadlines."""
        if self.site_id is None:
            pump, first = self._hedged(blob_id, start, end)
        else:
            site = dict(self._sites)[self.site_id]
            pump, first = Pump(site, blob_id, start, end), _NONE
        self._pumps.append(pump)
        return self._pieces(pump, first)

    def close(self) -> None:
        """Cancel every read still running."""
        for pump in self._pumps:
            pump.cancel()
        self._pumps.clear()

    def stall_deadline(self) -> float:
        """Seconds the chosen copy may send nothing before it is abandoned."""
        others = len(self._sites) - len(self.failed) - 1
        if self.site_id is None or others <= 0:
            return LAST_WAIT
        delay = 2 * self._health.hedge_delay(self.site_id)
        return min(STALL_MAX, max(STALL_MIN, delay))

    def _pieces(self, pump: Pump, first: object) -> Iterator[bytes]:
        try:
            if first is not _NONE:
                if first is None:
                    return
                yield first  # type: ignore[misc]
            deadline = self.stall_deadline()
            while (piece := pump.take(deadline)) is not None:
                yield piece
        finally:
            pump.cancel()

    def _hedged(self, blob_id: str, start: int, end: int | None) -> tuple[Pump, object]:
        """Ask the copies in turn, hedging; the winner's pump and its first item."""
        signal: queue.SimpleQueue[Pump] = queue.SimpleQueue()
        waiting: dict[Pump, str] = {}
        todo = list(self._sites)
        hedge_at = 0.0

        def launch() -> float:
            site_id, site = todo.pop(0)
            waiting[Pump(site, blob_id, start, end, signal=signal)] = site_id
            return time.monotonic() + self._health.hedge_delay(site_id)

        hedge_at = launch()
        last_launch = time.monotonic()
        while True:
            now = time.monotonic()
            timeout = hedge_at - now if todo else last_launch + LAST_WAIT - now
            try:
                pump = signal.get(timeout=max(0.0, timeout))
            except queue.Empty:
                if todo:  # no answer in time: ask the next copy too
                    hedge_at, last_launch = launch(), time.monotonic()
                    continue
                raise self._give_up(waiting) from None
            site_id = waiting.pop(pump)
            try:
                first = pump.take(0.0)
            except SiteError as exc:
                self.failed.append((site_id, exc))
                if todo:
                    hedge_at, last_launch = launch(), time.monotonic()
                elif not waiting:
                    raise
                continue
            self._chose(site_id, pump, waiting)
            return pump, first

    def _chose(self, site_id: str, pump: Pump, waiting: dict[Pump, str]) -> None:
        self.site_id = site_id
        answered = pump.answered if pump.answered is not None else time.monotonic()
        self._health.record_ttfb(site_id, answered - pump.started)
        for other, other_id in waiting.items():
            other.cancel()
            waited = answered - other.started
            if waited >= self._health.hedge_delay(other_id):  # slow beyond its own delay
                self._health.record_failure(
                    other_id,
                    SiteUnavailable(
                        f"site {other_id} sent no first byte within {waited:.1f} s; "
                        f"site {site_id} answered first",
                        site=other_id,
                        operation="get",
                    ),
                )

    def _give_up(self, waiting: dict[Pump, str]) -> SiteUnavailable:
        for pump in waiting:
            pump.cancel()
        names = ", ".join(sorted(waiting.values()))
        error = SiteUnavailable(
            f"no first byte from {names} within {LAST_WAIT:g} s",
            hint="'domicile sites' shows each site's state",
            site=next(iter(waiting.values()), None),
            operation="get",
        )
        self.failed.extend((site_id, error) for site_id in waiting.values())
        return error


_NONE: Final = object()
