"""Step 9: leases, so that jobs coordinate across processes and hosts.

Frozen: see ``v0001_initial``. A ``leases`` table holds who runs ``apply`` or ``repair``
on a scope (all buckets, or one) until when; ``jobs`` rows gain the lease of the worker
that claimed them, the object they change (bucket, key), the reason as a short code and a
sentence, whether the copy is a residency violation, and a ``skipped`` state (a step found
stale when it ran); ``garbage`` items gain the lease of the collector deleting them, and
an index by (site, blob) so that re-adding a copy cancels its queued deletion.

SQLite cannot change a CHECK constraint in place: its ``jobs`` table is rebuilt (same
rows, same ids). PostgreSQL alters it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

_SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_KEY = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")
_STATES = "state IN ('pending', 'done', 'failed', 'skipped', 'interrupted')"
_OLD = (
    "id",
    "run_id",
    "action",
    "version_id",
    "site_id",
    "source",
    "bytes",
    "state",
    "detail",
    "created_at",
    "updated_at",
)
#: (name, type) of the columns ``jobs`` gains, in order.
_JOB_COLUMNS: tuple[tuple[str, sa.types.TypeEngine[Any]], ...] = (
    ("bucket", sa.String(63)),
    ("key", _KEY),
    ("reason", sa.String(16)),
    ("why", sa.Text()),
    ("violation", sa.Boolean()),
    ("lease_holder", sa.String(255)),
    ("lease_expires", sa.BigInteger()),
)


def upgrade(conn: sa.Connection) -> None:
    m = sa.MetaData()
    sa.Table(
        "leases",
        m,
        sa.Column("scope", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("bucket", sa.String(63)),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("acquired_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
    )
    m.create_all(conn)
    if conn.dialect.name == "sqlite":
        _rebuild_jobs(conn)
    else:
        for name, kind in _JOB_COLUMNS:
            _add_column(conn, "jobs", name, kind)
        conn.execute(sa.text("ALTER TABLE jobs DROP CONSTRAINT job_state"))
        conn.execute(sa.text(f"ALTER TABLE jobs ADD CONSTRAINT job_state CHECK ({_STATES})"))
    conn.execute(sa.text("CREATE INDEX jobs_run ON jobs (run_id, state, version_id)"))
    _add_column(conn, "garbage", "lease_holder", sa.String(255))
    _add_column(conn, "garbage", "lease_expires", sa.BigInteger())
    conn.execute(sa.text("CREATE INDEX garbage_blob ON garbage (site_id, blob_id)"))


def _add_column(conn: sa.Connection, table: str, name: str, kind: sa.types.TypeEngine[Any]) -> None:
    """ALTER TABLE ... ADD COLUMN (nullable), the type as the dialect spells it."""
    spelled = kind.compile(dialect=conn.dialect)
    conn.execute(sa.text(f'ALTER TABLE {table} ADD COLUMN "{name}" {spelled}'))


def _rebuild_jobs(conn: sa.Connection) -> None:
    m = sa.MetaData()
    sa.Table(
        "jobs_v9",
        m,
        sa.Column("id", _SERIAL, primary_key=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(128)),
        sa.Column("bytes", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        *(sa.Column(name, kind) for name, kind in _JOB_COLUMNS),
        sa.CheckConstraint(_STATES, name="job_state"),
    )
    m.create_all(conn)
    columns = ", ".join(_OLD)
    conn.execute(sa.text(f"INSERT INTO jobs_v9 ({columns}) SELECT {columns} FROM jobs"))  # noqa: S608
    conn.execute(sa.text("DROP TABLE jobs"))
    conn.execute(sa.text("ALTER TABLE jobs_v9 RENAME TO jobs"))
    conn.execute(sa.text("CREATE INDEX jobs_state ON jobs (state)"))
