"""Prometheus metrics of the gateway: requests, bytes, latencies and per-site errors.

One :class:`Metrics` per app, on its own registry (so tests and several apps in one process
never mix their counts). ``/metrics`` serves :meth:`Metrics.render` in the text format.

With several worker processes (:mod:`domicile.gateway.workers`), the values live in
prometheus_client's multiprocess files in a folder the supervisor owns (it sets
``PROMETHEUS_MULTIPROC_DIR`` for the workers it starts) and :meth:`render` adds every
worker's up, whichever worker the scrape reached; a dead worker's counts stay in the sum.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
#: Set (by the supervisor) for worker processes: where their values are kept and summed.
MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class SiteState(Protocol):
    """What ``/metrics`` shows of one site's health (the engine's ``SiteHealth``)."""

    @property
    def site_id(self) -> str: ...
    @property
    def healthy(self) -> bool: ...
    @property
    def p50_ms(self) -> float | None: ...
    @property
    def p99_ms(self) -> float | None: ...
    @property
    def hedge_ms(self) -> float | None: ...


class Metrics:
    """The gateway's counters; ``site_errors`` reads the engine's per-site failure counts,
    which are carried into the ``domicile_site_errors`` counter as they grow, and
    ``site_states`` each site's breaker and latency, set into gauges at each scrape."""

    def __init__(
        self,
        site_errors: Callable[[], Mapping[str, int]],
        site_states: Callable[[], Iterable[SiteState]] = lambda: (),
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._shared = os.environ.get(MULTIPROCESS_ENV) or None
        r = self.registry
        self.requests = Counter(
            "domicile_s3_requests", "S3 requests answered.", ["operation", "status"], registry=r
        )
        self.received = Counter(
            "domicile_s3_received_bytes", "Request body bytes received.", ["operation"], registry=r
        )
        self.sent = Counter(
            "domicile_s3_sent_bytes", "Response body bytes sent.", ["operation"], registry=r
        )
        self.latency = Histogram(
            "domicile_s3_request_seconds",
            "Time from a request's arrival to the end of its response.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "domicile_s3_in_flight",
            "Requests being served.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self._site_errors = Counter(
            "domicile_site_errors",
            "Failures seen per storage site (reads, writes, probes) since start.",
            ["site"],
            registry=r,
        )
        self._errors_source = site_errors
        self._errors_seen: dict[str, int] = {}
        self._states_source = site_states
        self._breaker = Gauge(
            "domicile_site_breaker_open",
            "1 while a site's circuit breaker is open (skipped, probed), else 0.",
            ["site"],
            registry=r,
            multiprocess_mode="max",
        )
        self._site_latency = Gauge(
            "domicile_site_latency_seconds",
            "Recent latency of a site (probe round trips, reads' first byte), by quantile.",
            ["site", "quantile"],
            registry=r,
            multiprocess_mode="max",
        )
        self._hedge = Gauge(
            "domicile_site_hedge_delay_seconds",
            "How long a read waits for a site's first byte before asking another copy.",
            ["site"],
            registry=r,
            multiprocess_mode="max",
        )

    def observe(
        self, operation: str, status: int, seconds: float, received: int, sent: int
    ) -> None:
        """Count one finished request."""
        self.requests.labels(operation, str(status)).inc()
        self.latency.labels(operation).observe(seconds)
        if received:
            self.received.labels(operation).inc(received)
        if sent:
            self.sent.labels(operation).inc(sent)
        self._carry_site_errors()

    def _carry_site_errors(self) -> None:
        for site, count in self._errors_source().items():
            grown = count - self._errors_seen.get(site, 0)
            if grown > 0:
                self._site_errors.labels(site).inc(grown)
                self._errors_seen[site] = count

    def _set_site_states(self) -> None:
        for seen in self._states_source():
            self._breaker.labels(seen.site_id).set(0 if seen.healthy else 1)
            for quantile, ms in (("0.5", seen.p50_ms), ("0.99", seen.p99_ms)):
                if ms is not None:
                    self._site_latency.labels(seen.site_id, quantile).set(ms / 1000)
            if seen.hedge_ms is not None:
                self._hedge.labels(seen.site_id).set(seen.hedge_ms / 1000)

    def render(self) -> bytes:
        self._carry_site_errors()
        self._set_site_states()
        if self._shared is None:
            return generate_latest(self.registry)
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker, self._shared)  # type: ignore[no-untyped-call]
        return generate_latest(every_worker)
