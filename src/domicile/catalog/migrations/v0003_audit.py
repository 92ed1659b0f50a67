"""Step 3: the audit chain and its signed checkpoints. Frozen: see ``v0001_initial``."""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(conn: sa.Connection) -> None:
    m = sa.MetaData()
    sa.Table(
        "audit_records",
        m,
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    sa.Table(
        "audit_checkpoints",
        m,
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    m.create_all(conn)
