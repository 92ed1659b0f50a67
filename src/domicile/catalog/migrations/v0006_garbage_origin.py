"""Step 6: each garbage item names its origin, the version or upload whose blobs it holds.

Frozen: see ``v0001_initial``. A nullable column at the end of the table (items queued
before this step have none: only a whole-queue collection takes them) and its index, so
a PUT or DELETE can collect the blobs it unreferenced without reading the whole queue.
"""

from __future__ import annotations

import sqlalchemy as sa


def upgrade(conn: sa.Connection) -> None:
    conn.execute(sa.text("ALTER TABLE garbage ADD COLUMN origin VARCHAR(128)"))
    conn.execute(sa.text("CREATE INDEX garbage_origin ON garbage (origin)"))
