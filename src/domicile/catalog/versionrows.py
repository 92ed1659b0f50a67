"""A key's versions inside one write or read transaction: commit, find, remove, promote.

The rules of S3 versioning, on the rows of ``versions`` (docs/catalog.md, "Versioning"):

- Committing a version makes it the key's current version, with the next ``seq``; the
  version that was current stays, noncurrent (``superseded``), with its blobs.
- A *null* version (``null_version``: S3 id ``null``; every version of a bucket whose
  versioning was never enabled, or written while it is suspended) replaces the key's
  null version, if there is one, current or not: that one is removed. In an unversioned
  bucket every version is null, so a PUT replaces the object, as before versioning.
- Removing the current version (by id) makes the newest remaining one current, delete
  marker or not.

:func:`drop_version` is the one place a version row is removed for good (its blobs queued
as garbage on every site holding it): replaced by a null version, deleted by id, or
deleted from an unversioned bucket. It and ``remove_placement`` give up copies only
through :func:`queue_blobs`, which runs the Object Lock guard (``objectlocks.guard_forget``), so
no path can skip it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from domicile.catalog import rows
from domicile.catalog import schema as t
from domicile.catalog.base import AuditBuilder
from domicile.catalog.chain import append_audit
from domicile.catalog.locks import key_locks
from domicile.catalog.objectlocks import forget_lock, guard_forget
from domicile.catalog.prepared import Prepared, Raw
from domicile.catalog.records import (
    CURRENT,
    NONCURRENT,
    NULL_ID,
    Bucket,
    Expect,
    Lookup,
    Placement,
    Segment,
    Version,
    version_blobs,
)
from domicile.errors import BucketNotFound, ObjectNotFound, VersionNotFound

_V = t.versions.c
_BUCKET = Prepared(rows.BUCKET_COLUMNS.where(t.buckets.c.name == sa.bindparam("bucket")))
_CURRENT = Prepared(
    sa.select(t.versions).where(
        _V.bucket == sa.bindparam("bucket"), _V.key == sa.bindparam("key"), t.IS_CURRENT
    )
)
_NULL = Prepared(
    sa.select(t.versions).where(
        _V.bucket == sa.bindparam("bucket"),
        _V.key == sa.bindparam("key"),
        _V.null_version == sa.true(),
    )
)
_NEWEST = Prepared(
    sa.select(t.versions)
    .where(_V.bucket == sa.bindparam("bucket"), _V.key == sa.bindparam("key"))
    .order_by(_V.seq.desc())
    .limit(1)
)
_VERSION = Prepared(sa.select(t.versions).where(_V.version_id == sa.bindparam("vid")))
_SEGMENTS = Prepared(
    sa.select(t.segments)
    .where(t.segments.c.version_id == sa.bindparam("vid"))
    .order_by(t.segments.c.idx)
)
_PLACEMENTS = Prepared(
    sa.select(t.placements)
    .where(t.placements.c.version_id == sa.bindparam("vid"))
    .order_by(t.placements.c.site_id)
)
# A lookup of the current version as one statement (:func:`lookup_current`).
_LOOKUP = Prepared(
    sa.text(
        """SELECT
        (SELECT row_to_json(b) FROM (SELECT buckets.*, EXISTS (SELECT 1 FROM bucket_locks
          WHERE bucket_locks.bucket = :bucket) AS object_lock
         FROM buckets WHERE name = :bucket) AS b) AS bucket,
        (SELECT row_to_json(v) FROM versions v
         WHERE v.bucket = :bucket AND v.key = :key AND v.state = 'current') AS version,
        (SELECT json_agg(s ORDER BY s.idx) FROM segments s
         WHERE s.version_id = (SELECT version_id FROM versions
          WHERE bucket = :bucket AND key = :key AND state = 'current')) AS segments,
        (SELECT json_agg(p ORDER BY p.site_id) FROM placements p
         WHERE p.version_id = (SELECT version_id FROM versions
          WHERE bucket = :bucket AND key = :key AND state = 'current')) AS placements"""
    ).columns(
        sa.column("bucket"), sa.column("version"), sa.column("segments"), sa.column("placements")
    )
)
_SET_STATE = Prepared(
    sa.update(t.versions)
    .where(_V.version_id == sa.bindparam("vid"))
    .values(state=sa.bindparam("state"))
)
_FORGET = tuple(
    Prepared(sa.delete(table).where(table.c.version_id == sa.bindparam("vid")))
    for table in (t.segments, t.placements, t.faults, t.versions)
)
_INSERT_GARBAGE = Prepared(sa.insert(t.garbage))
_INSERT_VERSION = Prepared(sa.insert(t.versions))
_INSERT_SEGMENT = Prepared(sa.insert(t.segments))
_INSERT_PLACEMENT = Prepared(sa.insert(t.placements))


def no_bucket(name: str) -> BucketNotFound:
    return BucketNotFound(
        f"no bucket named {name!r}",
        hint="'domicile ls' lists the buckets; 'domicile mb' creates one",
        bucket=name,
    )


def require_bucket(raw: Raw, name: str) -> Bucket:
    row = raw.first(_BUCKET, {"bucket": name})
    if row is None:
        raise no_bucket(name)
    return rows.bucket(row)


def get(raw: Raw, version_id: str) -> Version | None:
    row = raw.first(_VERSION, {"vid": version_id})
    return None if row is None else rows.version(row)


def current(raw: Raw, bucket: str, key: str) -> Version | None:
    row = raw.first(_CURRENT, {"bucket": bucket, "key": key})
    return None if row is None else rows.version(row)


def require_current(raw: Raw, bucket: str, key: str) -> Version:
    """The key's current version; ObjectNotFound when there is none, or when it is a delete
    marker (then with ``delete_marker=True`` and the marker's S3 id as ``version``)."""
    found = current(raw, bucket, key)
    if found is None:
        require_bucket(raw, bucket)
    if found is None or found.delete_marker:
        raise no_object(bucket, key, found)
    return found


def no_object(bucket: str, key: str, marker: Version | None) -> ObjectNotFound:
    """The key has no current version, or (``marker``) its latest is a delete marker."""
    if marker is None:
        return ObjectNotFound(
            f"no object {key!r} in bucket {bucket!r}",
            hint="'domicile ls BUCKET' lists the objects",
            bucket=bucket,
            key=key,
        )
    return ObjectNotFound(
        f"{bucket}/{key} was deleted: its latest version is a delete marker",
        hint="'domicile ls --versions BUCKET/KEY' lists its versions; read one with --version-id",
        bucket=bucket,
        key=key,
        delete_marker=True,
        version=marker.s3_version_id,
    )


def find(raw: Raw, bucket: str, key: str, version_id: str) -> Version | None:
    """The version of S3 id ``version_id`` (``null``: the null version) of the key."""
    if version_id == NULL_ID:
        row = raw.first(_NULL, {"bucket": bucket, "key": key})
        return None if row is None else rows.version(row)
    found = get(raw, version_id)
    if found is None or found.null_version or (found.bucket, found.key) != (bucket, key):
        return None
    return found


def require(raw: Raw, bucket: str, key: str, version_id: str) -> Version:
    """:func:`find`, or VersionNotFound (BucketNotFound if the bucket is gone)."""
    found = find(raw, bucket, key, version_id)
    if found is None:
        require_bucket(raw, bucket)
        raise VersionNotFound(
            f"{bucket}/{key} has no version {version_id[:100]!r}",
            hint="'domicile ls --versions BUCKET/KEY' lists its versions",
            bucket=bucket,
            key=key,
            version=version_id,
        )
    return found


def segments_of(raw: Raw, version_id: str) -> list[Segment]:
    return [rows.segment(r) for r in raw.rows(_SEGMENTS, {"vid": version_id})]


def placements_of(raw: Raw, version_id: str) -> list[Placement]:
    return [rows.placement(r) for r in raw.rows(_PLACEMENTS, {"vid": version_id})]


def commit(
    raw: Raw,
    version: Version,
    segments: Sequence[Segment],
    placements: Sequence[Placement],
    audit: AuditBuilder | None,
    *,
    expect: Expect | None = None,
) -> Version | None:
    """``Catalog.commit_version`` in the caller's write transaction: ``version`` becomes
    current; the version that was stays, noncurrent, unless ``version`` is a null version
    and it was the null one. Returns the version removed for good (its blobs queued).
    Takes the key's lock first (:mod:`domicile.catalog.locks`; held already in a group
    commit)."""
    found = raw.prefetched  # sent ahead with the group commit's locks
    if found is None:
        locks = key_locks(raw, [(version.bucket, version.key)])  # none when held already
        found = raw.rows_together([*locks, *commit_reads(version)])[len(locks) :]
    owner, now = found
    if not owner:
        raise no_bucket(version.bucket)
    previous = rows.version(now[0]) if now else None
    if expect is not None:
        expect.check(previous, version.bucket, version.key)
    seq = 1 if previous is None else previous.seq + 1
    removed: Version | None = None
    if version.null_version:
        removed = (
            previous
            if previous is not None and previous.null_version
            else find(raw, version.bucket, version.key, NULL_ID)
        )
        if removed is not None:
            drop_version(raw, removed, reason="replaced")
            if previous is not None and removed.version_id == previous.version_id:
                previous = None
    # Writes without a result to read: on PostgreSQL sent with the next statement or the
    # COMMIT (Raw.send_later).
    if previous is not None:
        raw.run_many(_SET_STATE, [{"vid": previous.version_id, "state": NONCURRENT}])
    raw.run_many(_INSERT_VERSION, [rows.version_row(version, seq=seq)])
    raw.run_many(_INSERT_SEGMENT, [rows.segment_row(s) for s in segments])
    raw.run_many(_INSERT_PLACEMENT, [rows.placement_row(p) for p in placements])
    if audit is not None:
        append_audit(raw, audit)
    return removed


def commit_reads(version: Version) -> list[tuple[Prepared, dict[str, Any]]]:
    """What :func:`commit` reads first: the bucket, and the key's current version (a
    group commit sends them ahead with its locks)."""
    params = {"bucket": version.bucket, "key": version.key}
    return [(_BUCKET, params), (_CURRENT, params)]


def lookup_current(raw: Raw, bucket: str, key: str) -> Lookup:
    """``Catalog.lookup`` of the current version as one statement: on a database server
    one round trip and one snapshot (its rows come back as JSON objects)."""
    found = raw.first(_LOOKUP, {"bucket": bucket, "key": key})
    assert found is not None  # a SELECT of scalar subqueries has one row
    if found.bucket is None:
        raise no_bucket(bucket)
    version = None if found.version is None else rows.version(_VERSION.row_of(found.version))
    if version is None or version.delete_marker:
        raise no_object(bucket, key, version)
    return Lookup(
        version,
        [rows.segment(_SEGMENTS.row_of(r)) for r in found.segments or ()],
        [rows.placement(_PLACEMENTS.row_of(r)) for r in found.placements or ()],
        rows.bucket(_BUCKET.row_of(found.bucket)),
    )


def remove(
    raw: Raw, version: Version, *, reason: str, bypass_governance: bool = False
) -> Version | None:
    """Remove ``version`` for good; if it was current, the newest remaining version of its
    key becomes current (returned), else None. ObjectLocked (see :func:`queue_blobs`)."""
    drop_version(raw, version, reason=reason, bypass_governance=bypass_governance)
    if not version.is_latest:
        return None
    row = raw.first(_NEWEST, {"bucket": version.bucket, "key": version.key})
    if row is None:
        return None
    promoted = replace(rows.version(row), state=CURRENT)
    raw.run(_SET_STATE, {"vid": promoted.version_id, "state": CURRENT})
    return promoted


def drop_version(
    raw: Raw, version: Version, *, reason: str, bypass_governance: bool = False
) -> None:
    """Queue every blob of ``version`` on every site holding it, then forget the version:
    the one path by which a version is removed for good (see the module docstring)."""
    params = {"vid": version.version_id}
    sites = [p.site_id for p in raw.rows(_PLACEMENTS, params)]
    queue_blobs(raw, version, sites, reason=reason, bypass_governance=bypass_governance)
    forget_lock(raw, version.version_id)
    for statement in _FORGET:
        raw.run_many(statement, [params])


def queue_blobs(
    raw: Raw,
    version: Version,
    sites: Sequence[str],
    reason: str,
    *,
    bypass_governance: bool = False,
) -> None:
    """Queue every blob of ``version`` (segments and manifest) on each of ``sites``: the
    one place a version's copies are given up (a version dropped, a copy removed by apply
    or repair). The Object Lock guard runs first (``objectlocks.guard_forget``: ObjectLocked,
    nothing queued, when the version's lock forbids it)."""
    guard_forget(raw, version, sites, bypass_governance=bypass_governance)
    blobs = version_blobs(version, segments_of(raw, version.version_id))
    now = rows.now_us()
    raw.run_many(
        _INSERT_GARBAGE,
        [
            {
                "site_id": site,
                "blob_id": blob,
                "reason": reason,
                "queued_at": now,
                "origin": version.version_id,
            }
            for site in sites
            for blob in blobs
        ],
    )
