"""The catalog: buckets, object versions, segments, placements, faults, garbage.

SQLAlchemy Core on SQLite (WAL) by default; the schema serves PostgreSQL unchanged.
Tables and states are described in ``docs/catalog.md``.
"""

from __future__ import annotations

from domicile.catalog.base import Catalog
from domicile.catalog.records import (
    CURRENT,
    FAULT_KINDS,
    JOB_STATES,
    LOCK_MODES,
    NONCURRENT,
    NULL_ID,
    PLACEMENT_STATES,
    VERSIONING_STATUSES,
    Bucket,
    BucketKey,
    BucketLock,
    BucketStats,
    CompletedUpload,
    Expect,
    Fault,
    GarbageItem,
    Holder,
    Job,
    Lease,
    ListPage,
    Lookup,
    Part,
    PartSegment,
    Placement,
    Segment,
    Upload,
    Version,
    VersionLock,
    VersionsPage,
    inline_manifest,
    version_blobs,
)
from domicile.catalog.sql import SqlCatalog


def open_catalog(url: str) -> SqlCatalog:
    """Open (and migrate) the catalog at ``url``, e.g. ``sqlite:///path/catalog.db``."""
    return SqlCatalog(url)


__all__ = [
    "CURRENT",
    "FAULT_KINDS",
    "JOB_STATES",
    "LOCK_MODES",
    "NONCURRENT",
    "NULL_ID",
    "PLACEMENT_STATES",
    "VERSIONING_STATUSES",
    "Bucket",
    "BucketKey",
    "BucketLock",
    "BucketStats",
    "Catalog",
    "CompletedUpload",
    "Expect",
    "Fault",
    "GarbageItem",
    "Holder",
    "Job",
    "Lease",
    "ListPage",
    "Lookup",
    "Part",
    "PartSegment",
    "Placement",
    "Segment",
    "SqlCatalog",
    "Upload",
    "Version",
    "VersionLock",
    "VersionsPage",
    "inline_manifest",
    "open_catalog",
    "version_blobs",
]
