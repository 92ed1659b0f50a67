"""Bucket data identities in the catalog (a mixin of :class:`~domicile.catalog.sql.SqlCatalog`).

Each row is one version of a bucket's identity, wrapped to the root recipients; the
catalog never sees an identity in the clear. ``forget_bucket_keys`` is the catalog's part
of ``domicile shred``.
"""

from __future__ import annotations

import sqlalchemy as sa

from domicile.catalog import rows
from domicile.catalog import schema as t
from domicile.catalog.database import Database
from domicile.catalog.records import BUCKET_KEY_KINDS, BucketKey

_K = t.bucket_keys


class BucketKeys:
    """Versions of bucket data identities over ``self._db``."""

    _db: Database

    def bucket_keys(self, bucket: str) -> list[BucketKey]:
        """Every version of ``bucket``'s identity, oldest first (none: a bucket never
        written since keys became per bucket, or one shredded)."""
        with self._db.read() as conn:
            found = conn.execute(
                sa.select(_K).where(_K.c.bucket == bucket).order_by(_K.c.version)
            ).all()
        return [
            BucketKey(
                r.bucket,
                r.version,
                r.kind,
                r.recipient,
                bytes(r.wrapped),
                tuple(s for s in r.sites.split(",") if s),
                r.created_at / 1e6,
            )
            for r in found
        ]

    def add_bucket_key(self, key: BucketKey) -> None:
        """Store a new version of a bucket's identity. CatalogConflict when another
        writer stored that version first (read the bucket's keys again)."""
        if key.kind not in BUCKET_KEY_KINDS:
            raise ValueError(f"unknown bucket key kind {key.kind!r}; {BUCKET_KEY_KINDS}")
        with self._db.write() as conn:
            conn.execute(
                sa.insert(_K).values(
                    bucket=key.bucket,
                    version=key.version,
                    kind=key.kind,
                    recipient=key.recipient,
                    wrapped=key.wrapped,
                    sites=",".join(key.sites),
                    created_at=rows.now_us(),
                )
            )

    def forget_bucket_key(self, bucket: str, version: int) -> None:
        """Delete one version of ``bucket``'s identity (replaced by a re-wrapped copy)."""
        with self._db.write() as conn:
            conn.execute(sa.delete(_K).where(_K.c.bucket == bucket, _K.c.version == version))

    def forget_bucket_keys(self, bucket: str) -> int:
        """Delete every version of ``bucket``'s identity; return how many there were."""
        with self._db.write() as conn:
            return conn.execute(sa.delete(_K).where(_K.c.bucket == bucket)).rowcount or 0
