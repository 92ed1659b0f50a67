"""Multipart uploads: placed once, parts streamed straight to the sites, assembled by reference.

``create_upload`` takes the placement decision a PUT would (``decide``, after a health
probe) and records the chosen sites and policy with the upload; a refusal raises before
anything is recorded. Every part is then cut into age segments streamed to exactly those
sites (``engine/segments.py``), nothing staged anywhere else, and recorded with its
segments; a part number uploaded again replaces the old part, whose blobs are queued as
garbage in the same transaction. Before each part and before completing, each chosen site
must still be active and compliant with the policy (``check_copy``): if one is not, the
call fails closed with :class:`~domicile.errors.PlacementRefused` and writes nothing.

Completing checks the listed parts (ascending, present, ETags equal, all but the last at
least :data:`MIN_PART_SIZE`), writes the manifest (the listed parts' segments in order) to
every site, then commits the version, forgets the upload and queues unlisted parts' blobs
in one catalog transaction together with the ``put`` audit record. No blob is re-read.
The version keeps each part's size (``part_sizes``), so a part can be read back alone.

A completion may be conditional (``expect``: ``If-None-Match: *`` / ``If-Match``), checked
before the manifest is written and again, atomically, in the committing transaction; a
refused completion removes its manifest and leaves the upload in progress (the client may
retry without the condition, or abort it). The catalog remembers each completed upload
(``completed_uploads``) with the parts it listed: a completion repeated with the same
parts (an SDK retrying after a lost response, or two racing completions) answers what the
first one made instead of NoSuchUpload; one with other parts is NoSuchUpload, as on S3.
The sweep forgets completed uploads after the same ``older_than`` as abandoned ones.

Checksums: an upload may name a checksum every part must carry (``checksum``); a part's
named checksums come from the caller once its body has been read, are stored with it and
listed with it. A part without the upload's checksum is refused with
:class:`~domicile.errors.MissingChecksum` (before its body is read when the caller gives
none at all). Completing asks the caller's ``checksums`` function, given the upload and
the chosen parts, for the object's checksums, stored as :data:`COMPOSITE`: the engine
does not compute checksums itself.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict

from domicile.audit import Record, Scalar
from domicile.catalog import Expect, Part, PartSegment, Upload
from domicile.catalog.base import AuditBuilder
from domicile.crypto import encrypt_bytes
from domicile.engine.bghash import BackgroundHash
from domicile.engine.context import EngineContext
from domicile.engine.garbage import collect_garbage
from domicile.engine.health import PLACEMENT_WAIT, probe_sites
from domicile.engine.locking import lock_for_write, record_new_lock
from domicile.engine.lockmirror import mirror_version
from domicile.engine.manifest import Manifest, SegmentEntry, catalog_records, manifest_blob_id
from domicile.engine.names import check_key
from domicile.engine.records import COMPOSITE, ObjectInfo, ObjectMeta, PartInfo, UploadInfo
from domicile.engine.segments import (
    Body,
    iter_body,
    put_blobs,
    record_health,
    remove_blobs,
    stream_segments,
)
from domicile.engine.writer import check_current, version_detail
from domicile.errors import (
    EntityTooSmall,
    InvalidPart,
    InvalidPartNumber,
    MissingChecksum,
    ObjectNotFound,
    PlacementRefused,
    UploadNotFound,
)
from domicile.policy import Policy, check_copy, decide
from domicile.sites import Site

#: The smallest size of a part other than the last (S3's rule).
MIN_PART_SIZE = 5 * 1024 * 1024
#: Part numbers run from 1 to this.
MAX_PART_NUMBER = 10_000

#: Named checksums known once a part's body has been read to its end.
Checksums = Callable[[], Mapping[str, str]]
#: The completed object's checksums, from the upload and the parts chosen, in order.
CompositeChecksums = Callable[[UploadInfo, Sequence[PartInfo]], Mapping[str, str]]


def create_upload(
    ctx: EngineContext, bucket_name: str, key: str, meta: ObjectMeta, checksum: str | None = None
) -> UploadInfo:
    """Begin an upload into ``bucket_name``/``key``, placed now under the bucket's policy;
    every part must carry the named ``checksum``, if one is given."""
    check_key(key, bucket=bucket_name)
    bucket = ctx.catalog.get_bucket(bucket_name)
    policy = ctx.policy(bucket.policy)
    lock_for_write(ctx, bucket, meta)  # checks the lock asked for; applied on completion
    initiated = _now_us()
    # The id starts with the time, so ids sort in initiation order (ListMultipartUploads).
    upload_id = f"{initiated:014x}{secrets.token_hex(9)}"
    probe_sites(ctx.prober, wait=PLACEMENT_WAIT)
    decision = decide(policy, ctx.world, ctx.health.snapshot(ctx.world.sites), spread=upload_id)
    decision.raise_if_refused()
    upload = Upload(
        upload_id=upload_id,
        bucket=bucket.name,
        key=key,
        tenant=bucket.tenant,
        policy=policy.name,
        sites=tuple(decision.chosen),
        meta=meta_to_json(meta),
        initiated=initiated / 1_000_000,
        checksum=checksum,
    )
    build, made = _audit(
        ctx, "multipart_create", upload, detail={"upload": upload_id, "tenant": bucket.tenant}
    )
    ctx.catalog.create_upload(upload, audit=build)
    _appended(ctx, made)
    return upload_info(upload)


def upload_part(
    ctx: EngineContext,
    bucket: str,
    key: str,
    upload_id: str,
    *,
    number: int,
    body: Body,
    checksums: Checksums | None = None,
) -> PartInfo:
    """Stream ``body`` as part ``number`` to the upload's sites and record it, with the
    named ``checksums()`` (asked once the body has ended)."""
    check_part_number(number)
    upload = find_upload(ctx, bucket, key, upload_id)
    if upload.checksum is not None and checksums is None:
        raise _missing(upload, number)
    policy, sites = writable_sites(ctx, upload)
    md5 = BackgroundHash("md5")
    entries: list[SegmentEntry] = []
    try:
        stream_segments(
            ctx,
            sites,
            ctx.recipients_for(policy, upload.bucket),
            iter_body(body),
            md5=md5,
            entries=entries,
        )
        named = dict(checksums()) if checksums is not None else {}
        if upload.checksum is not None and upload.checksum not in named:
            raise _missing(upload, number)
        part = Part(
            upload_id=upload_id,
            part_number=number,
            etag=md5.hexdigest(),
            size=sum(e.plaintext_size for e in entries),
            created_at=_now(),
            segments=tuple(_part_segment(i, e) for i, e in enumerate(entries)),
            checksums=named,
        )
        ctx.catalog.put_part(part)
    except BaseException as exc:
        md5.close()
        remove_blobs(sites, [e.blob_id for e in entries], ctx.health.healthy)
        record_health(ctx, upload.sites, exc)
        raise
    record_health(ctx, upload.sites, None)
    return part_info(part)


def complete_upload(
    ctx: EngineContext,
    bucket: str,
    key: str,
    upload_id: str,
    listed: Sequence[tuple[int, str]],
    *,
    checksums: CompositeChecksums | None = None,
    expect: Expect | None = None,
) -> ObjectInfo:
    """Assemble the listed ``(part number, ETag)`` parts into the object, with the named
    checksums ``checksums`` makes of the upload and the chosen parts; see the module."""
    try:
        return _complete(ctx, (bucket, key, upload_id), listed, checksums, expect)
    except UploadNotFound:
        done = ctx.catalog.completed_upload(upload_id)
        if done is None or (done.bucket, done.key) != (bucket, key):
            raise
        if done.parts != _normalised(listed):
            raise UploadNotFound(
                f"multipart upload {upload_id} was completed with other parts",
                hint="a completed upload cannot be completed again with other parts; "
                "start a new upload",
                bucket=bucket,
                key=key,
                upload=upload_id,
            ) from None
        return ObjectInfo(
            bucket=done.bucket,
            key=done.key,
            version_id=done.version_id,
            size=done.size,
            etag=done.etag,
            created_at=done.completed_at,
            meta=ObjectMeta(),
            checksums=done.checksums,
            checksum_type=done.checksum_type,
            null_version=_null_version(ctx, done.version_id, bucket),
        )


def _null_version(ctx: EngineContext, version_id: str, bucket: str) -> bool:
    """Whether the version a completion made has the S3 id ``null`` (if it was removed
    since, as the bucket's versioning says now)."""
    try:
        return ctx.catalog.get_version(version_id).null_version
    except ObjectNotFound:
        return ctx.catalog.get_bucket(bucket).versioning != "Enabled"


def _normalised(listed: Sequence[tuple[int, str]]) -> tuple[tuple[int, str], ...]:
    """The listed parts as the catalog remembers them: ETags bare and lowercase."""
    return tuple((int(n), etag.strip().strip('"').lower()) for n, etag in listed)


def _complete(
    ctx: EngineContext,
    which: tuple[str, str, str],
    listed: Sequence[tuple[int, str]],
    checksums: CompositeChecksums | None,
    expect: Expect | None,
) -> ObjectInfo:
    bucket, key, upload_id = which
    upload = find_upload(ctx, bucket, key, upload_id)
    parts = _chosen_parts(upload_id, listed, ctx.catalog.upload_parts(upload_id))
    policy, sites = writable_sites(ctx, upload)
    if expect is not None:
        check_current(ctx, bucket, key, expect)
    named = (
        dict(checksums(upload_info(upload), [part_info(p) for p in parts]))
        if checksums is not None
        else {}
    )
    entries = [_entry(s) for p in parts for s in p.segments]
    etag = hashlib.md5(b"".join(bytes.fromhex(p.etag) for p in parts), usedforsecurity=False)
    written = lock_for_write(
        ctx, ctx.catalog.get_bucket(upload.bucket), meta_from_json(upload.meta)
    )
    manifest = Manifest(
        bucket=upload.bucket,
        policy=upload.policy,
        tenant=upload.tenant,
        key=upload.key,
        version_id=secrets.token_hex(16),
        created_at=_now(),
        size=sum(p.size for p in parts),
        etag=f"{etag.hexdigest()}-{len(parts)}",
        meta=written[0],
        bucket_lock=written[1],
        segments=tuple(entries),
        checksums=named,
        checksum_type=COMPOSITE if named else None,
        part_sizes=tuple(p.size for p in parts),
        versioning=ctx.catalog.get_bucket(bucket).versioning,
    )
    blob = encrypt_bytes(manifest.to_json(), ctx.recipients_for(policy, bucket))
    build, made = _audit(
        ctx,
        "put",
        upload,
        version=manifest.version_id,
        detail={**version_detail(manifest), "parts": len(parts), "upload": upload_id},
    )
    try:
        put_blobs(ctx, sites, [(manifest_blob_id(manifest.version_id), blob)])
        record_new_lock(ctx, manifest.version_id, manifest.meta, len(upload.sites))
        records = catalog_records(manifest, upload.sites, manifest.created_at)
        previous = ctx.catalog.complete_upload(
            upload_id, *records, audit=build, expect=expect, listed=_normalised(listed)
        )
    except BaseException as exc:
        remove_blobs(sites, [manifest_blob_id(manifest.version_id)], ctx.health.healthy)
        record_health(ctx, upload.sites, exc)
        raise
    record_health(ctx, upload.sites, None)
    _appended(ctx, made)
    if manifest.meta.locked:
        mirror_version(ctx, manifest.version_id)
    # the parts not listed, and the version replaced
    collect_garbage(ctx, origins=[upload_id, *([previous.version_id] if previous else [])])
    return ObjectInfo(
        bucket=manifest.bucket,
        key=manifest.key,
        version_id=manifest.version_id,
        size=manifest.size,
        etag=manifest.etag,
        created_at=manifest.created_at,
        meta=manifest.meta,
        checksums=manifest.checksums,
        checksum_type=manifest.checksum_type,
        part_sizes=manifest.part_sizes,
        null_version=manifest.null_version,
    )


def abort_upload(ctx: EngineContext, upload: Upload, reason: str) -> None:
    """Forget ``upload`` and queue its parts' blobs; the audit record says ``reason``."""
    build, made = _audit(
        ctx, "multipart_abort", upload, detail={"upload": upload.upload_id, "reason": reason}
    )
    ctx.catalog.abort_upload(upload.upload_id, audit=build)
    _appended(ctx, made)


def sweep_uploads(ctx: EngineContext, *, older_than: float) -> int:
    """Abort every upload initiated more than ``older_than`` seconds ago, and forget the
    uploads completed that long ago; how many were aborted."""
    cutoff = _now() - older_than
    aborted = 0
    while batch := ctx.catalog.uploads_initiated_before(cutoff, limit=500):
        for upload in batch:
            try:
                abort_upload(ctx, upload, "expired")
            except UploadNotFound:
                continue  # completed or aborted meanwhile
            aborted += 1
    ctx.catalog.forget_completed_uploads(cutoff)
    return aborted


# --- checks -------------------------------------------------------------------------------


def check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise InvalidPartNumber(
            f"part number {part_number} is outside 1..{MAX_PART_NUMBER}",
            hint=f"number parts from 1 to {MAX_PART_NUMBER}",
            part=part_number,
        )


def find_upload(ctx: EngineContext, bucket: str, key: str, upload_id: str) -> Upload:
    """The upload in progress ``upload_id`` of ``bucket``/``key``; UploadNotFound if there
    is none, or if that id is another object's upload."""
    upload = ctx.catalog.get_upload(upload_id)
    if (upload.bucket, upload.key) != (bucket, key):
        raise UploadNotFound(
            f"no multipart upload {upload_id} of {bucket}/{key} is in progress",
            hint="use the bucket and key the upload was created for",
            bucket=bucket,
            key=key,
            upload=upload_id,
        )
    return upload


def _missing(upload: Upload, number: int) -> MissingChecksum:
    return MissingChecksum(
        f"part {number} of upload {upload.upload_id} has no {upload.checksum} checksum; "
        "the upload was created requiring one on every part",
        hint=f"send each part with its {upload.checksum} checksum",
        upload=upload.upload_id,
        part=number,
        checksum=upload.checksum,
    )


def writable_sites(ctx: EngineContext, upload: Upload) -> tuple[Policy, list[Site]]:
    """The upload's policy and sites, if every site is still active and compliant with
    it; else PlacementRefused (fail closed: nothing more goes to any of them)."""
    policy = ctx.policy(upload.policy)
    refused: dict[str, str] = {}
    for site_id in upload.sites:
        verdict = check_copy(policy, ctx.world, site_id)
        if not verdict.accepted:
            refused[site_id] = "; ".join(r.text for r in verdict.reasons) or "refused"
    if refused:
        why = ", ".join(f"{site}: {text}" for site, text in sorted(refused.items()))
        raise PlacementRefused(
            f"upload {upload.upload_id} was placed on sites that policy {policy.name!r} "
            f"no longer allows ({why})",
            hint="abort the upload and start it again: a new upload is placed under the "
            "policy and the sites as they are now",
            policy=policy.name,
            upload=upload.upload_id,
            sites=refused,
        )
    return policy, [ctx.site(s) for s in upload.sites]


def _chosen_parts(
    upload_id: str, listed: Sequence[tuple[int, str]], uploaded: Sequence[Part]
) -> list[Part]:
    """The uploaded parts the client listed, checked: InvalidPart, EntityTooSmall."""
    if not listed:
        raise InvalidPart(
            f"completing upload {upload_id} needs at least one part",
            hint="list the parts uploaded",
            upload=upload_id,
        )
    by_number = {p.part_number: p for p in uploaded}
    chosen: list[Part] = []
    for number, etag in listed:
        if chosen and number <= chosen[-1].part_number:
            raise InvalidPart(
                f"part {number} is listed after part {chosen[-1].part_number}",
                hint="list the parts once each, in ascending order",
                upload=upload_id,
                part=number,
            )
        part = by_number.get(number)
        if part is None or etag.strip().strip('"').lower() != part.etag:
            raise InvalidPart(
                f"part {number} of upload {upload_id} "
                + ("was never uploaded" if part is None else f"has ETag {part.etag}, not {etag}"),
                hint="list the parts with the ETags their uploads returned",
                upload=upload_id,
                part=number,
            )
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < MIN_PART_SIZE:
            raise EntityTooSmall(
                f"part {part.part_number} is {part.size} bytes; every part but the last "
                f"must be at least {MIN_PART_SIZE}",
                hint="upload larger parts",
                upload=upload_id,
                part=part.part_number,
            )
    return chosen


# --- conversions --------------------------------------------------------------------------


def meta_to_json(meta: ObjectMeta) -> dict[str, object]:
    return {**asdict(meta), "user": dict(meta.user)}


def meta_from_json(doc: Mapping[str, object]) -> ObjectMeta:
    user = doc.get("user")
    fields = {k: v for k, v in doc.items() if k != "user"}
    return ObjectMeta(**fields, user=dict(user) if isinstance(user, Mapping) else {})  # type: ignore[arg-type]


def upload_info(upload: Upload) -> UploadInfo:
    return UploadInfo(
        upload.upload_id,
        upload.bucket,
        upload.key,
        upload.initiated,
        meta_from_json(upload.meta),
        upload.checksum,
    )


def part_info(part: Part) -> PartInfo:
    return PartInfo(part.part_number, part.etag, part.size, part.created_at, part.checksums)


def _part_segment(idx: int, e: SegmentEntry) -> PartSegment:
    return PartSegment(
        idx, e.blob_id, e.plaintext_size, e.header_length, e.ciphertext_length, e.sha256
    )


def _entry(s: PartSegment) -> SegmentEntry:
    return SegmentEntry(
        s.blob_id, s.plaintext_size, s.header_length, s.ciphertext_length, s.ciphertext_sha256
    )


def _audit(
    ctx: EngineContext,
    action: str,
    upload: Upload,
    *,
    version: str | None = None,
    detail: Mapping[str, Scalar],
) -> tuple[AuditBuilder | None, list[Record]]:
    if ctx.audit is None:
        return None, []
    return ctx.audit.builder(
        action,
        bucket=upload.bucket,
        key=upload.key,
        version=version,
        sites=upload.sites,
        policy=upload.policy,
        detail=detail,
    )


def _now_us() -> int:
    """Microseconds since the epoch: the one clock of uploads' ages (initiation, parts,
    sweep), which tests replace."""
    return time.time_ns() // 1000


def _now() -> float:
    """Now, in whole microseconds: the catalog's resolution, so values read back equal."""
    return _now_us() / 1_000_000


def _appended(ctx: EngineContext, made: list[Record]) -> None:
    if ctx.audit is not None and made:
        ctx.audit.appended(made)
