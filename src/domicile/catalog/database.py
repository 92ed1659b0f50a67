"""One SQLAlchemy engine for the catalog, with the transactions the catalog needs.

SQLite (the default): WAL journal, ``synchronous=NORMAL``, ``foreign_keys=ON``, a busy
timeout, and write transactions that take the write lock up front (``BEGIN IMMEDIATE``)
behind a process-local lock, so concurrent writers queue instead of failing half-way with
"database is locked"; readers run concurrently (WAL), each thread on its own pooled
connection. An in-memory database (``sqlite://``) is one shared connection, so every
transaction, read or write, takes the lock. Other databases (PostgreSQL) use their own
locking and a regular connection pool.

The hot path runs on the driver's connection (:mod:`domicile.catalog.prepared`):
:meth:`Database.raw_read` for lookups, and :meth:`Database.group` for short writes (a
PUT's commit), where on SQLite those of threads arriving together share one transaction
(:mod:`domicile.catalog.groupcommit`).
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from domicile.catalog.groupcommit import GroupCommit
from domicile.catalog.migrations import migrate
from domicile.catalog.prepared import Raw
from domicile.errors import CatalogError

#: Pooled connections kept open (more are opened, then closed, under bursts).
_POOL = 16
T = TypeVar("T")

_MEMORY = ("sqlite://", "sqlite:///:memory:")
#: How every connection to a SQLite file is opened (the busy timeout also as a pragma).
_SQLITE_CONNECT: dict[str, Any] = {"check_same_thread": False, "timeout": 30}
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
                "connect_args": _SQLITE_CONNECT,
                "pool_size": _POOL,
                "max_overflow": 4 * _POOL,
            }
        if sqlite and url not in _MEMORY:
            create_private(url)
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
        self._rlock: AbstractContextManager[Any] = nullcontext()
        self._readers: _Readers | None = None  # PostgreSQL and in-memory: the pool's
        if url in _MEMORY:  # one shared connection: readers take the writers' lock
            self._rlock = lock
        elif sqlite:
            # Point reads take turns: each query releases the GIL several times, and 16
            # threads reading at once handed it over at every release (on 2 cores, 16
            # threads' lookups went from 1,342/s to 4,192/s with turns and per-thread
            # connections). They still run beside the writer (WAL).
            self._rlock = threading.Lock()
            self._readers = _Readers(self.engine)
        self._sqlite = sqlite
        self._group = GroupCommit(lock, self._raw_write) if sqlite else None
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
        with self._wlock, self._transaction() as conn:
            yield conn

    def group(self, work: Callable[[Raw], T]) -> T:
        """``work(raw)`` in a write transaction that other threads' work may share.

        ``work`` may run twice (alone, after a shared transaction failed), so it must
        depend only on the database; see :mod:`domicile.catalog.groupcommit`."""
        if self._group is None:
            with self.write() as conn:
                return work(Raw.of(conn))
        return self._group.run(work)

    @contextmanager
    def raw_read(self) -> Iterator[Raw]:
        """A read transaction on the driver's connection: one consistent snapshot."""
        if self._readers is None:
            with self._rlock, self._raw(write=False) as raw:
                yield raw
            return
        driver = self._readers.connection()
        with self._rlock:
            driver.execute("BEGIN")
            try:
                yield Raw(driver, self.engine.dialect)
            finally:
                driver.rollback()

    @contextmanager
    def _raw_write(self) -> Iterator[Raw]:
        """A write transaction on the driver's connection (the caller holds the lock)."""
        with self._raw(write=True) as raw:
            yield raw

    @contextmanager
    def _raw(self, *, write: bool) -> Iterator[Raw]:
        """A pooled driver connection in a transaction: committed on exit if ``write``,
        else rolled back (as on an exception)."""
        pooled = self.engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None  # a pooled connection that is open
            if self._sqlite:  # our SQLite connections are in autocommit until told
                driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Raw(driver, self.engine.dialect)
            except BaseException:
                driver.rollback()
                raise
            if write:
                driver.commit()
            else:
                driver.rollback()
        finally:
            pooled.close()

    @contextmanager
    def _transaction(self) -> Iterator[sa.Connection]:
        """A write transaction without the process's write lock (the caller holds it)."""
        with self.engine.connect() as conn:
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
        if self._readers is not None:
            self._readers.close()
        self.engine.dispose()


class _Reader:
    """One thread's read connection, closed when the thread ends (its holder is freed)
    or when the database closes."""

    __slots__ = ("__weakref__", "driver")

    def __init__(self, driver: Any) -> None:
        self.driver = driver

    def close(self) -> None:
        if self.driver is not None:
            self.driver.close()
            self.driver = None

    def __del__(self) -> None:
        self.close()


class _Readers:
    """A read connection per thread, kept for the thread's life: a lookup then pays no
    pool checkout and checkin (~30 us, as much as the lookup's queries)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._local = threading.local()
        self._all: weakref.WeakSet[_Reader] = weakref.WeakSet()
        self._lock = threading.Lock()

    def connection(self) -> Any:
        reader: _Reader | None = getattr(self._local, "reader", None)
        if reader is None or reader.driver is None:
            # Opened as the pool opens its own, but outside it: the pool neither counts it
            # nor keeps a record for it.
            dialect = self._engine.dialect
            args, kwargs = dialect.create_connect_args(self._engine.url)
            driver = dialect.connect(*args, **{**kwargs, **_SQLITE_CONNECT})
            _prepare(driver)
            reader = _Reader(driver)
            self._local.reader = reader
            with self._lock:
                self._all.add(reader)
        return reader.driver

    def close(self) -> None:
        with self._lock:
            readers = list(self._all)
        for reader in readers:
            reader.close()


def _prepare(dbapi_conn: Any) -> None:
    """A new SQLite connection: autocommit until told (we issue BEGIN ourselves), with the
    pragmas set."""
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    for pragma in _PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def configure_sqlite(engine: sa.Engine) -> None:
    """Set the pragmas on every new connection, and begin transactions ourselves (DDL
    included, which pysqlite would otherwise commit implicitly); ``conn.info["immediate"]``
    asks for ``BEGIN IMMEDIATE``."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _prepare(dbapi_conn)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # On the driver's connection directly: exec_driver_sql costs as much as a query.
        driver = conn.connection.driver_connection
        assert driver is not None
        driver.execute("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")


def create_private(url: str) -> None:
    """Create a SQLite catalog's file with mode 0600 (like the configuration, the keyring
    and the audit key) before SQLite creates it with the umask's 0644; its ``-wal`` and
    ``-shm`` files take the database file's mode. An existing file is left as it is."""
    try:
        path = sa.engine.make_url(url).database
    except sa.exc.ArgumentError:
        return  # reported when the engine is created
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError:
        return  # it exists (left as it is), or SQLite reports why it cannot be created
