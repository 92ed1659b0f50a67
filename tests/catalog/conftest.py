"""A fresh catalog per test.

SQLite in a file (WAL) by default. Set ``DOMICILE_TEST_CATALOG_URL`` (e.g. a PostgreSQL
URL) to run the same tests against another database: it must be a database the tests may
fill and empty; every table is dropped after each test. Tests that poke at SQLite itself
take the ``sqlite_url`` fixture instead and are skipped then.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from domicile.catalog import SqlCatalog, open_catalog

_ENV = "DOMICILE_TEST_CATALOG_URL"


@pytest.fixture
def catalog_url(tmp_path: Path) -> Iterator[str]:
    url = os.environ.get(_ENV)
    if not url:
        yield f"sqlite:///{tmp_path}/catalog.db"
        return
    yield url
    engine = sa.create_engine(url)
    try:
        tables = sa.MetaData()
        tables.reflect(engine)
        tables.drop_all(engine)
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    if os.environ.get(_ENV):
        pytest.skip("tests SQLite itself")
    return f"sqlite:///{tmp_path}/catalog.db"


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[SqlCatalog]:
    c = open_catalog(catalog_url)
    yield c
    c.close()
