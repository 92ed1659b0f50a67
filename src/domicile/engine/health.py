"""Run-time health of sites, as observed by the engine.

Health is separate from a site's configured status: status says what the operator allows
(active, draining, suspended, retired); health says whether the site answered lately. A site
that failed with a transient error is considered unhealthy for ``cooldown`` seconds, so that
placement skips it and reads try it last; the next success clears the mark.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SiteHealth:
    """What the engine last saw of a site."""

    site_id: str
    healthy: bool
    last_error: str | None
    failed_at: float | None


class HealthBook:
    """Thread-safe record of recent site failures."""

    def __init__(self, cooldown: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self._cooldown = cooldown
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[float, str]] = {}

    def record_failure(self, site_id: str, error: BaseException) -> None:
        with self._lock:
            self._failures[site_id] = (self._clock(), f"{type(error).__name__}: {error}")

    def record_success(self, site_id: str) -> None:
        with self._lock:
            self._failures.pop(site_id, None)

    def healthy(self, site_id: str) -> bool:
        with self._lock:
            seen = self._failures.get(site_id)
            return seen is None or self._clock() - seen[0] >= self._cooldown

    def snapshot(self, site_ids: Iterable[str]) -> dict[str, bool]:
        """``{site_id: healthy}`` for the given sites, as the placement decision takes it."""
        return {site_id: self.healthy(site_id) for site_id in site_ids}

    def describe(self, site_id: str) -> SiteHealth:
        with self._lock:
            seen = self._failures.get(site_id)
        if seen is None:
            return SiteHealth(site_id, True, None, None)
        return SiteHealth(site_id, self.healthy(site_id), seen[1], seen[0])
