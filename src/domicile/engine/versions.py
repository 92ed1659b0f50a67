"""Versioning: a bucket's status, deletes in versioned buckets, removing one version for
good, and listings of versions (docs/catalog.md, "Versioning").

- :func:`set_versioning`: ``Enabled`` or ``Suspended`` (never back to unversioned, as on
  S3), with a ``bucket_versioning`` audit record in the same transaction.
- :func:`remove`: without a version id, an unversioned bucket forgets the object (as
  before versioning); a versioned or suspended one gets a delete marker
  (:func:`~domicile.engine.writer.put_delete_marker`). With a version id, that version
  (or delete marker) is removed for good, its blobs deleted from every site, with a
  ``version_delete`` audit record; the key's newest remaining version becomes current.
- :func:`list_versions`: S3 ListObjectVersions.
"""

from __future__ import annotations

import re
from dataclasses import replace

from domicile.audit import Record
from domicile.catalog import NULL_ID, VERSIONING_STATUSES, Bucket, Version
from domicile.catalog.base import AuditBuilder
from domicile.engine.context import EngineContext
from domicile.engine.garbage import collect_garbage
from domicile.engine.locking import refused
from domicile.engine.names import check_key
from domicile.engine.records import Deletion, ObjectInfo, ObjectMeta, VersionsList
from domicile.engine.writer import put_delete_marker
from domicile.errors import InvalidName, ObjectLocked, VersioningLocked, VersionNotFound

#: The version ids domicile makes (32 hex digits), and S3's ``null``.
_VERSION_ID = re.compile(r"null|[0-9a-f]{32}")


def check_version_id(version_id: str, *, bucket: str, key: str) -> None:
    """InvalidName unless ``version_id`` is one domicile could have made (or ``null``):
    S3 answers a malformed id with InvalidArgument, never NoSuchVersion."""
    if not _VERSION_ID.fullmatch(version_id):
        raise InvalidName(
            f"invalid version id {version_id[:100]!r}",
            hint="version ids are 'null' or 32 hex digits ('domicile ls --versions' lists them)",
            bucket=bucket,
            key=key,
            version=version_id[:100],
        )


def set_versioning(ctx: EngineContext, name: str, status: str) -> Bucket:
    """Set the bucket's versioning status; return the bucket as it is now."""
    if status not in VERSIONING_STATUSES:
        raise ValueError(f"versioning status {status!r}: expected one of {VERSIONING_STATUSES}")
    before = ctx.catalog.get_bucket(name)
    if status != "Enabled" and ctx.catalog.bucket_lock(name) is not None:
        raise VersioningLocked(
            f"bucket {name!r} has Object Lock: its versioning cannot be suspended",
            hint="a bucket created with Object Lock keeps versioning enabled for good",
            bucket=name,
        )
    if ctx.audit is None:
        return ctx.catalog.set_versioning(name, status)
    build, made = ctx.audit.builder(
        "bucket_versioning",
        bucket=name,
        policy=before.policy,
        detail={"status": status, "previous": before.versioning or "Unversioned"},
    )
    bucket = ctx.catalog.set_versioning(name, status, audit=build)
    ctx.audit.appended(made)
    return bucket


def remove(
    ctx: EngineContext,
    bucket_name: str,
    key: str,
    version_id: str | None,
    *,
    bypass_governance: bool = False,
) -> Deletion:
    """Delete ``key`` (a delete marker in a versioned bucket), or its version
    ``version_id`` for good; see the module docstring. A version under Object Lock is
    ObjectLocked, with a ``refused`` audit record (``bypass_governance``: the caller may
    and does bypass GOVERNANCE retention)."""
    check_key(key, bucket=bucket_name)
    bucket = ctx.catalog.get_bucket(bucket_name)
    if version_id is not None:
        return _remove_version(ctx, bucket_name, key, version_id, bypass_governance)
    if bucket.versioning is not None:
        marker = put_delete_marker(ctx, bucket, key)
        shown = NULL_ID if marker.null_version else marker.version_id
        return Deletion(bucket_name, key, shown, True)
    try:
        removed = ctx.catalog.delete_object(bucket_name, key, bypass_governance=bypass_governance)
    except ObjectLocked as exc:
        refused(ctx, exc, "delete")
        raise
    if removed is None:
        return Deletion(bucket_name, key, None, False)
    ctx.record("delete", bucket=bucket_name, key=key, version=removed.version_id)
    return _collected(ctx, Deletion(bucket_name, key, removed.s3_version_id, False), removed)


def _remove_version(
    ctx: EngineContext, bucket: str, key: str, version_id: str, bypass_governance: bool
) -> Deletion:
    check_version_id(version_id, bucket=bucket, key=key)
    try:
        found = ctx.catalog.find_version(bucket, key, version_id)
    except VersionNotFound:
        return Deletion(bucket, key, None, False)  # S3: 204, nothing to delete
    build: AuditBuilder | None = None
    made: list[Record] = []
    if ctx.audit is not None:
        build, made = ctx.audit.builder(
            "version_delete",
            bucket=bucket,
            key=key,
            version=found.version_id,
            detail={
                "version_id": found.s3_version_id,
                "delete_marker": found.delete_marker,
                "latest": found.is_latest,
            },
        )
    try:
        gone = ctx.catalog.delete_version(
            bucket, key, found.version_id, audit=build, bypass_governance=bypass_governance
        )
    except ObjectLocked as exc:
        refused(ctx, exc, "version_delete")
        raise
    if gone is None:
        return Deletion(bucket, key, None, False)  # removed meanwhile
    if ctx.audit is not None and made:
        ctx.audit.appended(made)
    return _collected(ctx, Deletion(bucket, key, found.s3_version_id, found.delete_marker), found)


def _collected(ctx: EngineContext, done: Deletion, removed: Version) -> Deletion:
    """``done`` once the blobs of ``removed`` are deleted, with those that could not be
    (their site is unreachable: they stay queued) counted per site, and why."""
    collect_garbage(ctx, origins=[removed.version_id])
    queued: dict[str, int] = {}
    for item in ctx.catalog.garbage(origins=[removed.version_id]):
        queued[item.site_id] = queued.get(item.site_id, 0) + 1
    if not queued:
        return done
    why = {
        site: ctx.health.failure(site) or ("not configured" if site not in ctx.sites else "unknown")
        for site in queued
    }
    return replace(done, queued=dict(sorted(queued.items())), why=why)


def list_versions(
    ctx: EngineContext,
    bucket: str,
    *,
    prefix: str = "",
    delimiter: str = "",
    key_marker: str = "",
    version_id_marker: str = "",
    limit: int = 1000,
) -> VersionsList:
    """One page of versions and delete markers, S3's order (key ascending, newest first)."""
    if version_id_marker:
        check_version_id(version_id_marker, bucket=bucket, key=key_marker)
    page = ctx.catalog.list_versions(
        bucket,
        prefix=prefix,
        delimiter=delimiter,
        key_marker=key_marker,
        version_id_marker=version_id_marker,
        limit=limit,
    )
    return VersionsList(
        versions=[object_info(v) for v in page.versions],
        common_prefixes=list(page.common_prefixes),
        is_truncated=page.is_truncated,
        next_key_marker=page.next_key_marker,
        next_version_id_marker=page.next_version_id_marker,
    )


def every_version(ctx: EngineContext, bucket: str, *, prefix: str = "") -> list[ObjectInfo]:
    """Every version and delete marker of ``bucket`` under ``prefix``, in listing order,
    read before the caller removes any (a removed version cannot be a listing marker)."""
    found: list[ObjectInfo] = []
    key_marker = version_marker = ""
    while True:
        page = list_versions(
            ctx, bucket, prefix=prefix, key_marker=key_marker, version_id_marker=version_marker
        )
        found += page.versions
        if not page.is_truncated:
            return found
        key_marker = page.next_key_marker or ""
        version_marker = page.next_version_id_marker or ""


def object_info(version: Version) -> ObjectInfo:
    """What callers see of a catalog version."""
    return ObjectInfo(
        bucket=version.bucket,
        key=version.key,
        version_id=version.version_id,
        size=version.size,
        etag=version.etag,
        created_at=version.created_at,
        meta=ObjectMeta(
            content_type=version.content_type,
            content_encoding=version.content_encoding,
            content_disposition=version.content_disposition,
            cache_control=version.cache_control,
            expires=version.expires,
            user=dict(version.user_metadata),
            content_language=version.content_language,
        ),
        checksums=dict(version.checksums),
        checksum_type=version.checksum_type,
        part_sizes=version.part_sizes,
        null_version=version.null_version,
        is_latest=version.is_latest,
        delete_marker=version.delete_marker,
    )
