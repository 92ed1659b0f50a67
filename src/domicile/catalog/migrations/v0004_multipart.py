"""Step 4: multipart uploads in progress, their parts and the parts' segments.

Frozen: see ``v0001_initial``.
"""

from __future__ import annotations

import sqlalchemy as sa

_KEY = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")


def upgrade(conn: sa.Connection) -> None:
    m = sa.MetaData()
    # Only so that the foreign key below resolves; step 1 created the table.
    sa.Table("buckets", m, sa.Column("name", sa.String(63), primary_key=True))
    uploads = sa.Table(
        "uploads",
        m,
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.String(63), sa.ForeignKey("buckets.name"), nullable=False),
        sa.Column("key", _KEY, nullable=False),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("sites", sa.Text, nullable=False),
        sa.Column("meta", sa.Text, nullable=False),
        sa.Column("initiated", sa.BigInteger, nullable=False),
    )
    sa.Index("uploads_key", uploads.c.bucket, uploads.c.key, uploads.c.upload_id)
    sa.Index("uploads_initiated", uploads.c.initiated)
    sa.Table(
        "upload_parts",
        m,
        sa.Column(
            "upload_id",
            sa.String(64),
            sa.ForeignKey("uploads.upload_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("part_number", sa.Integer, primary_key=True),
        sa.Column("etag", sa.String(32), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "upload_segments",
        m,
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("part_number", sa.Integer, primary_key=True),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("blob_id", sa.String(128), nullable=False),
        sa.Column("plaintext_size", sa.BigInteger, nullable=False),
        sa.Column("header_length", sa.Integer, nullable=False),
        sa.Column("ciphertext_length", sa.BigInteger, nullable=False),
        sa.Column("ciphertext_sha256", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["upload_id", "part_number"],
            ["upload_parts.upload_id", "upload_parts.part_number"],
            ondelete="CASCADE",
        ),
    )
    m.create_all(conn, tables=[m.tables[n] for n in ("uploads", "upload_parts", "upload_segments")])
