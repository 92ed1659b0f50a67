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

Markers that follow from what a test needs (so ``make check`` can leave it out, and never
misses one): ``servers`` on every test that uses the S3 test bed (the ``testbed``
fixture, directly or through another fixture), ``postgres`` on every test that uses the
PostgreSQL server (``postgres``).

Hypothesis: the ``default`` profile is the full run (``make test``); ``quick`` (``make
check``: ``--hypothesis-profile=quick``) runs a tenth of the examples, through
:func:`tests.examples.examples` for the tests that name their own count.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings
from testbed.postgres import PostgresServer

from domicile.catalog import open_catalog
from tests.examples import QUICK_EXAMPLES

_NAMES = itertools.count(1)

settings.register_profile("quick", max_examples=QUICK_EXAMPLES)

# pytest-xdist starts its workers with COLUMNS=80 (the controller's width). rich reads
# COLUMNS once, when a console is made (at import), and then keeps that width, so the CLI
# tests that set COLUMNS would print at 80 columns in a worker and at their width in a
# single process. Without COLUMNS, rich reads it at every print, as in a single process.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.pop("COLUMNS", None)

#: fixture -> the marker of every test that uses it (make check leaves those out).
NEEDS = {"testbed": pytest.mark.servers, "postgres": pytest.mark.postgres}
#: Parameters whose "postgresql" value reaches the server through getfixturevalue (not
#: seen in ``fixturenames``): the catalog tests' ``catalog_url``, the deployments'
#: ``catalog_kind``.
POSTGRES_PARAMS = ("catalog_url", "catalog_kind")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in NEEDS.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(params.get(name) == "postgresql" for name in POSTGRES_PARAMS):
            item.add_marker(pytest.mark.postgres)


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
