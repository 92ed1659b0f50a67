"""Fixtures shared by every test folder: a real PostgreSQL server for the catalog.

``postgres`` (session) starts a private cluster with :mod:`testbed.postgres` the first time
a test asks for it (``initdb`` into a temporary folder, a free 127.0.0.1 port), stopped and
removed at the end of the session; a machine without PostgreSQL's server programs FAILS
those tests with the reason (CI installs the ``postgresql`` package).
``pg_catalog_url`` is a fresh, empty database on it per test, dropped afterwards, so tests
never see each other's rows, locks or sequences.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from testbed.postgres import PostgresServer

_NAMES = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_catalog_url(postgres: PostgresServer) -> Iterator[str]:
    """A SQLAlchemy URL of a new empty database (psycopg 3), dropped after the test."""
    name = f"t{os.getpid()}_{next(_NAMES)}"
    url = postgres.create_database(name)
    yield url
    postgres.drop_database(name)
