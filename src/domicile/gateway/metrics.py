"""Prometheus metrics of the gateway: requests, bytes, latencies and per-site errors.

One :class:`Metrics` per app, on its own registry (so tests and several apps in one process
never mix their counts). ``/metrics`` serves :meth:`Metrics.render` in the text format.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _SiteErrors(Collector):
    def __init__(self, source: Callable[[], Mapping[str, int]]) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        family = CounterMetricFamily(
            "domicile_site_errors",
            "Failures seen per storage site (reads, writes, probes) since start.",
            labels=["site"],
        )
        for site, count in sorted(self._source().items()):
            family.add_metric([site], count)
        yield family


class Metrics:
    """The gateway's counters; ``site_errors`` reads the engine's per-site failure counts."""

    def __init__(self, site_errors: Callable[[], Mapping[str, int]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
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
        self.in_flight = Gauge("domicile_s3_in_flight", "Requests being served.", registry=r)
        r.register(_SiteErrors(site_errors))

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

    def render(self) -> bytes:
        return generate_latest(self.registry)
