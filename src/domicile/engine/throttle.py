"""A bandwidth limit shared by every thread of a migration (a pacing token bucket)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Throttle:
    """Paces ``consume(n)`` callers so that together they move ``rate`` bytes per second.

    A ``rate`` of None means no limit. Bursts are at most one call's worth of bytes.
    """

    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("a bandwidth limit must be positive")
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = clock()

    def consume(self, n: int) -> None:
        """Block until ``n`` more bytes fit in the budget."""
        if self.rate is None:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + n / self.rate
        if start > now:
            self._sleep(start - now)
