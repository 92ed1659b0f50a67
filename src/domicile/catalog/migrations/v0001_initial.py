"""Step 1: buckets, versions, segments, placements, faults, garbage.

Frozen: these definitions are the schema as released with this step, on purpose not
imported from ``schema.py``; later changes are later steps.
"""

from __future__ import annotations

import sqlalchemy as sa

_KEY = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")
_SERIAL = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade(conn: sa.Connection) -> None:
    m = sa.MetaData()
    sa.Table(
        "buckets",
        m,
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("tenant", sa.String(128), nullable=False),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
    )
    versions = sa.Table(
        "versions",
        m,
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.String(63), sa.ForeignKey("buckets.name"), nullable=False),
        sa.Column("key", _KEY, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("content_encoding", sa.String(255)),
        sa.Column("content_disposition", sa.String(1024)),
        sa.Column("cache_control", sa.String(255)),
        sa.Column("expires", sa.String(64)),
        sa.Column("user_metadata", sa.Text, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("manifest_blob_id", sa.String(128), nullable=False),
        sa.CheckConstraint("state IN ('current', 'superseded', 'deleted')", name="version_state"),
    )
    sa.Index(
        "versions_current",
        versions.c.bucket,
        versions.c.key,
        unique=True,
        sqlite_where=versions.c.state == "current",
        postgresql_where=versions.c.state == "current",
    )
    sa.Table(
        "segments",
        m,
        sa.Column(
            "version_id",
            sa.String(64),
            sa.ForeignKey("versions.version_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("idx", sa.Integer, primary_key=True),
        sa.Column("blob_id", sa.String(128), nullable=False),
        sa.Column("plaintext_size", sa.BigInteger, nullable=False),
        sa.Column("header_length", sa.Integer, nullable=False),
        sa.Column("ciphertext_length", sa.BigInteger, nullable=False),
        sa.Column("ciphertext_sha256", sa.String(64), nullable=False),
    )
    placements = sa.Table(
        "placements",
        m,
        sa.Column(
            "version_id",
            sa.String(64),
            sa.ForeignKey("versions.version_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("site_id", sa.String(128), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("verified_at", sa.BigInteger),
        sa.CheckConstraint("state IN ('ok', 'missing', 'corrupt')", name="placement_state"),
    )
    sa.Index("placements_site", placements.c.site_id)
    faults = sa.Table(
        "faults",
        m,
        sa.Column("id", _SERIAL, primary_key=True),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(128), nullable=False),
        sa.Column("segment_idx", sa.Integer),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("seen_at", sa.BigInteger, nullable=False),
        sa.Column("resolved_at", sa.BigInteger),
    )
    sa.Index("faults_open", faults.c.version_id, faults.c.resolved_at)
    sa.Table(
        "garbage",
        m,
        sa.Column("id", _SERIAL, primary_key=True),
        sa.Column("site_id", sa.String(128), nullable=False),
        sa.Column("blob_id", sa.String(128), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("queued_at", sa.BigInteger, nullable=False),
    )
    m.create_all(conn)
