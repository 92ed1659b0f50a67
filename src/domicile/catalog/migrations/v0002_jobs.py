"""Step 2: the jobs of plan/apply runs. Frozen: see ``v0001_initial``."""

from __future__ import annotations

import sqlalchemy as sa

_SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade(conn: sa.Connection) -> None:
    m = sa.MetaData()
    jobs = sa.Table(
        "jobs",
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
        sa.CheckConstraint(
            "state IN ('pending', 'done', 'failed', 'interrupted')", name="job_state"
        ),
    )
    sa.Index("jobs_state", jobs.c.state)
    m.create_all(conn)
