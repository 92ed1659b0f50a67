"""Step 7: Content-Language and part sizes of versions; completed multipart uploads.

Frozen: see ``v0001_initial``. Two nullable columns at the end of ``versions`` (existing
rows read as "no Content-Language" and "not multipart", nothing is rewritten), and the
table that remembers completed uploads so that a retried CompleteMultipartUpload answers
as the first one did.
"""

from __future__ import annotations

import sqlalchemy as sa

_COLUMNS = (
    ("versions", "content_language", "VARCHAR(255)"),
    ("versions", "part_sizes", "TEXT"),
)


def upgrade(conn: sa.Connection) -> None:
    for table, column, kind in _COLUMNS:
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
    meta = sa.MetaData()
    key = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")
    completed = sa.Table(
        "completed_uploads",
        meta,
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.String(63), nullable=False),
        sa.Column("key", key, nullable=False),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("parts", sa.Text, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("checksums", sa.Text),
        sa.Column("checksum_type", sa.String(16)),
        sa.Column("completed_at", sa.BigInteger, nullable=False),
    )
    sa.Index("completed_uploads_at", completed.c.completed_at)
    meta.create_all(conn)
