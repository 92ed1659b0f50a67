"""Refused requests in the audit log, counted instead of recorded one by one.

A flood of bad signatures must leave evidence without filling the catalog: the gateway
tells :class:`RefusalTally` of each refusal worth auditing (who, by which code), and the
tally keeps one count per (UTC minute, who, code). When a minute has closed, each of its
counts becomes one ``request_refused`` record (actor ``gateway``; ``detail``: ``who``,
``code``, ``count``, ``minute``), so the records a minute can add are bounded by the number
of distinct (who, code) pairs, whatever the request rate. ``who`` is ``tenant:ACCESSKEY``
for a key this deployment knows, ``unknown`` for any other key (a name an attacker chose is
never written), ``anonymous`` for an unsigned request.

Closed minutes are flushed by the next :meth:`~RefusalTally.count` and by
:meth:`~RefusalTally.flush` (the gateway calls it periodically); ``flush(everything=True)``
on shutdown writes the open minute too, so no count is lost.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

ACTION: Final = "request_refused"
ACTOR: Final = "gateway"

Record = Callable[[Sequence[tuple[str, Mapping[str, Any]]]], object]


def minute_label(minute: int) -> str:
    """A minute number (seconds since the epoch // 60) as ``YYYY-MM-DDTHH:MMZ``."""
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(minute * 60))


class RefusalTally:
    """Per-minute counts of refused requests, appended to the audit log as they close.

    ``record`` appends ``(action, fields)`` events in one transaction (the audit log's
    ``record_many``, run as actor ``gateway``); ``clock`` gives seconds since the epoch.
    Thread-safe: the gateway's worker threads count concurrently."""

    def __init__(self, record: Record, clock: Callable[[], float] = time.time) -> None:
        self._record = record
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[int, str, str], int] = {}

    def count(self, who: str, code: str) -> None:
        """One more refusal of ``who`` with S3 code ``code`` in the current minute."""
        minute = int(self._clock() // 60)
        with self._lock:
            key = (minute, who, code)
            self._counts[key] = self._counts.get(key, 0) + 1
            stale = any(m < minute for m, _, _ in self._counts)
        if stale:
            self.flush()

    def flush(self, *, everything: bool = False) -> int:
        """Append one record per count of a closed minute (every minute with
        ``everything``); return how many records were appended. Counts whose append
        fails are kept for the next flush."""
        current = int(self._clock() // 60)
        with self._lock:
            due = sorted(k for k in self._counts if everything or k[0] < current)
            taken = {k: self._counts.pop(k) for k in due}
        if not taken:
            return 0
        events = [
            (
                ACTION,
                {
                    "result": "refused",
                    "detail": {
                        "who": who,
                        "code": code,
                        "count": n,
                        "minute": minute_label(minute),
                    },
                },
            )
            for (minute, who, code), n in taken.items()
        ]
        try:
            self._record(events)
        except BaseException:
            with self._lock:
                for k, n in taken.items():
                    self._counts[k] = self._counts.get(k, 0) + n
            raise
        return len(events)

    def pending(self) -> int:
        """How many counts wait to be written."""
        with self._lock:
            return len(self._counts)
