"""Removing a tenant: every version, delete marker, upload and bucket it owns, except
what Object Lock protects.

What an operator runs when a customer leaves (``domicile tenant remove``), before taking
its ``[tenants.<name>]`` table out of the configuration (which alone deletes nothing: the
buckets stay, unreachable through the gateway). Each version is removed by id through the
same path as a client's DELETE ?versionId, so the catalog's Object Lock guard refuses a
version under retention or legal hold (audited, as every refusal); such a version stays,
with its copies, and so does its bucket. The report says what was kept and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domicile.catalog import Upload
from domicile.engine import multipart, versions
from domicile.engine.context import EngineContext
from domicile.engine.garbage import collect_garbage
from domicile.errors import BucketNotEmpty, ObjectLocked


@dataclass
class TenantRemoval:
    """What :func:`remove_tenant` did: buckets removed, versions (and delete markers)
    removed, uploads aborted, and the versions kept by Object Lock (``bucket/key@id``:
    reason) with the buckets kept for them."""

    tenant: str
    buckets_removed: list[str] = field(default_factory=list)
    versions_removed: int = 0
    uploads_aborted: int = 0
    kept: dict[str, str] = field(default_factory=dict)
    buckets_kept: list[str] = field(default_factory=list)


def remove_tenant(ctx: EngineContext, tenant: str) -> TenantRemoval:
    """Remove everything ``tenant`` owns that no lock protects (see the module docstring)."""
    report = TenantRemoval(tenant)
    for bucket in ctx.catalog.list_buckets(tenant):
        report.uploads_aborted += _abort_uploads(ctx, bucket.name)
        locked = _remove_versions(ctx, bucket.name, report)
        if locked:
            report.buckets_kept.append(bucket.name)
            continue
        try:
            ctx.catalog.delete_bucket(bucket.name)
        except BucketNotEmpty:  # written to meanwhile: kept, never forced
            report.buckets_kept.append(bucket.name)
            continue
        ctx.record("bucket_delete", bucket=bucket.name, detail={"uploads_aborted": 0})
        report.buckets_removed.append(bucket.name)
    collect_garbage(ctx)
    return report


def _abort_uploads(ctx: EngineContext, bucket: str) -> int:
    aborted = 0
    while True:
        page: list[Upload] = ctx.catalog.list_uploads(bucket, limit=1000)
        for upload in page:
            multipart.abort_upload(ctx, upload, "tenant removed")
            aborted += 1
        if len(page) < 1000:
            return aborted


def _remove_versions(ctx: EngineContext, bucket: str, report: TenantRemoval) -> bool:
    """Remove every version of ``bucket`` a lock allows; whether one was kept."""
    locked = False
    for info in versions.every_version(ctx, bucket):
        try:
            versions.remove(ctx, bucket, info.key, info.s3_version_id)
        except ObjectLocked as exc:  # audited by remove
            report.kept[f"{bucket}/{info.key}@{info.s3_version_id}"] = exc.message
            locked = True
            continue
        report.versions_removed += 1
    return locked
