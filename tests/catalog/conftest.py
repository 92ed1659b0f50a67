"""A fresh catalog per test, on each database domicile supports.

``catalog_url`` is parametrised: ``sqlite`` (a file, WAL) and ``postgresql`` (a new database
on the private PostgreSQL server the session starts, see ``tests/conftest.py``), so every
catalog test runs on both. Set ``DOMICILE_TEST_CATALOG_URL`` to run them on one other
database instead: it must be a database the tests may fill and empty; every table is dropped
after each test. Tests that poke at SQLite itself take the ``sqlite_url`` fixture instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from domicile.catalog import SqlCatalog, open_catalog

_ENV = "DOMICILE_TEST_CATALOG_URL"
#: The databases every catalog test runs on (one given URL when the variable is set).
DATABASES = ["given"] if os.environ.get(_ENV) else ["sqlite", "postgresql"]


@pytest.fixture(params=DATABASES)
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/catalog.db"
        return
    if request.param == "postgresql":
        yield request.getfixturevalue("pg_catalog_url")
        return
    url = os.environ[_ENV]
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
