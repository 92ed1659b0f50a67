"""Prepared statements: compiled once per dialect, parameters in the driver's style."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from domicile.catalog.prepared import Prepared, Raw

_T = sa.table("t", sa.column("k"), sa.column("state"), sa.column("n"))
_CURRENT = Prepared(
    sa.select(_T.c.k, _T.c.n)
    .where(_T.c.k == sa.bindparam("k"), _T.c.state == "current")
    .order_by(_T.c.n.desc())
    .limit(1)
)
_INSERT = Prepared(sa.insert(_T))


def test_positional_dialect_orders_parameters_and_binds_its_own_values() -> None:
    compiled = _CURRENT.sql(sqlite.dialect(), ["k"])
    assert compiled.order is not None and compiled.order[0] == "k"
    assert compiled.sql.count("?") == len(compiled.order)
    assert compiled.args({"k": "a"})[:3] == ("a", "current", 1)  # SQLite adds OFFSET 0


def test_named_dialect_takes_a_mapping() -> None:
    compiled = _CURRENT.sql(postgresql.dialect(), ["k"])
    assert compiled.order is None
    assert "%(k)s" in compiled.sql
    args = compiled.args({"k": "a"})
    assert args["k"] == "a" and "current" in args.values()


def test_an_insert_names_only_the_columns_given() -> None:
    two = _INSERT.sql(sqlite.dialect(), ["n", "k"])
    three = _INSERT.sql(sqlite.dialect(), ["n", "k", "state"])
    assert "state" not in two.sql and "state" in three.sql
    assert two.args({"k": "x", "n": 1}) == ("x", 1)  # sorted column names: k, n
    assert _INSERT.sql(sqlite.dialect(), ["k", "n"]) is two  # compiled once


def test_rows_read_like_sqlalchemy_rows() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("CREATE TABLE t (k TEXT, state TEXT, n INTEGER)")
    raw = Raw(conn, sqlite.dialect())
    raw.run_many(_INSERT, [{"k": "a", "state": "current", "n": n} for n in range(3)])
    raw.run_many(_INSERT, [])  # nothing to do
    assert raw.run(_INSERT, {"k": "a", "state": "old", "n": 9}) == 1
    row = raw.first(_CURRENT, {"k": "a"})
    assert row is not None and (row.k, row.n) == ("a", 2)
    assert raw.first(_CURRENT, {"k": "missing"}) is None
    everything = Prepared(sa.select(_T).order_by(_T.c.n))
    assert [(r.state, r.n) for r in raw.rows(everything, {})] == [
        ("current", 0),
        ("current", 1),
        ("current", 2),
        ("old", 9),
    ]


def test_the_current_state_is_written_into_the_sql() -> None:
    # Bound as "state = ?", SQLite could use the partial index versions_current only by
    # re-preparing the statement at every execution.
    from domicile.catalog import schema

    compiled = (
        sa.select(schema.versions.c.key).where(schema.IS_CURRENT).compile(dialect=sqlite.dialect())
    )
    assert "versions.state = 'current'" in str(compiled)
    assert compiled.params == {}
