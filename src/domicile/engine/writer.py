"""PUT: place, encrypt once, fan the ciphertext out, write manifests, commit.

The flow (docs/design.md, "Flows"): the placement decision chooses the sites (or refuses, and
nothing is written anywhere); the body is read once, in pieces of at most 1 MiB, cut into
segments of ``segment_size`` plaintext bytes; each segment is one age blob, encrypted once
and streamed to every chosen site concurrently (:class:`~domicile.engine.fanout.FanOut`);
then the manifest goes to every site, and only then is the version committed in one catalog
transaction. A small body (up to ``SMALL_OBJECT``) is encrypted in memory together with its
manifest, in one *inline* blob (``engine/manifest.py``): one write per site. Any failure
before the commit removes what was written and raises; a crash leaves only unreferenced
blobs, which the orphan sweep removes. When the commit replaced a version, that version's
blobs (queued as garbage in the same transaction) are removed.

A conditional PUT (``expect``: S3's ``If-None-Match: *`` or ``If-Match``) is checked twice:
once before anything is written (a PUT bound to fail costs no upload), and for good in the
transaction that commits the version (``Catalog.commit_version``), which is what makes two
racing conditional PUTs end with exactly one winner. The loser's blobs are removed from
every site before its refusal is raised, like any other failure before the commit.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from domicile.audit import Record, Scalar
from domicile.catalog import Bucket, Expect, Version
from domicile.catalog.base import AuditBuilder
from domicile.crypto import encrypt_bytes
from domicile.engine.bghash import BackgroundHash
from domicile.engine.context import EngineContext
from domicile.engine.garbage import collect_garbage
from domicile.engine.health import PLACEMENT_WAIT, probe_sites
from domicile.engine.locking import lock_for_write, record_new_lock
from domicile.engine.lockmirror import mirror_version
from domicile.engine.manifest import (
    Manifest,
    SegmentEntry,
    catalog_records,
    delete_marker,
    manifest_blob_id,
    seal_inline,
)
from domicile.engine.names import check_key
from domicile.engine.records import FULL_OBJECT, ObjectInfo, ObjectMeta
from domicile.engine.segments import (
    Body,
    iter_body,
    put_blobs,
    record_health,
    remove_blobs,
    stream_segments,
)
from domicile.errors import ObjectNotFound, SiteFull, SiteUnavailable
from domicile.policy import Policy, decide

__all__ = [
    "SMALL_OBJECT",
    "Body",
    "Checksums",
    "check_current",
    "put_delete_marker",
    "put_object",
    "version_detail",
]

#: Named checksums (name -> encoded value) known once a body has been read to its end.
Checksums = Callable[[], Mapping[str, str]]

#: Bodies up to this size are encrypted in memory with their manifest, in one blob (inline).
SMALL_OBJECT = 1024 * 1024


def put_object(
    ctx: EngineContext,
    bucket_name: str,
    key: str,
    body: Body,
    meta: ObjectMeta,
    *,
    action: str = "put",
    detail: Mapping[str, Scalar] | None = None,
    checksums: Checksums | None = None,
    checksum_type: str = FULL_OBJECT,
    expect: Expect | None = None,
) -> ObjectInfo:
    """Store ``body`` under ``bucket_name``/``key``; see the module docstring for the flow.

    ``expect`` makes the PUT conditional (see the module docstring): PreconditionFailed,
    or ObjectNotFound for an ETag expected of a key that has no object; nothing remains
    written then.

    ``checksums``, if given, is called once the body has been read to its end (the caller
    may know the values only then) and its named checksums are stored with the version,
    as ``checksum_type``. The audit record (``action``, with ``detail`` beside the size
    and ETag) is appended in the transaction that commits the version."""
    check_key(key, bucket=bucket_name)
    bucket = ctx.catalog.get_bucket(bucket_name)
    policy = ctx.policy(bucket.policy)
    meta, bucket_lock = lock_for_write(ctx, bucket, meta)
    if expect is not None:
        check_current(ctx, bucket_name, key, expect)
    version_id = secrets.token_hex(16)
    probe_sites(ctx.prober, wait=PLACEMENT_WAIT)
    decision = decide(policy, ctx.world, ctx.health.snapshot(ctx.world.sites), spread=version_id)
    decision.raise_if_refused()
    site_ids = list(decision.chosen)
    sites = [ctx.site(s) for s in site_ids]
    recipients = ctx.recipients_for(policy, bucket_name)

    md5: Any = hashlib.md5(usedforsecurity=False)
    entries: list[SegmentEntry] = []
    pieces = iter_body(body)
    # a version of a bucket with Object Lock has a manifest of its own: its lock is
    # rewritten there when it changes
    head, small = _take(pieces, SMALL_OBJECT)
    small = small and bucket_lock is None
    try:
        if small:
            data = b"".join(head)
            md5.update(data)
            sums = _named(checksums, checksum_type)
            manifest = _manifest(bucket, key, version_id, meta, md5=md5, size=len(data), sums=sums)
            manifest, blob = seal_inline(manifest, data, recipients)
            _put_small(ctx, policy, version_id, site_ids, blob)  # may change site_ids
            sites = [ctx.site(s) for s in site_ids]
        else:
            md5 = BackgroundHash("md5")  # the ETag's MD5 runs beside the encryption
            stream_segments(
                ctx, sites, recipients, itertools.chain(head, pieces), md5=md5, entries=entries
            )
            sums = _named(checksums, checksum_type)
            size = sum(e.plaintext_size for e in entries)
            manifest = _manifest(
                bucket, key, version_id, meta, md5=md5, size=size, sums=sums, segments=entries
            )
            manifest = replace(manifest, bucket_lock=bucket_lock)
            blob = encrypt_bytes(manifest.to_json(), recipients)
            put_blobs(ctx, sites, [(manifest_blob_id(version_id), blob)])
        record_new_lock(ctx, version_id, meta, len(site_ids))
        made, replaced = _commit(
            ctx, manifest, site_ids, policy.name, action=action, detail=detail, expect=expect
        )
    except BaseException as exc:
        if isinstance(md5, BackgroundHash):
            md5.close()
        remove_blobs(
            sites, [*(e.blob_id for e in entries), manifest_blob_id(version_id)], ctx.health.healthy
        )
        record_health(ctx, site_ids, exc)
        raise
    record_health(ctx, site_ids, None)
    _committed(ctx, made, replaced, version_id if meta.locked else None)
    return ObjectInfo(
        bucket=bucket_name,
        key=key,
        version_id=version_id,
        size=manifest.size,
        etag=manifest.etag,
        created_at=manifest.created_at,
        meta=meta,
        checksums=manifest.checksums,
        checksum_type=manifest.checksum_type,
        null_version=manifest.null_version,
    )


def version_detail(manifest: Manifest) -> dict[str, Scalar]:
    """What a ``put`` (``copy``, ``delete_marker``) audit record says of the version: size
    and ETag, and the bucket's versioning status when set (the history replay reads it:
    ``Enabled`` keeps the key's previous version, ``Suspended`` ends its null version)."""
    detail: dict[str, Scalar] = {"size": manifest.size, "etag": manifest.etag}
    if manifest.versioning is not None:
        detail["versioning"] = manifest.versioning
    return detail


def put_delete_marker(ctx: EngineContext, bucket: Bucket, key: str) -> Manifest:
    """Write a delete marker for ``key`` in ``bucket`` (whose versioning is set): its
    manifest (the marker's durable record, see :mod:`.manifest`) goes to sites the
    bucket's policy chooses, as a small object's blob would (PlacementRefused, and nothing
    written, when none can take it), then the marker is committed as the key's current
    version with its ``delete_marker`` audit record. Returns the marker's manifest."""
    policy = ctx.policy(bucket.policy)
    version_id = secrets.token_hex(16)
    probe_sites(ctx.prober, wait=PLACEMENT_WAIT)
    decision = decide(policy, ctx.world, ctx.health.snapshot(ctx.world.sites), spread=version_id)
    decision.raise_if_refused()
    site_ids = list(decision.chosen)
    manifest = delete_marker(bucket, key, version_id, time.time_ns() // 1000 / 1_000_000)
    blob = encrypt_bytes(manifest.to_json(), ctx.recipients_for(policy, bucket.name))
    try:
        _put_small(ctx, policy, version_id, site_ids, blob)  # may change site_ids
        made, replaced = _commit(ctx, manifest, site_ids, policy.name, action="delete_marker")
    except BaseException as exc:
        sites = [ctx.site(s) for s in site_ids]
        remove_blobs(sites, [manifest_blob_id(version_id)], ctx.health.healthy)
        record_health(ctx, site_ids, exc)
        raise
    record_health(ctx, site_ids, None)
    _committed(ctx, made, replaced, None)
    return manifest


def _committed(
    ctx: EngineContext, made: list[Record], replaced: str | None, locked: str | None
) -> None:
    """After a commit: its audit record appended, the version it removed collected, and
    the new version's blobs locked at mirror sites (``locked``: its id, if it is locked)."""
    if ctx.audit is not None and made:
        ctx.audit.appended(made)
    if replaced is not None:
        collect_garbage(ctx, origins=[replaced])
    if locked is not None:
        mirror_version(ctx, locked)


def check_current(ctx: EngineContext, bucket: str, key: str, expect: Expect) -> None:
    """Refuse early a conditional write whose condition does not hold now (the commit
    checks it again, atomically)."""
    try:
        current: Version | None = ctx.catalog.current_version(bucket, key)
    except ObjectNotFound:
        current = None
    expect.check(current, bucket, key)


def _put_small(
    ctx: EngineContext,
    policy: Policy,
    version_id: str,
    site_ids: list[str],
    blob: bytes,
) -> None:
    """Write a small object's inline blob to ``site_ids``, which is updated in place to
    the sites that hold it (or, if this raises, to those of the last attempt).

    A site can go down (or fill up) after the last probe said it was fine. The body is in
    memory, so such a failure need not fail the PUT: what was written is removed, the site
    is marked unhealthy, the placement is decided again (the same :func:`decide`, so only
    compliant sites; a policy that cannot be met any more is refused, with the reason per
    site) and the blob is written once more. A second failure is raised, after what it
    wrote was removed."""
    blob_id = manifest_blob_id(version_id)
    for attempt in (1, 2):
        sites = [ctx.site(s) for s in site_ids]
        try:
            put_blobs(ctx, sites, [(blob_id, blob)])
        except (SiteUnavailable, SiteFull) as exc:
            remove_blobs(sites, [blob_id], ctx.health.healthy)
            if attempt == 2:
                raise  # the caller records the failing site's health
            record_health(ctx, site_ids, exc)
            health = ctx.health.snapshot(ctx.world.sites)
            decision = decide(policy, ctx.world, health, spread=version_id)
            decision.raise_if_refused()
            site_ids[:] = decision.chosen
        else:
            return


def _named(checksums: Checksums | None, kind: str) -> tuple[dict[str, str], str | None]:
    """The named checksums to store, and their type (None when there are none)."""
    values = dict(checksums()) if checksums is not None else {}
    return values, kind if values else None


def _take(pieces: Iterator[memoryview], limit: int) -> tuple[list[memoryview], bool]:
    """Up to ``limit`` bytes of the body; True if that was all of it (a small object)."""
    head: list[memoryview] = []
    total = 0
    for piece in pieces:
        head.append(piece)
        total += len(piece)
        if total > limit:
            return head, False
    return head, True


def _manifest(
    bucket: Bucket,
    key: str,
    version_id: str,
    meta: ObjectMeta,
    *,
    md5: Any,
    size: int,
    sums: tuple[dict[str, str], str | None],
    segments: Sequence[SegmentEntry] = (),
) -> Manifest:
    """The manifest of the version (an inline one gets its blob as segment when sealed)."""
    return Manifest(
        bucket=bucket.name,
        policy=bucket.policy,
        tenant=bucket.tenant,
        key=key,
        version_id=version_id,
        created_at=time.time_ns() // 1000 / 1_000_000,  # the catalog keeps microseconds
        size=size,
        etag=md5.hexdigest(),
        meta=meta,
        segments=tuple(segments),
        checksums=sums[0],
        checksum_type=sums[1],
        versioning=bucket.versioning,
    )


def _commit(
    ctx: EngineContext,
    manifest: Manifest,
    site_ids: Sequence[str],
    policy: str,
    *,
    action: str,
    detail: Mapping[str, Scalar] | None = None,
    expect: Expect | None = None,
) -> tuple[list[Record], str | None]:
    """Commit the version and its audit record in one catalog transaction; the record,
    and the id of the version the commit replaced, if any."""
    build: AuditBuilder | None = None
    made: list[Record] = []
    if ctx.audit is not None:
        build, made = ctx.audit.builder(
            action,
            bucket=manifest.bucket,
            key=manifest.key,
            version=manifest.version_id,
            sites=site_ids,
            policy=policy,
            detail={**(detail or {}), **version_detail(manifest)},
        )
    records = catalog_records(manifest, site_ids, manifest.created_at)
    previous = ctx.catalog.commit_version(*records, audit=build, expect=expect)
    return made, None if previous is None else previous.version_id
