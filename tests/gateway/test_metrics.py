"""``/metrics`` shows each site's breaker, latency quantiles and hedge delay."""

from __future__ import annotations

from domicile.engine.health import HealthBook
from domicile.errors import SiteUnavailable
from domicile.gateway.metrics import Metrics


def test_site_breakers_and_latency_are_exported() -> None:
    book = HealthBook()
    for seconds in (0.004, 0.006, 0.008, 0.010, 0.200):
        book.record_ttfb("fr", seconds)
    book.record_failure("de", SiteUnavailable("no answer within 2 s", site="de"))
    metrics = Metrics(book.error_counts, lambda: [book.describe(s) for s in ("de", "fr")])
    text = metrics.render().decode()
    assert 'domicile_site_breaker_open{site="de"} 1.0' in text
    assert 'domicile_site_breaker_open{site="fr"} 0.0' in text
    assert 'domicile_site_latency_seconds{quantile="0.5",site="fr"} 0.008' in text
    assert 'domicile_site_latency_seconds{quantile="0.99",site="fr"} 0.2' in text
    assert 'domicile_site_hedge_delay_seconds{site="fr"} 0.4' in text
    assert 'domicile_site_errors_total{site="de"} 1.0' in text
    book.record_latency("de", 0.05)  # a probe answered: closed at the next scrape
    assert 'domicile_site_breaker_open{site="de"} 0.0' in metrics.render().decode()
