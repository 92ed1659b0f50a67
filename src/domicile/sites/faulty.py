"""``FaultySite``: a wrapper that injects programmable faults, for tests.

Every fault is armed by a method call and applies to the calls that follow::

    site = FaultySite(LocalSite.create("a", tmp_path))
    site.fail_next("head", 2)        # the next 2 heads raise SiteUnavailable
    site.go_down(); ...; site.heal() # every call raises SiteUnavailable until healed
    site.die_after(1000)             # the next put raises after passing 1,000 bytes on
    site.fill_after(10_000)          # puts beyond 10,000 bytes in all raise SiteFull
    site.flip_byte(17)               # reads return byte 17 of every blob inverted
    site.truncate_at(100)            # reads stop silently at byte 100 (a short read)
    site.flaky(0.3)                  # each call fails (SiteUnavailable) with chance 0.3
    site.latency = 0.2               # every call sleeps 0.2 s first
    site.hang(); ...; site.thaw()    # every call blocks (a hung server or NFS mount) until thawed
    site.stall_at(100_000)           # reads block at blob offset 100,000 until thawed
    assert site.calls["put"] == 3    # calls per method with valid arguments, faulty or not

Faults in ``put`` are raised from *inside* the chunk stream handed to the inner site, so
they exercise the inner site's atomicity exactly as a dying client or a full disk would.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from domicile.errors import SiteError, SiteFull, SiteUnavailable
from domicile.sites.base import BlobInfo, Site, check_blob_id, check_prefix, check_range

#: An error to inject: an exception, or a factory making one per call.
Fault = BaseException | Callable[[], BaseException]
METHODS = frozenset({"put", "put_once", "get", "head", "delete", "list"})


class FaultySite:
    """A :class:`~domicile.sites.base.Site` around ``inner`` that fails on command."""

    def __init__(self, inner: Site, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.inner = inner
        self.calls: Counter[str] = Counter()
        self.latency = 0.0
        self._sleep = sleep
        self._lock = threading.Lock()
        self._queued: dict[str, list[tuple[int, Fault | None]]] = {m: [] for m in METHODS}
        self._down = False
        self._die_after: tuple[int, Fault | None] | None = None
        self._budget: int | None = None
        self._used = 0
        self._flip: int | None = None
        self._truncate: int | None = None
        self._flaky: tuple[float, random.Random] | None = None
        self._thawed = threading.Event()
        self._thawed.set()
        self._hung = False
        self._stall: int | None = None

    def __repr__(self) -> str:
        return f"FaultySite({self.inner!r})"

    @property
    def site_id(self) -> str:
        return self.inner.site_id

    # --- arming faults ----------------------------------------------------------------------

    def fail_next(self, method: str, count: int = 1, error: Fault | None = None) -> None:
        """Make the next ``count`` calls of ``method`` raise ``error`` (SiteUnavailable)."""
        if method not in METHODS:
            raise ValueError(f"unknown site method {method!r}; one of {sorted(METHODS)}")
        with self._lock:
            self._queued[method].append((count, error))

    def go_down(self) -> None:
        """Every call raises SiteUnavailable until :meth:`heal`."""
        self._down = True

    def heal(self) -> None:
        """Undo :meth:`go_down`."""
        self._down = False

    def die_after(self, nbytes: int, error: Fault | None = None) -> None:
        """The next put passes ``nbytes`` bytes to the inner site, then raises ``error``."""
        self._die_after = (nbytes, error)

    def fill_after(self, nbytes: int | None) -> None:
        """Allow ``nbytes`` more bytes of puts in all (deletes give space back); None: no limit."""
        with self._lock:
            self._budget, self._used = nbytes, 0

    def flip_byte(self, offset: int | None) -> None:
        """Reads return the byte at blob offset ``offset`` inverted (None: stop)."""
        self._flip = offset

    def truncate_at(self, offset: int | None) -> None:
        """Reads end silently at blob offset ``offset``, a short read (None: stop)."""
        self._truncate = offset

    def flaky(self, rate: float | None, rng: random.Random | None = None) -> None:
        """Each call fails with probability ``rate`` before reaching the inner site (None: stop)."""
        self._flaky = None if rate is None else (rate, rng or random.Random(0))  # noqa: S311 (test faults)

    def hang(self) -> None:
        """Every call blocks, answering nothing, until :meth:`thaw` (a frozen server)."""
        self._hung = True
        self._thawed.clear()

    def stall_at(self, offset: int | None) -> None:
        """Reads pass the bytes before blob offset ``offset``, then block until :meth:`thaw`
        (a server frozen mid-body); None: stop."""
        self._stall = offset
        if offset is not None:
            self._thawed.clear()

    def thaw(self) -> None:
        """Undo :meth:`hang` and :meth:`stall_at`: blocked calls go on."""
        self._hung = False
        self._stall = None
        self._thawed.set()

    def reset(self) -> None:
        """Disarm every fault and clear the counters."""
        with self._lock:
            for queue in self._queued.values():
                queue.clear()
            self.calls.clear()
        self._down, self._die_after, self._budget = False, None, None
        self._flip = self._truncate = None
        self._flaky = None
        self.latency = 0.0
        self.thaw()

    # --- the Site protocol ------------------------------------------------------------------

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        check_blob_id(blob_id)
        self._enter("put")
        with self._lock:
            die, self._die_after = self._die_after, None
        size = self.inner.put(blob_id, self._metered(blob_id, chunks, die))
        with self._lock:
            self._used += size
        return size

    def put_once(self, blob_id: str, data: bytes) -> bool:
        """Faults armed for ``put_once`` (or the site being down) apply; then ``inner``."""
        check_blob_id(blob_id)
        self._enter("put_once")
        return self.inner.put_once(blob_id, data)

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        check_blob_id(blob_id)
        check_range(start, end, site=self.site_id)
        self._enter("get")
        stream = self.inner.get(blob_id, start, end)
        if self._stall is not None:
            stream = _stalled(stream, start, self._stall, self._thawed)
        if self._flip is None and self._truncate is None:
            return stream
        return _damaged(stream, start, self._flip, self._truncate)

    def head(self, blob_id: str) -> BlobInfo:
        check_blob_id(blob_id)
        self._enter("head")
        return self.inner.head(blob_id)

    def delete(self, blob_id: str) -> None:
        check_blob_id(blob_id)
        self._enter("delete")
        freed = 0
        if self._budget is not None:
            try:
                freed = self.inner.head(blob_id).size
            except SiteError:
                freed = 0
        self.inner.delete(blob_id)
        with self._lock:
            self._used -= freed

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        check_prefix(prefix)
        self._enter("list")
        return self.inner.list(prefix)

    def close(self) -> None:
        self.inner.close()

    # --- helpers ----------------------------------------------------------------------------

    def _enter(self, method: str) -> None:
        with self._lock:
            self.calls[method] += 1
            queue = self._queued[method]
            fault: Fault | bool | None = False
            if queue:
                count, fault = queue[0]
                if count <= 1:
                    queue.pop(0)
                else:
                    queue[0] = (count - 1, fault)
        if self._hung:  # block before anything, as a frozen server does
            self._thawed.wait()
        if self.latency:
            self._sleep(self.latency)
        if self._down:
            raise self._unavailable(method, "the site is down (injected)")
        flaky = self._flaky
        if flaky is not None and flaky[1].random() < flaky[0]:
            raise self._unavailable(method, "a flaky failure (injected)")
        if fault is not False:
            raise self._make(fault, method, "injected failure")

    def _metered(
        self, blob_id: str, chunks: Iterable[bytes], die: tuple[int, Fault | None] | None
    ) -> Iterator[bytes]:
        sent = 0
        if isinstance(chunks, bytes | bytearray | memoryview):
            chunks = [chunks]  # type: ignore[list-item]
        for chunk in chunks:
            size = memoryview(chunk).nbytes
            if die is not None and sent + size >= die[0]:
                if die[0] > sent:
                    yield bytes(memoryview(chunk)[: die[0] - sent])
                raise self._make(die[1], "put", f"died after {die[0]} bytes of {blob_id}")
            if self._budget is not None and self._used + sent + size > self._budget:
                raise SiteFull(
                    f"site {self.site_id}: no space left for blob {blob_id} (injected)",
                    hint="free space on the site, or set its status to draining",
                    site=self.site_id,
                    operation="put",
                    blob=blob_id,
                )
            sent += size
            yield chunk
        if die is not None:  # the blob was shorter than the fault's byte count
            raise self._make(die[1], "put", f"died at the end of {blob_id} ({sent} bytes)")

    def _make(self, fault: Fault | bool | None, method: str, what: str) -> BaseException:
        if isinstance(fault, BaseException):
            return fault
        if callable(fault):
            return fault()
        return self._unavailable(method, what)

    def _unavailable(self, method: str, what: str) -> SiteUnavailable:
        return SiteUnavailable(
            f"site {self.site_id}: {method} failed: {what}",
            hint="a test fault: heal() or reset() the FaultySite",
            site=self.site_id,
            operation=method,
        )


def _damaged(
    stream: Iterator[bytes], start: int, flip: int | None, truncate: int | None
) -> Iterator[bytes]:
    pos = start
    try:
        for original in stream:
            piece = original
            if truncate is not None and pos + len(piece) > truncate:
                piece = piece[: max(0, truncate - pos)]
            if flip is not None and pos <= flip < pos + len(piece):
                data = bytearray(piece)
                data[flip - pos] ^= 0xFF
                piece = bytes(data)
            if piece:
                yield piece
            pos += len(piece)
            if truncate is not None and pos >= truncate:
                return
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()


def _stalled(
    stream: Iterator[bytes], start: int, stall: int, thawed: threading.Event
) -> Iterator[bytes]:
    pos = start
    try:
        for original in stream:
            piece = original
            if pos + len(piece) > stall and not thawed.is_set():
                if stall > pos:
                    yield piece[: stall - pos]
                    piece, pos = piece[stall - pos :], stall
                thawed.wait()
            yield piece
            pos += len(piece)
    finally:
        close = getattr(stream, "close", None)
        if callable(close):
            close()
