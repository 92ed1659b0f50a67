"""Run-time health of sites, as observed by the engine: failures seen and probes made.

Health is separate from a site's configured status: status says what the operator allows
(active, draining, suspended, retired); health says whether the site answered lately. A site
that failed with a transient error is considered unhealthy for ``cooldown`` seconds, so that
placement skips it and reads try it last; the next success clears the mark.

Probes (:func:`probe_sites`) ask every site for a blob that cannot exist: "not found" in
time means reachable, and the round trip is the site's latency, which orders reads among
healthy copies. Results are cached for ``ttl`` seconds, so a busy gateway probes each site
at most that often.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

from domicile.errors import BlobNotFound, SiteError
from domicile.sites import Site

PROBE_BLOB = "zz-domicile-probe"
PROBE_TTL = 30.0


@dataclass(frozen=True, slots=True)
class SiteHealth:
    """What the engine last saw of a site."""

    site_id: str
    healthy: bool
    last_error: str | None
    failed_at: float | None
    latency_ms: float | None = None
    probed: bool = False


class HealthBook:
    """Thread-safe record of recent site failures and probe latencies."""

    def __init__(self, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[float, str]] = {}
        self._latency: dict[str, tuple[float, float]] = {}  # site -> (probed at, seconds)
        self._errors: dict[str, int] = {}  # site -> failures seen since start

    def record_failure(self, site_id: str, error: BaseException) -> None:
        with self._lock:
            self._failures[site_id] = (self._clock(), f"{type(error).__name__}: {error}")
            self._errors[site_id] = self._errors.get(site_id, 0) + 1

    def error_counts(self) -> dict[str, int]:
        """How many failures each site has had since the engine started (for metrics)."""
        with self._lock:
            return dict(self._errors)

    def record_success(self, site_id: str) -> None:
        with self._lock:
            self._failures.pop(site_id, None)

    def record_latency(self, site_id: str, seconds: float) -> None:
        with self._lock:
            self._latency[site_id] = (self._clock(), seconds)
            self._failures.pop(site_id, None)

    def probed_within(self, site_id: str, ttl: float) -> bool:
        """Whether the site was probed, or seen failing, less than ``ttl`` seconds ago."""
        now = self._clock()
        with self._lock:
            probe = self._latency.get(site_id)
            failure = self._failures.get(site_id)
        times = [seen[0] for seen in (probe, failure) if seen is not None]
        return any(now - t < ttl for t in times)

    def healthy(self, site_id: str) -> bool:
        with self._lock:
            seen = self._failures.get(site_id)
            return seen is None or self._clock() - seen[0] >= self._cooldown

    def latency(self, site_id: str) -> float | None:
        """The last probed round trip in seconds, if any."""
        with self._lock:
            seen = self._latency.get(site_id)
        return None if seen is None else seen[1]

    def snapshot(self, site_ids: Iterable[str]) -> dict[str, bool]:
        """``{site_id: healthy}`` for the given sites, as the placement decision takes it."""
        return {site_id: self.healthy(site_id) for site_id in site_ids}

    def read_order(self, site_ids: Iterable[str]) -> list[str]:
        """Healthy sites first, then by probed latency (unknown last), then by id."""

        def key(site_id: str) -> tuple[bool, float, str]:
            latency = self.latency(site_id)
            return (
                not self.healthy(site_id),
                float("inf") if latency is None else latency,
                site_id,
            )

        return sorted(site_ids, key=key)

    def describe(self, site_id: str) -> SiteHealth:
        with self._lock:
            seen = self._failures.get(site_id)
            probed = self._latency.get(site_id)
        latency = None if probed is None else round(probed[1] * 1000, 2)
        if seen is None:
            return SiteHealth(site_id, True, None, None, latency, probed is not None)
        return SiteHealth(
            site_id, self.healthy(site_id), seen[1], seen[0], latency, probed is not None
        )


def probe_site(health: HealthBook, site: Site) -> None:
    """One probe: a HEAD of a blob that cannot exist; record latency or the failure."""
    start = time.perf_counter()
    try:
        site.head(PROBE_BLOB)
    except BlobNotFound:
        health.record_latency(site.site_id, time.perf_counter() - start)
    except SiteError as exc:
        health.record_failure(site.site_id, exc)
    else:  # somebody stored a blob under the probe's id: still an answer
        health.record_latency(site.site_id, time.perf_counter() - start)


def probe_sites(
    health: HealthBook,
    sites: Mapping[str, Site],
    executor: Executor,
    *,
    ttl: float = PROBE_TTL,
    only: Iterable[str] | None = None,
) -> None:
    """Probe, concurrently, every site (of ``only``) not probed within ``ttl`` seconds."""
    wanted = sites if only is None else {s: sites[s] for s in only if s in sites}
    due = [site for site_id, site in wanted.items() if not health.probed_within(site_id, ttl)]
    futures = [executor.submit(probe_site, health, site) for site in due]
    for fut in futures:
        with contextlib.suppress(Exception):
            fut.result()
