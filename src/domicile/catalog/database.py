"""One SQLAlchemy engine for the catalog, with the transactions the catalog needs.

SQLite (the default): WAL journal, ``synchronous=NORMAL``, ``foreign_keys=ON``, a busy
timeout, and write transactions that take the write lock up front (``BEGIN IMMEDIATE``)
behind a process-local lock, so concurrent writers queue instead of failing half-way with
"database is locked"; readers run concurrently (WAL), each thread on its own pooled
connection. An in-memory database (``sqlite://``) is one shared connection, so every
transaction, read or write, takes the lock.

PostgreSQL (``postgresql://``, driven by psycopg 3; the ``postgres`` extra): two of
SQLAlchemy's connection pools, one for writes at READ COMMITTED with the locks of
:mod:`domicile.catalog.locks` (several processes and hosts write at once), one for reads
whose connections begin REPEATABLE READ READ ONLY transactions (one snapshot each, no
extra statement), and the same group commit, one batch at a time per process. A
connection found broken (the server restarted) is dropped from its pool; the request that
found it gets CatalogBusy, the next a new connection (no ping before each use: it would
cost a round trip per transaction, a third of a lookup's time).

A failure of the database itself never leaves as the driver's exception: it becomes
:class:`~domicile.errors.CatalogBusy` (unreachable, deadlock, serialisation; retryable),
:class:`~domicile.errors.CatalogConflict` (a unique row taken by a concurrent write) or
:class:`~domicile.errors.CatalogError`, with the catalog named.

The hot path runs on the driver's connection (:mod:`domicile.catalog.prepared`):
:meth:`Database.raw_read` for lookups, and :meth:`Database.group` for short writes (a
PUT's commit), where on SQLite those of threads arriving together share one transaction
(:mod:`domicile.catalog.groupcommit`).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from domicile.catalog.groupcommit import GroupCommit, Reads
from domicile.catalog.migrations import migrate
from domicile.catalog.prepared import Raw
from domicile.errors import CatalogBusy, CatalogConflict, CatalogError

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
#: URL schemes that mean PostgreSQL through psycopg 3 (SQLAlchemy's default is psycopg2).
_POSTGRES_SCHEMES = ("postgresql://", "postgres://")
#: A read transaction on PostgreSQL: one snapshot for all its statements.
_PG_READS: dict[str, Any] = {"isolation_level": "REPEATABLE READ"}


def engine_url(url: str) -> str:
    """The SQLAlchemy URL for a catalog URL: ``postgresql://`` (and ``postgres://``) mean
    the psycopg 3 driver; any other URL is used as given."""
    for scheme in _POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    return url


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
        else:
            kwargs = {"pool_size": _POOL, "max_overflow": _POOL}
        if sqlite and url not in _MEMORY:
            create_private(url)
        try:
            self.engine = sa.create_engine(engine_url(url), **kwargs)
        except (sa.exc.ArgumentError, ImportError) as exc:
            postgres = url.startswith(("postgres", "postgresql+"))
            raise CatalogError(
                f"cannot open the catalog {url!r}: {exc}",
                hint="install the PostgreSQL driver: pip install 'domicile[postgres]'"
                if postgres and isinstance(exc, ImportError)
                else "use a URL like sqlite:///path/catalog.db or postgresql://user@host/db",
                catalog=url,
            ) from None
        #: Where reads run: on PostgreSQL a second pool, its transactions REPEATABLE READ.
        self._reads = self.engine
        if not sqlite:
            self._reads = sa.create_engine(engine_url(url), **kwargs, **_PG_READS)
            event.listen(self._reads, "connect", _read_only)
        lock = threading.Lock()
        self._errors = _Errors(url, self.engine.dialect)
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
        # PostgreSQL: one batch at a time per process too (its own lock: writes that are
        # not batched run side by side, under the locks of domicile.catalog.locks).
        self._group = GroupCommit(
            lock if sqlite else threading.Lock(), self._raw_write if sqlite else self._pg_write
        )
        if sqlite:
            configure_sqlite(self.engine)
        try:
            self.schema_version = migrate(self.engine, url)
        except sa.exc.DBAPIError as exc:
            self.close()
            raise CatalogError(
                f"cannot open the catalog {url!r}: {exc.orig}",
                hint="check that the catalog's folder exists and is writable, "
                "and that the file is a domicile catalog"
                if sqlite
                else "check that the database server is up, the database exists and the "
                "URL's user may create tables in it",
                catalog=url,
            ) from None

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: committed on exit, rolled back entirely on any exception."""
        with self._errors, self._wlock, self._transaction() as conn:
            yield conn

    def group(
        self,
        work: Callable[[Raw], T],
        keys: Sequence[tuple[str, str]] = (),
        reads: Reads = (),
        *,
        audit: bool = False,
    ) -> T:
        """``work(raw)`` in a write transaction that other threads' work may share.

        ``keys`` are the (bucket, key) pairs ``work`` writes (locked first on PostgreSQL),
        ``reads`` the SELECTs it starts with (sent ahead, see GroupCommit.run), ``audit``
        whether it appends audit records.
        ``work`` may run twice (alone, after a shared transaction failed), so it must
        depend only on the database; see :mod:`domicile.catalog.groupcommit`."""
        with self._errors:
            return self._group.run(work, keys, reads, audit=audit)

    @contextmanager
    def raw_read(self) -> Iterator[Raw]:
        """Reads on the driver's connection: one consistent snapshot on SQLite (and in
        memory). On PostgreSQL each statement runs on its own (autocommit: no BEGIN and
        ROLLBACK round trips, two thirds of a point read's time) and is its own snapshot,
        so a read that needs several rows consistent reads them in one statement."""
        with self._errors:
            if not self._sqlite:
                with self._statements() as raw:
                    yield raw
                return
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
    def _statements(self) -> Iterator[Raw]:
        """A pooled PostgreSQL read connection in autocommit, given back as it was."""
        with _autocommit(self._reads) as driver:
            yield Raw(driver, self.engine.dialect)

    @contextmanager
    def _pg_write(self) -> Iterator[Raw]:
        """A PostgreSQL write transaction on the driver's connection whose BEGIN goes out
        with its first statement and whose last writes with its COMMIT (Raw.send_later):
        a commit is a handful of round trips, each a context switch on the server."""
        with _autocommit(self.engine) as driver:
            raw = Raw(driver, self.engine.dialect)
            raw.send_later("BEGIN")
            try:
                yield raw
                raw.finish("COMMIT")
            except BaseException:
                if not getattr(driver, "broken", False) and driver.info.transaction_status:
                    driver.execute("ROLLBACK")  # not idle: in a (failed) transaction
                raise

    @contextmanager
    def _raw_write(self) -> Iterator[Raw]:
        """A write transaction on the driver's connection (the caller holds the lock)."""
        with self._raw(write=True) as raw:
            yield raw

    @contextmanager
    def _raw(self, *, write: bool) -> Iterator[Raw]:
        """A pooled driver connection in a transaction: committed on exit if ``write``,
        else rolled back (as on an exception)."""
        pooled = (self.engine if write else self._reads).raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None  # a pooled connection that is open
            if self._sqlite:  # our SQLite connections are in autocommit until told
                driver.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Raw(driver, self.engine.dialect)
            except BaseException:
                if getattr(driver, "broken", False):  # the server went away
                    pooled.invalidate()
                else:
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
        with self._errors, self._rlock, self._reads.connect() as conn, conn.begin():
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
        if self._reads is not self.engine:
            self._reads.dispose()


class _Errors:
    """A context that turns the database's own exceptions (SQLAlchemy's or the driver's,
    raised on the hot path) into the domicile error tree, naming the catalog."""

    def __init__(self, url: str, dialect: sa.Dialect) -> None:
        self._url = url
        dbapi = dialect.loaded_dbapi
        self._driver_error: type[BaseException] = dbapi.Error
        self._integrity: type[BaseException] = dbapi.IntegrityError
        self._busy: tuple[type[BaseException], ...] = (
            dbapi.OperationalError,
            dbapi.InterfaceError,
        )

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is None or not isinstance(exc, (sa.exc.DBAPIError, self._driver_error)):
            return
        orig = exc.orig if isinstance(exc, sa.exc.DBAPIError) else exc
        reason = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        if isinstance(exc, sa.exc.IntegrityError) or isinstance(orig, self._integrity):
            raise CatalogConflict(
                f"the catalog {self._url!r} refused a write that a concurrent one made "
                f"first: {reason}",
                hint="retry the request",
                catalog=self._url,
            ) from exc
        if isinstance(orig, self._busy) or getattr(exc, "connection_invalidated", False):
            raise CatalogBusy(
                f"the catalog {self._url!r} could not answer: {reason}",
                hint="retry; if it persists, check that the database server is up and "
                "reachable from this host",
                catalog=self._url,
            ) from exc
        raise CatalogError(
            f"the catalog {self._url!r} failed: {reason}",
            hint="check the database server's log",
            catalog=self._url,
        ) from exc


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


def _read_only(dbapi_conn: Any, _record: Any) -> None:
    """A PostgreSQL read connection: its transactions begin READ ONLY (with the pool's
    REPEATABLE READ, in the one BEGIN psycopg sends)."""
    dbapi_conn.read_only = True


def _prepare(dbapi_conn: Any) -> None:
    """A new SQLite connection: autocommit until told (we issue BEGIN ourselves), with the
    pragmas set."""
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    for pragma in _PRAGMAS:
        _execute_waiting(cursor, pragma)
    cursor.close()


def _execute_waiting(cursor: Any, statement: str) -> None:
    """Run ``statement``, retrying while another process holds the lock it needs for up to
    the busy timeout: switching a new file to WAL takes an exclusive lock and answers
    "database is locked" at once, without the busy handler, when several processes open a
    new catalog together."""
    deadline = time.monotonic() + _SQLITE_CONNECT["timeout"]
    pause = 0.005
    while True:
        try:
            cursor.execute(statement)
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(0.2, pause * 2)
        else:
            return


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


@contextmanager
def _autocommit(engine: sa.Engine) -> Iterator[Any]:
    """A pooled psycopg connection of ``engine`` in autocommit, given back as it was (or
    dropped from the pool if the server went away)."""
    pooled = engine.raw_connection()
    try:
        driver = pooled.driver_connection
        assert driver is not None
        driver.autocommit = True
        try:
            yield driver
        finally:
            if getattr(driver, "broken", False):  # the server went away
                pooled.invalidate()
            else:
                driver.autocommit = False
    finally:
        pooled.close()
