"""Crypto-shredding a bucket: destroy its data identity everywhere domicile keeps it.

A bucket's blobs are wrapped to its own data identity (``engine/bucketkeys.py``), so once
every copy of that identity is gone (the catalog rows, the ``bkey-`` copies on the sites,
the memory cache) no remaining key, the root identities included, opens any of them: a
copy a site will not or cannot delete (a seized disk, a backup, a site down) is then
ciphertext for good. A holder of one of the policy's *extra* recipients still reads the
copies it could read before: :class:`ShredPlan` names them before the confirmation.

Order, so an interruption never leaves a bucket half readable: every key copy on the sites
first (a site holding one that cannot be reached stops the shred before anything is made
unreadable: run it again), then the catalog rows and the cache, then the data blobs
(deleted where the sites answer; the others stay queued as garbage, and are listed), then
the signed receipt: a ``bucket_shred`` audit record followed by a signed checkpoint.

Refused while Object Lock retention or a legal hold is in force on any version of the
bucket: a COMPLIANCE retention cannot be ended early by anyone, so such a bucket cannot be
shredded before its last retention date.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from domicile.audit.checkpoint import Checkpoint
from domicile.catalog import version_blobs
from domicile.engine.bucketkeys import key_blob_id, key_blob_prefix
from domicile.engine.context import EngineContext
from domicile.engine.garbage import collect_garbage
from domicile.errors import (
    BlobNotFound,
    ObjectLocked,
    ObjectNotFound,
    SiteError,
    SiteUnavailable,
)


@dataclass(frozen=True)
class ShredPlan:
    """What a shred of ``bucket`` would make unreadable, and where copies rest."""

    bucket: str
    versions: int
    #: site id -> blobs of the bucket the catalog places there.
    blobs: dict[str, int]
    #: versions of the bucket's identity, and the sites holding a copy of one.
    key_versions: int
    key_sites: tuple[str, ...]
    #: the policy's extra recipients: their holders keep reading what they could.
    extra_recipients: tuple[str, ...]


@dataclass
class ShredReceipt:
    """What was done: the signed record and checkpoint, and what could not be deleted."""

    bucket: str
    key_versions: int
    key_copies: int
    blobs_deleted: int
    #: ``site/blob id`` of every blob that could not be deleted: now unreadable ciphertext.
    unreadable: list[str] = field(default_factory=list)
    record_seq: int = 0
    record_hash: str = ""
    checkpoint: Checkpoint | None = None


def plan_shred(ctx: EngineContext, bucket: str) -> ShredPlan:
    """The confirmation's facts; ObjectLocked if a lock forbids the shred."""
    found = ctx.catalog.get_bucket(bucket)  # BucketNotFound
    refuse_locked(ctx, bucket)
    blobs: dict[str, int] = {}
    versions = 0
    for version in ctx.catalog.iter_versions(bucket):
        versions += 1
        count = len(version_blobs(version, ctx.catalog.segments(version.version_id)))
        for copy in ctx.catalog.placements(version.version_id):
            blobs[copy.site_id] = blobs.get(copy.site_id, 0) + count
    keys = ctx.catalog.bucket_keys(bucket)
    policy = ctx.world.policies.get(found.policy)
    return ShredPlan(
        bucket,
        versions,
        dict(sorted(blobs.items())),
        len(keys),
        tuple(sorted({s for k in keys for s in k.sites})),
        tuple(policy.recipients) if policy is not None else (),
    )


def refuse_locked(ctx: EngineContext, bucket: str) -> None:
    """ObjectLocked when retention or a legal hold is in force on a version of ``bucket``."""
    now = time.time()
    for lock in ctx.catalog.locked_versions(now):
        try:
            version = ctx.catalog.get_version(lock.version_id)
        except ObjectNotFound:  # a lock left by a version gone meanwhile
            continue
        if version.bucket != bucket:
            continue
        compliance = lock.mode == "COMPLIANCE" and lock.retained(now)
        raise ObjectLocked(
            f"bucket {bucket!r} cannot be shredded: version {version.version_id} of "
            f"{version.key!r} is under "
            + ("a legal hold" if lock.legal_hold and not compliance else f"{lock.mode} retention"),
            hint=(
                "a COMPLIANCE retention cannot be ended early by anyone: the bucket can be "
                "shredded only after its last retention date"
                if compliance
                else "end the legal hold or the GOVERNANCE retention first (docs/object-lock.md)"
            ),
            bucket=bucket,
            version=version.version_id,
        )


def shred_bucket(ctx: EngineContext, bucket: str) -> ShredReceipt:
    """Destroy ``bucket``'s identity everywhere, delete what can be deleted, and sign a
    receipt (see the module). SiteUnavailable, with nothing made unreadable, when a site
    holding a key copy cannot be reached; ObjectLocked when a lock is in force."""
    plan = plan_shred(ctx, bucket)
    keys = ctx.catalog.bucket_keys(bucket)
    copies = _destroy_key_copies(
        ctx, bucket, {(s, key_blob_id(bucket, k.version)) for k in keys for s in k.sites}
    )
    ctx.catalog.forget_bucket_keys(bucket)
    if ctx.bucket_keys is not None:
        ctx.bucket_keys.forget(bucket)
    origins = [v.version_id for v in ctx.catalog.iter_versions(bucket)]
    for version in list(ctx.catalog.iter_versions(bucket)):
        ctx.catalog.delete_version(bucket, version.key, version.version_id)
    origins += ctx.catalog.delete_bucket(bucket)  # uploads in progress aborted
    queued = len(ctx.catalog.garbage(10**9, origins=origins))
    deleted = collect_garbage(ctx, 10**9, origins=origins)
    left = ctx.catalog.garbage(10**9, origins=origins)
    receipt = ShredReceipt(
        bucket,
        plan.key_versions,
        copies,
        deleted,
        sorted(f"{item.site_id}/{item.blob_id}" for item in left),
    )
    assert queued == deleted + len(left)
    sites = sorted({item.site_id for item in left})
    detail: dict[str, str | int | bool | None] = {
        "key_versions": plan.key_versions,
        "key_copies_destroyed": copies,
        "versions": plan.versions,
        "blobs_deleted": deleted,
        "blobs_unreadable": len(left),
        "unreadable": " ".join(receipt.unreadable),
        "extra_recipients": " ".join(plan.extra_recipients),
    }
    if ctx.audit is not None:
        record = ctx.audit.record("bucket_shred", bucket=bucket, sites=sites, detail=detail)
        receipt.record_seq, receipt.record_hash = record.seq, record.hash
        receipt.checkpoint = ctx.audit.checkpoint() or ctx.audit.seal()
    return receipt


def _destroy_key_copies(ctx: EngineContext, bucket: str, recorded: set[tuple[str, str]]) -> int:
    """Delete every copy of the bucket's identity on the sites (those the catalog recorded,
    and any other found under its prefix); SiteUnavailable, before anything is made
    unreadable, when a recorded copy's site cannot be reached."""
    down = sorted({s for s, _ in recorded if s not in ctx.sites})
    wanted = set(recorded)
    for site_id, site in sorted(ctx.sites.items()):
        try:
            wanted |= {(site_id, i.blob_id) for i in site.list(key_blob_prefix(bucket))}
        except SiteError:
            if any(s == site_id for s, _ in recorded):
                down.append(site_id)
    if down:
        raise _key_copy_left(bucket, sorted(set(down)))
    destroyed = 0
    failed: list[str] = []
    for site_id, blob_id in sorted(wanted):
        try:
            ctx.sites[site_id].delete(blob_id)
            destroyed += 1
        except BlobNotFound:
            continue
        except SiteError:
            failed.append(site_id)
    if failed:
        raise _key_copy_left(bucket, sorted(set(failed)))
    return destroyed


def _key_copy_left(bucket: str, sites: list[str]) -> SiteUnavailable:
    return SiteUnavailable(
        f"bucket {bucket!r} was not shredded: the copy of its data identity on "
        f"{', '.join(sites)} could not be destroyed; nothing was made unreadable (the "
        "catalog still holds the identity)",
        hint="run 'domicile shred' again once the site answers",
        bucket=bucket,
        sites=sites,
    )
