"""A catalog per test: SQLite in a file (WAL); set DOMICILE_TEST_CATALOG_URL for another."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from domicile.catalog import SqlCatalog, open_catalog


@pytest.fixture
def catalog_url(tmp_path: Path) -> str:
    return os.environ.get("DOMICILE_TEST_CATALOG_URL") or f"sqlite:///{tmp_path}/catalog.db"


@pytest.fixture
def catalog(catalog_url: str) -> Iterator[SqlCatalog]:
    c = open_catalog(catalog_url)
    yield c
    c.close()
