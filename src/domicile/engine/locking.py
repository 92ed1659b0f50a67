"""Object Lock in the engine: what a write is locked with, changing a lock, refusals.

The rules themselves are the catalog's (``catalog/objectlocks.py``): it refuses, in the
transaction that would do it, to delete a locked version, to drop one of its copies below
the count its lock keeps, or to shorten a running retention. Here the engine

- resolves the lock a new version is written with (:func:`lock_for_write`: the one asked
  for, else the bucket's default retention) and records it before the version is
  committed (:func:`record_new_lock`);
- changes a version's retention or legal hold (:func:`change_lock`): the catalog and an
  audit record in one transaction, and the manifest rewritten on every site holding the
  version, so ``rebuild-catalog`` restores the lock as last set. A lock made stronger is
  written to the manifests first, one made weaker after the catalog: a crash in between
  leaves a rebuild with the stronger of the two, never less than was promised;
- records each refused deletion in the audit log (:func:`refused`).
"""

from __future__ import annotations

import time
from dataclasses import replace

from domicile.audit import Scalar
from domicile.catalog import Bucket, BucketLock, VersionLock
from domicile.crypto import encrypt_bytes
from domicile.engine.context import EngineContext
from domicile.engine.lockmirror import mirror_version
from domicile.engine.manifest import Manifest, manifest_blob_id, read_manifest
from domicile.engine.records import ObjectMeta
from domicile.engine.segments import put_blobs
from domicile.errors import (
    CopiesUnavailable,
    CryptoError,
    InvalidRetention,
    LockNotEnabled,
    ObjectLocked,
    SiteError,
)

DAY = 86_400.0
#: S3 counts a year of default retention as 365 days.
YEAR = 365 * DAY


def require_lock(ctx: EngineContext, bucket: str) -> BucketLock:
    """The bucket's Object Lock; LockNotEnabled if it was created without."""
    lock = ctx.catalog.bucket_lock(bucket)
    if lock is None:
        raise LockNotEnabled(
            f"bucket {bucket!r} was created without Object Lock",
            hint="Object Lock is enabled when a bucket is created ('domicile mb --object-lock',"
            " or x-amz-bucket-object-lock-enabled: true); copy the objects into such a bucket",
            bucket=bucket,
        )
    return lock


def lock_for_write(
    ctx: EngineContext, bucket: Bucket, meta: ObjectMeta, *, now: float | None = None
) -> tuple[ObjectMeta, BucketLock | None]:
    """``meta`` with the lock a new version of ``bucket`` gets (the one asked for, else
    the bucket's default retention), and the bucket's Object Lock (None: it has none).
    LockNotEnabled when a lock is asked for in a bucket without; InvalidRetention for a
    mode without a date (or the reverse) or a date not in the future."""
    now = time.time() if now is None else now
    config = ctx.catalog.bucket_lock(bucket.name) if bucket.object_lock else None
    if config is None:
        if meta.locked:
            require_lock(ctx, bucket.name)
        return meta, None
    if (meta.lock_mode is None) != (meta.lock_until is None):
        raise InvalidRetention(
            "a retention needs both a mode and a retain-until date",
            hint="send x-amz-object-lock-mode with x-amz-object-lock-retain-until-date",
            bucket=bucket.name,
        )
    if meta.lock_until is not None and meta.lock_until <= now:
        raise InvalidRetention(
            "the retain-until date must be in the future",
            hint="give a date after now",
            bucket=bucket.name,
        )
    if meta.lock_mode is None and config.mode is not None:
        period = (config.days or 0) * DAY + (config.years or 0) * YEAR
        meta = replace(meta, lock_mode=config.mode, lock_until=now + period)
    return meta, config


def record_new_lock(ctx: EngineContext, version_id: str, meta: ObjectMeta, copies: int) -> None:
    """Record a new version's lock (from :func:`lock_for_write`) before its commit."""
    if meta.locked:
        ctx.catalog.lock_new_version(
            VersionLock(version_id, meta.lock_mode, meta.lock_until, meta.legal_hold, copies)
        )


def change_lock(
    ctx: EngineContext,
    bucket: str,
    key: str,
    version_id: str,
    *,
    retention: tuple[str | None, float | None] | None = None,
    legal_hold: bool | None = None,
    bypass_governance: bool = False,
) -> VersionLock:
    """Set a version's retention (``(mode, until)``; ``(None, None)`` clears it) and/or
    legal hold; the lock as it now is. ObjectLocked when it would shorten a running
    retention (see the catalog); InvalidRetention for a date in the past."""
    require_lock(ctx, bucket)
    old = ctx.catalog.version_lock(version_id) or VersionLock(version_id)
    mode, until = (old.mode, old.retain_until) if retention is None else retention
    if retention is not None and until is not None and until <= time.time():
        raise InvalidRetention(
            "the retain-until date must be in the future",
            hint="give a date after now",
            bucket=bucket,
            key=key,
        )
    new = VersionLock(
        version_id, mode, until, old.legal_hold if legal_hold is None else legal_hold, old.copies
    )
    stronger = _stronger(new, old)
    if stronger:
        _rewrite_manifests(ctx, version_id, new)
    detail: dict[str, Scalar] = {
        "mode": new.mode or "",
        "retain_until": _stamp(new.retain_until),
        "legal_hold": new.legal_hold,
        "bypass_governance": bypass_governance,
    }
    action = "legal_hold" if retention is None else "retention"
    build, made = (
        (None, [])
        if ctx.audit is None
        else ctx.audit.builder(action, bucket=bucket, key=key, version=version_id, detail=detail)
    )
    try:
        ctx.catalog.set_version_lock(new, bypass_governance=bypass_governance, audit=build)
    except ObjectLocked as exc:
        refused(ctx, exc, action, bucket=bucket, key=key)
        raise
    if ctx.audit is not None:
        ctx.audit.appended(made)
    if not stronger:
        _rewrite_manifests(ctx, version_id, new)
    now = ctx.catalog.version_lock(version_id) or new
    mirror_version(ctx, version_id, now)
    return now


def refused(
    ctx: EngineContext,
    exc: ObjectLocked,
    action: str,
    *,
    bucket: str | None = None,
    key: str | None = None,
) -> None:
    """Record a refusal by Object Lock in the audit log (result ``refused``); ``bucket``
    and ``key`` when the error does not name them."""
    c = exc.context
    sites = c.get("sites") or ()
    ctx.record(
        action,
        bucket=c.get("bucket", bucket),
        key=c.get("key", key),
        version=c.get("version"),
        sites=list(sites) if isinstance(sites, list | tuple) else [],
        result="refused",
        detail={
            "reason": exc.message,
            "mode": c.get("mode") or "",
            "legal_hold": bool(c.get("legal_hold")),
        },
    )


def _stronger(new: VersionLock, old: VersionLock) -> bool:
    """Whether ``new`` protects at least as long as ``old`` (written to manifests first)."""
    if old.legal_hold and not new.legal_hold:
        return False
    if old.retain_until is not None and (new.retain_until or 0) < old.retain_until:
        return False
    return not (old.mode == "COMPLIANCE" and new.mode != "COMPLIANCE")


def _stamp(when: float | None) -> str:
    if when is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def _rewrite_manifests(ctx: EngineContext, version_id: str, lock: VersionLock) -> None:
    """Write the version's manifest again, with ``lock``, on every site holding it."""
    copies = [p for p in ctx.catalog.placements(version_id) if p.state == "ok"]
    blob_id = manifest_blob_id(version_id)
    manifest: Manifest | None = None
    faults: list[str] = []
    for copy in copies:
        try:
            manifest = read_manifest(
                b"".join(ctx.site(copy.site_id).get(blob_id)),
                ctx.identities_for(ctx.catalog.get_version(version_id).bucket),
            )
            break
        except (SiteError, CryptoError) as exc:
            faults.append(f"{copy.site_id}: {exc}")
    if manifest is None:
        raise CopiesUnavailable(
            f"no manifest of version {version_id} could be read to record its lock",
            hint="run 'domicile repair', then set the lock again",
            version=version_id,
            faults=faults,
        )
    if manifest.inline:
        return  # written before the bucket had Object Lock: its lock is in the catalog only
    meta = replace(
        manifest.meta,
        lock_mode=lock.mode,
        lock_until=lock.retain_until,
        legal_hold=lock.legal_hold,
    )
    policy = ctx.policy(manifest.policy)
    blob = encrypt_bytes(
        replace(manifest, meta=meta).to_json(), ctx.recipients_for(policy, manifest.bucket)
    )
    put_blobs(ctx, [ctx.site(c.site_id) for c in copies], [(blob_id, blob)])
