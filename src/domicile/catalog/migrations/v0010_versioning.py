"""Step 10: bucket versioning and the versions a versioned bucket keeps.

Frozen: see ``v0001_initial``. ``buckets.versioning`` (``Enabled``, ``Suspended``, NULL for
never enabled). Each version says whether its S3 version id is ``null``
(``null_version``: every version written before this step is one, as every bucket was
unversioned), whether it is a delete marker, and its place among its key's versions
(``seq``: 1 for every existing version, the only one of its key); the ``versions_key``
index walks a key's versions in that order.
"""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(conn: sa.Connection) -> None:
    true, false = ("TRUE", "FALSE") if conn.dialect.name == "postgresql" else ("1", "0")
    for statement in (
        "ALTER TABLE buckets ADD COLUMN versioning VARCHAR(16)",
        f"ALTER TABLE versions ADD COLUMN null_version BOOLEAN DEFAULT {true} NOT NULL",
        f"ALTER TABLE versions ADD COLUMN delete_marker BOOLEAN DEFAULT {false} NOT NULL",
        "ALTER TABLE versions ADD COLUMN seq BIGINT DEFAULT 1 NOT NULL",
        "CREATE INDEX versions_key ON versions (bucket, key, seq)",
    ):
        conn.execute(sa.text(statement))
