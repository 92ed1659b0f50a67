"""Run-time health of sites: one circuit breaker per site, latency, background probes.

Health is separate from a site's configured status: status says what the operator allows
(active, draining, suspended, retired); health says whether the site answers right now.

The breaker of a site is **closed** (requests go to it) until a request or a probe fails
or times out; it is then **open**: placement gives the site no new copy, reads try it
only when no other copy can serve, and the background prober (:class:`Prober`) probes it,
one probe at a time, every ``0.5 s`` doubling to ``probe_every`` seconds. A probe that
answers within ``probe_timeout`` seconds closes the breaker; a probe still hanging past
that deadline counts as a failure (and no second probe is started while it hangs). The
breaker outlives any one request: a site that stopped answering stays open until it
answers again, so a request pays for a hung site at most once.

A probe asks the site for a blob that cannot exist: "not found" in time means reachable.
Its round trip, and the time to first byte of every read, are the site's latency samples:
reads order closed sites by their latest sample, and the hedge delay of a site (how long a
read waits for its first byte before asking the next copy too) is twice the 99th
percentile of its recent samples, between ``HEDGE_MIN`` and ``HEDGE_MAX`` seconds.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from domicile.errors import BlobNotFound, SiteError, SiteUnavailable
from domicile.sites import Site

PROBE_BLOB = "zz-domicile-probe"
#: A site's latency is "known" when probed or read within this many seconds.
PROBE_TTL = 30.0
#: How long a probe may take before it counts as a failure (the site is hung).
PROBE_TIMEOUT = 2.0
#: Bounds of the hedge delay, and the delay used while a site has too few samples.
HEDGE_MIN, HEDGE_MAX, HEDGE_UNKNOWN = 0.25, 2.0, 1.0
#: Samples kept per site (probe round trips and times to first byte).
SAMPLES = 64
#: How long a PUT's placement waits for the probes of sites not seen lately; past that
#: it decides on the breakers as they stand (a hung site's probe opens its breaker later).
PLACEMENT_WAIT = 0.5
#: How long a write may see no progress from a site before the site is probed; a write
#: to a site whose breaker is open (that probe timed out) is abandoned.
STALL_LAG = 0.5
CLOSED, OPEN = "closed", "open"


@dataclass(frozen=True, slots=True)
class SiteHealth:
    """What the engine last saw of a site (``domicile sites`` and ``/metrics`` show it)."""

    site_id: str
    healthy: bool
    last_error: str | None
    failed_at: float | None
    latency_ms: float | None = None
    probed: bool = False
    state: str = CLOSED
    p50_ms: float | None = None
    p99_ms: float | None = None
    hedge_ms: float | None = None


class _Site:
    """The mutable record of one site (guarded by the book's lock)."""

    __slots__ = (
        "errors",
        "failed_at",
        "failure",
        "hedge",
        "last",
        "next_probe",
        "probe_gap",
        "samples",
    )

    def __init__(self) -> None:
        self.hedge: float | None = None  # the hedge delay, computed again after a sample
        self.failure: str | None = None  # the breaker is open while this is set
        self.failed_at: float | None = None
        self.errors = 0
        self.samples: deque[float] = deque(maxlen=SAMPLES)
        self.last: tuple[float, float] | None = None  # (seen at, seconds)
        self.next_probe = 0.0
        self.probe_gap = 0.5


class HealthBook:
    """Thread-safe breakers and latency samples of every site."""

    def __init__(
        self,
        probe_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        *,
        probe_timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.probe_every = probe_every  # the longest gap between probes of an open site
        self.probe_timeout = probe_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._sites: dict[str, _Site] = {}

    def _get(self, site_id: str) -> _Site:
        found = self._sites.get(site_id)
        if found is None:
            found = self._sites[site_id] = _Site()
        return found

    # --- what requests and probes report ------------------------------------------------

    def record_failure(self, site_id: str, error: BaseException) -> None:
        """A failure or a timeout: open the breaker (probed from now on)."""
        with self._lock:
            site = self._get(site_id)
            now = self._clock()
            if site.failure is None:  # newly open: probe soon, then less and less often
                site.probe_gap = 0.5
                site.next_probe = now + site.probe_gap
            site.failure = f"{type(error).__name__}: {error}"
            site.failed_at = now
            site.errors += 1

    def record_success(self, site_id: str) -> None:
        """A request succeeded: the site answers, close its breaker."""
        with self._lock:
            self._get(site_id).failure = None

    def record_latency(self, site_id: str, seconds: float) -> None:
        """A probe answered in ``seconds``: a sample, and the breaker closes."""
        with self._lock:
            site = self._get(site_id)
            site.failure = None
            site.samples.append(seconds)
            site.hedge = None
            site.last = (self._clock(), seconds)

    def record_ttfb(self, site_id: str, seconds: float) -> None:
        """A read got its first byte after ``seconds`` (a latency sample)."""
        with self._lock:
            site = self._get(site_id)
            site.samples.append(seconds)
            site.hedge = None
            site.last = (self._clock(), seconds)

    # --- what requests ask --------------------------------------------------------------

    def error_counts(self) -> dict[str, int]:
        """How many failures each site has had since the engine started (for metrics)."""
        with self._lock:
            return {sid: s.errors for sid, s in self._sites.items() if s.errors}

    def probed_within(self, site_id: str, ttl: float) -> bool:
        """Whether the site answered, or was seen failing, less than ``ttl`` seconds ago."""
        now = self._clock()
        with self._lock:
            site = self._get(site_id)
            times = [t for t in (site.last and site.last[0], site.failed_at) if t is not None]
        return any(now - t < ttl for t in times)

    def healthy(self, site_id: str) -> bool:
        """Whether the site's breaker is closed."""
        with self._lock:
            return self._get(site_id).failure is None

    def failure(self, site_id: str) -> str | None:
        """Why the site's breaker is open, or None while it is closed."""
        with self._lock:
            return self._get(site_id).failure

    def state(self, site_id: str) -> str:
        return CLOSED if self.healthy(site_id) else OPEN

    def latency(self, site_id: str) -> float | None:
        """The latest sample in seconds (probe round trip or time to first byte), if any."""
        with self._lock:
            last = self._get(site_id).last
        return None if last is None else last[1]

    def percentile(self, site_id: str, q: float) -> float | None:
        """The ``q`` quantile (0..1) of the site's recent samples, in seconds."""
        with self._lock:
            samples = sorted(self._get(site_id).samples)
        if not samples:
            return None
        return samples[min(len(samples) - 1, math.ceil(q * len(samples)) - 1)]

    def hedge_delay(self, site_id: str) -> float:
        """Seconds a read waits for the site's first byte before also asking another copy:
        twice the p99 of its samples, within [HEDGE_MIN, HEDGE_MAX]; HEDGE_UNKNOWN with
        fewer than 5 samples."""
        with self._lock:
            site = self._get(site_id)
            if site.hedge is None:
                samples = sorted(site.samples)
                if len(samples) < 5:
                    site.hedge = HEDGE_UNKNOWN
                else:
                    p99 = samples[min(len(samples) - 1, math.ceil(0.99 * len(samples)) - 1)]
                    site.hedge = min(HEDGE_MAX, max(HEDGE_MIN, 2 * p99))
            return site.hedge

    def snapshot(self, site_ids: Iterable[str]) -> dict[str, bool]:
        """``{site_id: healthy}`` for the given sites, as the placement decision takes it."""
        return {site_id: self.healthy(site_id) for site_id in site_ids}

    def read_order(self, site_ids: Iterable[str]) -> list[str]:
        """Closed breakers first, then by latest latency (unknown last), then by id."""

        def key(site_id: str) -> tuple[bool, float, str]:
            latency = self.latency(site_id)
            return (
                not self.healthy(site_id),
                math.inf if latency is None else latency,
                site_id,
            )

        return sorted(site_ids, key=key)

    def describe(self, site_id: str) -> SiteHealth:
        with self._lock:
            site = self._get(site_id)
            failure, failed_at, last = site.failure, site.failed_at, site.last
        p50, p99 = self.percentile(site_id, 0.5), self.percentile(site_id, 0.99)
        return SiteHealth(
            site_id,
            failure is None,
            failure,
            failed_at if failure is not None else None,
            None if last is None else round(last[1] * 1000, 2),
            last is not None,
            CLOSED if failure is None else OPEN,
            None if p50 is None else round(p50 * 1000, 2),
            None if p99 is None else round(p99 * 1000, 2),
            round(self.hedge_delay(site_id) * 1000, 2),
        )

    # --- for the prober -----------------------------------------------------------------

    def due(self, site_ids: Iterable[str]) -> list[str]:
        """Open sites whose next probe is due (and reschedule them, backing off)."""
        now = self._clock()
        found = []
        with self._lock:
            for site_id in site_ids:
                site = self._get(site_id)
                if site.failure is not None and now >= site.next_probe:
                    site.probe_gap = min(self.probe_every, site.probe_gap * 2)
                    site.next_probe = now + site.probe_gap
                    found.append(site_id)
        return found


class Prober:
    """Probes sites in the background: one probe at a time per site, each bounded.

    :meth:`probe` starts a probe (unless one is in flight) on a daemon thread and returns at
    once; a probe that has not answered after ``health.probe_timeout`` seconds is recorded as
    a failure by whoever looks first (:meth:`reap`). :meth:`start` runs a loop that probes
    the open sites when due (see :class:`HealthBook`), until :meth:`stop`.
    """

    def __init__(self, health: HealthBook, sites: Mapping[str, Site]) -> None:
        self.health = health
        self.sites = sites
        self._lock = threading.Lock()
        self._flying: dict[str, tuple[float, threading.Event, list[bool]]] = {}
        self._suspected: dict[str, float] = {}  # site -> when a stalled write last probed it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="domicile-prober", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(0.1):
            self.reap()
            for site_id in self.health.due(self.sites):
                self.probe(site_id)

    def probe(self, site_id: str) -> threading.Event:
        """Start a probe of ``site_id`` unless one is in flight; an event set when it ends
        (answer, failure, or its deadline passed)."""
        with self._lock:
            flying = self._flying.get(site_id)
            if flying is not None:
                return flying[1]
            done, timed_out = threading.Event(), [False]
            self._flying[site_id] = (time.monotonic(), done, timed_out)
        site = self.sites.get(site_id)
        if site is None:
            with self._lock:
                del self._flying[site_id]
            done.set()
            return done
        threading.Thread(
            target=self._run, args=(site, done, timed_out), name="domicile-probe", daemon=True
        ).start()
        return done

    def stalled(self, site_id: str, idle: float) -> SiteUnavailable | None:
        """For a write that has seen no progress from ``site_id`` for ``idle`` seconds:
        the error to abandon it with if the site's breaker is open; otherwise None (and,
        past ``STALL_LAG`` seconds, a probe is started: a hung site's probe opens it)."""
        if idle < STALL_LAG:
            return None
        self.reap()
        failure = self.health.failure(site_id)
        if failure is not None:
            return SiteUnavailable(
                f"site {site_id} stopped answering during a write ({failure})",
                hint="the site is probed in the background; 'domicile sites' shows its state",
                site=site_id,
            )
        now = time.monotonic()
        with self._lock:  # at most one probe per STALL_LAG for a write that keeps waiting
            due = now - self._suspected.get(site_id, -math.inf) >= STALL_LAG
            if due:
                self._suspected[site_id] = now
        if due:
            self.probe(site_id)
        return None

    def reap(self) -> None:
        """Record every probe past its deadline as a failure (once; it stays in flight)."""
        now = time.monotonic()
        with self._lock:
            late = [
                (site_id, done, flag)
                for site_id, (began, done, flag) in self._flying.items()
                if not flag[0] and now - began >= self.health.probe_timeout
            ]
            for _site_id, _done, flag in late:
                flag[0] = True
        for site_id, done, _flag in late:
            self.health.record_failure(
                site_id,
                SiteUnavailable(
                    f"site {site_id} did not answer a probe within "
                    f"{self.health.probe_timeout:g} s (hung?)",
                    site=site_id,
                ),
            )
            done.set()

    def wait(self, site_ids: Iterable[str], timeout: float) -> None:
        """Probe ``site_ids`` (those not in flight) and wait up to ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        events = [self.probe(site_id) for site_id in site_ids]
        for event in events:  # each ends by its answer or its own deadline (reaped here)
            while not event.wait(0.05):
                self.reap()
                if time.monotonic() >= deadline:
                    return

    def _run(self, site: Site, done: threading.Event, timed_out: list[bool]) -> None:
        site_id = site.site_id
        start = time.perf_counter()
        outcome: BaseException | None = None
        try:
            site.head(PROBE_BLOB)
        except BlobNotFound:
            pass
        except SiteError as exc:
            outcome = exc
        except Exception as exc:  # a broken adapter: still a failed probe, never a crash
            outcome = exc
        elapsed = time.perf_counter() - start
        with self._lock:
            late = timed_out[0]
            self._flying.pop(site_id, None)
        if not late:  # a late answer was already counted as a failure
            if outcome is None:
                self.health.record_latency(site_id, elapsed)
            else:
                self.health.record_failure(site_id, outcome)
        done.set()


def probe_sites(
    prober: Prober,
    *,
    ttl: float = PROBE_TTL,
    only: Iterable[str] | None = None,
    wait: float = PROBE_TIMEOUT,
) -> None:
    """Probe, concurrently, every site (of ``only``) not seen within ``ttl`` seconds, and
    wait for the answers at most ``wait`` seconds (a hung site's probe keeps running in
    the background and counts as a failure at its deadline)."""
    wanted = list(prober.sites) if only is None else [s for s in only if s in prober.sites]
    due = [site_id for site_id in wanted if not prober.health.probed_within(site_id, ttl)]
    if due:
        prober.wait(due, wait)
