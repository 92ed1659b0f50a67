"""Failures of PostgreSQL itself reach the caller as domicile errors, never as psycopg's."""

from __future__ import annotations

import pytest
from testbed.postgres import PostgresServer

from domicile.catalog import open_catalog
from domicile.errors import BucketNotFound, CatalogBusy
from tests.catalog.records import commit


def _terminate_backends(postgres: PostgresServer, url: str) -> None:
    """Cut every connection to the test's database, as a server restart would."""
    name = url.rsplit("/", 1)[1]
    postgres.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
    )


def test_connections_cut_under_the_catalog_are_catalog_busy_then_recovered(
    postgres: PostgresServer, pg_catalog_url: str
) -> None:
    catalog = open_catalog(pg_catalog_url)
    catalog.create_bucket("docs", "p")
    commit(catalog, "docs", "k")  # the write pool has a connection
    catalog.lookup("docs", "k")  # and the read pool
    _terminate_backends(postgres, pg_catalog_url)
    failures = 0
    for _ in range(3):  # each pool hands out its broken connection once, then drops it
        try:
            catalog.lookup("docs", "k")
            commit(catalog, "docs", "k")
        except CatalogBusy as exc:
            failures += 1
            assert exc.hint and "retry" in exc.hint
    assert failures >= 1
    assert catalog.lookup("docs", "k").version.key == "k"  # recovered, no restart needed
    commit(catalog, "docs", "k2")
    with pytest.raises(BucketNotFound):  # domain errors are untouched by the mapping
        catalog.get_bucket("nope")
    catalog.close()
