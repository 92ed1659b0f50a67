"""The catalog's hot path at the driver's speed: Core statements compiled once, run raw.

A PUT commits and a GET looks up thousands of times a second. Through a SQLAlchemy
``Connection`` each statement costs ~25 us of execution-context set-up and each
transaction ~70 us of pool, event and result machinery, against ~4 us for SQLite itself
(measured: a one-row SELECT in its own transaction 96-180 us through ``Connection``,
20 us this way). So the hot statements are still written in SQLAlchemy Core, which keeps
them portable, but each is compiled once per dialect by :class:`Prepared` and run on the
DBAPI cursor by :class:`Raw`; rows come back as named tuples with the columns' names, so
the row mappers of :mod:`domicile.catalog.rows` read them like SQLAlchemy rows.

The schema stores only integers, text and NULLs (times as microseconds, metadata as JSON
text), so no column needs SQLAlchemy's type processing on the way in or out.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

__all__ = ["Prepared", "Raw"]

Params = Mapping[str, Any]
Statement = sa.Select[Any] | sa.TextualSelect | sa.Insert | sa.Update | sa.Delete


class Prepared:
    """One Core statement, compiled on first use for each dialect (and, for an INSERT,
    each set of columns given)."""

    __slots__ = ("_compiled", "_row", "statement")

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, frozenset[str]], Compiled] = {}
        self._row: Any = None
        if isinstance(statement, (sa.Select, sa.TextualSelect)):
            names = [str(c.key) for c in statement.selected_columns]
            self._row = _row_type(names)

    def sql(self, dialect: sa.Dialect, keys: Iterable[str]) -> Compiled:
        """The statement compiled for ``dialect`` and parameters named ``keys``."""
        names = frozenset(keys)
        found = self._compiled.get((dialect.name, names))
        if found is None:
            options: dict[str, Any] = {}
            if isinstance(self.statement, sa.Insert):
                options["column_keys"] = sorted(names)
            compiled = self.statement.compile(dialect=dialect, **options)
            fixed = {k: v for k, v in compiled.params.items() if k not in names}
            found = Compiled(
                compiled.string,
                tuple(compiled.positiontup or ()) if compiled.positional else None,
                fixed,
            )
            self._compiled[(dialect.name, names)] = found
        return found

    def row(self, values: Sequence[Any]) -> Any:
        return self._row._make(values)

    def row_of(self, mapping: Mapping[str, Any]) -> Any:
        """A row from a mapping of column names (a row a server sent as JSON)."""
        return self._row._make(mapping[name] for name in self._row._fields)


def _row_type(names: list[str]) -> Any:
    """A named-tuple class with fields ``names`` (a row, read like SQLAlchemy's)."""
    return namedtuple("Row", names, rename=True)


class Compiled(NamedTuple):
    """SQL text, the parameter names in positional order (None for a dialect with named
    parameters), and the values the statement binds itself (``state == 'current'``,
    ``LIMIT 1``)."""

    sql: str
    order: tuple[str, ...] | None
    fixed: dict[str, Any]

    def args(self, params: Params) -> Any:
        """``params`` as the driver takes them."""
        if self.fixed:
            params = {**self.fixed, **params}
        return params if self.order is None else tuple(params[name] for name in self.order)


class Raw:
    """A DBAPI connection inside a transaction that someone else begins and ends.

    ``deferred``, when a list, collects audit builders to run at the end of the transaction
    (a group commit's: :mod:`domicile.catalog.chain`); ``held`` the advisory locks taken in
    it (:mod:`domicile.catalog.locks`).

    A PostgreSQL write transaction of the group commit (:meth:`send_later`) saves round
    trips, each a context switch on the server: its ``BEGIN`` and the writes whose result
    nobody reads (:meth:`run_many`, :meth:`run_together`) wait in ``pending`` and go out
    with the next statement, or with the ``COMMIT`` (:meth:`finish`), in one pipeline."""

    __slots__ = (
        "_buffer",
        "_dialect",
        "_driver",
        "_pending",
        "_sent",
        "chain_head",
        "concurrent",
        "deferred",
        "held",
        "prefetched",
    )

    def __init__(self, driver: Any, dialect: sa.Dialect) -> None:
        self._driver = driver
        self._dialect = dialect
        #: Writers run side by side (PostgreSQL): reads that decide a write need locks.
        self.concurrent = dialect.name != "sqlite"
        self.deferred: list[Any] | None = None
        self.held: set[str] = set()
        self._pending: list[tuple[str, Any]] = []
        self._buffer = False
        self._sent = False
        #: The rows of the reads a group commit sent ahead for the running job, or None.
        self.prefetched: list[list[Any]] | None = None
        #: The audit chain's head, read ahead under its lock by a group commit, or None.
        self.chain_head: list[Any] | None = None

    def send_later(self, begin: str) -> None:
        """Begin with ``begin`` sent along with the first statement, and keep writes
        without a result until the next statement or :meth:`finish`."""
        self._pending.append((begin, None))
        self._buffer = True

    @property
    def started(self) -> bool:
        """Whether the pending ``BEGIN`` was sent (a transaction is open on the server)."""
        return self._sent

    def finish(self, end: str) -> None:
        """Send what is pending and ``end`` (``COMMIT``), in one round trip; nothing at all
        when nothing but the ``BEGIN`` was ever asked for."""
        if len(self._pending) == 1 and self._pending[0][1] is None:  # only the BEGIN
            self._pending.clear()
            return
        with self._driver.pipeline():
            self._send_pending()
            self._driver.execute(end)

    def _send_pending(self) -> None:
        """Send the pending statements (inside a pipeline)."""
        if not self._pending:
            return
        self._sent = True
        cursor = self._driver.cursor()
        try:
            for sql, args in self._pending:
                cursor.execute(sql, args)
        finally:
            self._pending.clear()
            cursor.close()

    @classmethod
    def of(cls, conn: sa.Connection) -> Raw:
        """The driver connection of ``conn``, in ``conn``'s transaction."""
        return cls(conn.connection.driver_connection, conn.dialect)

    def _cursor(self, prepared: Prepared, params: Params) -> Any:
        compiled = prepared.sql(self._dialect, params)
        cursor = self._driver.cursor()
        if not self._pending:
            cursor.execute(compiled.sql, compiled.args(params))
            return cursor
        with self._driver.pipeline():
            self._send_pending()
            cursor.execute(compiled.sql, compiled.args(params))
        return cursor

    def rows(self, prepared: Prepared, params: Params) -> list[Any]:
        """Every row of a SELECT, as named tuples."""
        cursor = self._cursor(prepared, params)
        try:
            return [prepared.row(r) for r in cursor.fetchall()]
        finally:
            cursor.close()

    def first(self, prepared: Prepared, params: Params) -> Any | None:
        """The first row of a SELECT (a named tuple), or None."""
        cursor = self._cursor(prepared, params)
        try:
            found = cursor.fetchone()
        finally:
            cursor.close()
        return None if found is None else prepared.row(found)

    def rows_together(self, queries: Sequence[tuple[Prepared, Params]]) -> list[list[Any]]:
        """Every row of each SELECT, the SELECTs sent together: one round trip to a server
        (psycopg's pipeline mode), one after the other on SQLite."""
        if not self.concurrent:
            return [self.rows(prepared, params) for prepared, params in queries]
        cursors = []
        try:
            with self._driver.pipeline():
                self._send_pending()
                for prepared, params in queries:
                    cursors.append(self._cursor(prepared, params))
            return [
                [prepared.row(r) for r in cursor.fetchall()]
                for (prepared, _), cursor in zip(queries, cursors, strict=True)
            ]
        finally:
            for cursor in cursors:
                cursor.close()

    def run(self, prepared: Prepared, params: Params) -> int:
        """Run an INSERT, UPDATE or DELETE; the number of rows it touched."""
        cursor = self._cursor(prepared, params)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def run_together(self, steps: Sequence[tuple[Prepared, Sequence[Params]]]) -> None:
        """Run each INSERT (UPDATE, DELETE) once per mapping of its list, in order: sent
        together, with the next statement (see above), on a server."""
        for prepared, rows in steps:
            self.run_many(prepared, rows)

    def run_many(self, prepared: Prepared, params: Sequence[Params]) -> None:
        """Run an INSERT (UPDATE, DELETE) once per mapping; all have the same keys."""
        if not params:
            return
        compiled = prepared.sql(self._dialect, params[0])
        if self._buffer:
            self._pending.extend((compiled.sql, compiled.args(p)) for p in params)
            return
        cursor = self._driver.cursor()
        try:
            cursor.executemany(compiled.sql, [compiled.args(p) for p in params])
        finally:
            cursor.close()
