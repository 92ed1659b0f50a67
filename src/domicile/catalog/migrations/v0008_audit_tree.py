"""Step 8: the audit log's transparency-log checkpoints.

Frozen: see ``v0001_initial``. One row per tree size the deployment signed: the signed
checkpoint note (with the witnesses' cosignatures as they arrive) and the compact range of
the tree at that size (the roots of its perfect subtrees, base64, space-separated), from
which the tree is extended and consistency proofs are made without reading old records.
"""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(conn: sa.Connection) -> None:
    m = sa.MetaData()
    sa.Table(
        "audit_tree",
        m,
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("nodes", sa.Text, nullable=False),
    )
    m.create_all(conn)
