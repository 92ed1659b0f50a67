"""Fixtures shared by every test folder: a real PostgreSQL server for the catalog.

``postgres`` (session) starts a private cluster with :mod:`testbed.postgres` the first time
a test asks for it (``initdb`` into a temporary folder, a free 127.0.0.1 port), stopped and
removed at the end of the session; a machine without PostgreSQL's server programs FAILS
those tests with the reason (CI installs the ``postgresql`` package).
``pg_catalog_url`` is a fresh database on it per test, dropped afterwards, so tests never
see each other's rows, locks or sequences: a copy of a template migrated once per session
(migrating costs ~1 s, a copy ~0.1 s), or an empty one for a module that sets
``EMPTY_DATABASE = True`` (the migration tests). ``pg_databases`` makes more (a gateway's
module-scoped deployment).

Engine and gateway deployments take the ``catalog_kind`` fixture (``sqlite``); a test
module that sets ``CATALOGS = ["sqlite", "postgresql"]`` runs each of its tests on both.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest
from testbed.postgres import PostgresServer

from domicile.catalog import open_catalog

_NAMES = itertools.count(1)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    kinds = getattr(metafunc.module, "CATALOGS", None)
    if kinds and "catalog_kind" in metafunc.fixturenames:
        metafunc.parametrize("catalog_kind", kinds, scope="module")


@pytest.fixture(scope="module")
def catalog_kind() -> str:
    """The database of the test's deployment catalog (see CATALOGS above)."""
    return "sqlite"


@pytest.fixture(scope="session")
def pg_databases(postgres: PostgresServer, pg_template: str) -> Iterator[Callable[[], str]]:
    """Make a new migrated catalog database; its ``postgresql://`` URL (as a user writes
    it). Dropped at the end of the session."""
    made: list[str] = []

    def new() -> str:
        name = f"d{os.getpid()}_{next(_NAMES)}"
        made.append(name)
        postgres.create_database(name, template=pg_template)
        return postgres.psql_url(name)

    yield new
    for name in made:
        postgres.drop_database(name)


def deployment_catalog(kind: str, request: pytest.FixtureRequest) -> str | None:
    """The catalog URL for a deployment of ``kind`` (None: the default SQLite file)."""
    if kind == "sqlite":
        return None
    make: Callable[[], str] = request.getfixturevalue("pg_databases")
    return make()


@pytest.fixture(scope="session")
def pg_template(postgres: PostgresServer) -> str:
    """The name of a database holding an empty catalog at the latest schema version."""
    name = f"migrated{os.getpid()}"
    open_catalog(postgres.create_database(name)).close()
    return name


@pytest.fixture
def pg_catalog_url(postgres: PostgresServer, request: pytest.FixtureRequest) -> Iterator[str]:
    """A SQLAlchemy URL of a new database (psycopg 3), dropped after the test."""
    name = f"t{os.getpid()}_{next(_NAMES)}"
    if getattr(request.module, "EMPTY_DATABASE", False):
        url = postgres.create_database(name)
    else:
        url = postgres.create_database(name, template=request.getfixturevalue("pg_template"))
    yield url
    postgres.drop_database(name)
