"""One SQLAlchemy engine for the catalog, with the transactions the catalog needs.

SQLite (the default): WAL journal, ``synchronous=NORMAL``, ``foreign_keys=ON``, a busy
timeout, and write transactions that take the write lock up front (``BEGIN IMMEDIATE``)
behind a process-local lock, so concurrent writers queue instead of failing half-way with
"database is locked"; readers run concurrently (WAL), each thread on its own pooled
connection. An in-memory database (``sqlite://``) is one shared connection, so every
transaction, read or write, takes the lock. Other databases (PostgreSQL) use their own
locking and a regular connection pool.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from domicile.catalog.migrations import migrate
from domicile.errors import CatalogError

#: Pooled connections kept open (more are opened, then closed, under bursts).
_POOL = 16
_MEMORY = ("sqlite://", "sqlite:///:memory:")
_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


class Database:
    """The engine behind one catalog URL, migrated to the current schema when opened.

    Raises CatalogError when the URL is malformed or the database cannot be opened, and
    CatalogVersionError when it was written by a newer domicile.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if url in _MEMORY:
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        elif sqlite:
            kwargs = {
                "connect_args": {"check_same_thread": False, "timeout": 30},
                "pool_size": _POOL,
                "max_overflow": 4 * _POOL,
            }
        try:
            self.engine = sa.create_engine(url, **kwargs)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise CatalogError(
                f"cannot open the catalog {url!r}: {exc}",
                hint="use a URL like sqlite:///path/catalog.db",
                catalog=url,
            ) from None
        lock = threading.Lock()
        self._wlock: AbstractContextManager[Any] = lock if sqlite else nullcontext()
        self._rlock: AbstractContextManager[Any] = lock if url in _MEMORY else nullcontext()
        if sqlite:
            configure_sqlite(self.engine)
        try:
            self.schema_version = migrate(self.engine, url)
        except sa.exc.DBAPIError as exc:
            self.engine.dispose()
            raise CatalogError(
                f"cannot open the catalog {url!r}: {exc.orig}",
                hint="check that the catalog's folder exists and is writable, "
                "and that the file is a domicile catalog",
                catalog=url,
            ) from None

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: committed on exit, rolled back entirely on any exception."""
        with self._wlock, self.engine.connect() as conn:
            conn.info["immediate"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info["immediate"] = False

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read transaction: one consistent snapshot."""
        with self._rlock, self.engine.connect() as conn, conn.begin():
            yield conn

    def pragma(self, name: str) -> str:
        """The value of a SQLite pragma (e.g. ``journal_mode``), for tests and diagnostics."""
        if not name.isidentifier():
            raise ValueError(f"not a pragma name: {name!r}")
        with self.read() as conn:
            return str(conn.exec_driver_sql(f"PRAGMA {name}").scalar())

    def close(self) -> None:
        self.engine.dispose()


def configure_sqlite(engine: sa.Engine) -> None:
    """Set the pragmas on every new connection, and begin transactions ourselves (DDL
    included, which pysqlite would otherwise commit implicitly); ``conn.info["immediate"]``
    asks for ``BEGIN IMMEDIATE``."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        for pragma in _PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # On the driver's connection directly: exec_driver_sql costs as much as a query.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")
