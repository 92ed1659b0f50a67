"""Step 11: Object Lock and lifecycle rules.

Frozen: see ``v0001_initial``. ``bucket_locks``: a bucket created with Object Lock (one
row, never removed while the bucket exists) and its default retention (mode and a period
in days or years, or none). ``version_locks``: a version's retention (mode and
retain-until, microseconds) and legal hold, and ``copies``, the number of good copies the
version had when it was first locked: no copy of a locked version is forgotten while fewer
would remain. ``bucket_lifecycle``: a bucket's lifecycle rules as JSON text.
"""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(conn: sa.Connection) -> None:
    m = sa.MetaData()
    sa.Table(
        "bucket_locks",
        m,
        sa.Column("bucket", sa.String(63), primary_key=True),
        sa.Column("mode", sa.String(16)),
        sa.Column("days", sa.Integer),
        sa.Column("years", sa.Integer),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "version_locks",
        m,
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("mode", sa.String(16)),
        sa.Column("retain_until", sa.BigInteger),
        sa.Column("legal_hold", sa.Boolean, nullable=False),
        sa.Column("copies", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "bucket_lifecycle",
        m,
        sa.Column("bucket", sa.String(63), primary_key=True),
        sa.Column("rules", sa.Text, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
    )
    m.create_all(conn)
