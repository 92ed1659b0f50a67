"""Step 5: named checksums stored with versions and parts; the checksum an upload requires.

Frozen: see ``v0001_initial``. Nullable columns added at the end of their tables, so
existing rows read as "no checksum" and nothing is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa

_COLUMNS = (
    ("versions", "checksums", "TEXT"),
    ("versions", "checksum_type", "VARCHAR(16)"),
    ("uploads", "checksum", "VARCHAR(16)"),
    ("upload_parts", "checksums", "TEXT"),
)


def upgrade(conn: sa.Connection) -> None:
    for table, column, kind in _COLUMNS:
        conn.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))
