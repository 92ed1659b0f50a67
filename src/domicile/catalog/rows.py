"""Records to rows and back: times become integer microseconds, metadata JSON text."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from domicile.catalog import schema as t
from domicile.catalog.records import (
    PLACEMENT_STATES,
    Bucket,
    CompletedUpload,
    Fault,
    GarbageItem,
    Job,
    Lease,
    Part,
    PartSegment,
    Placement,
    Segment,
    Upload,
    Version,
)


def us(seconds: float | None) -> int | None:
    """Seconds (float) to integer microseconds; None stays None."""
    return None if seconds is None else round(seconds * 1_000_000)


def secs(micros: int | None) -> float | None:
    """Integer microseconds to seconds (float); None stays None."""
    return None if micros is None else micros / 1_000_000


def now_us() -> int:
    return time.time_ns() // 1000


def check_placement_state(state: str) -> None:
    """Raise ValueError for a state outside :data:`PLACEMENT_STATES` (a programming error)."""
    if state not in PLACEMENT_STATES:
        raise ValueError(f"unknown placement state {state!r}; expected one of {PLACEMENT_STATES}")


def checksums_text(checksums: Mapping[str, str]) -> str | None:
    """Named checksums as the JSON text of their column; none is NULL."""
    return json.dumps(dict(checksums), sort_keys=True) if checksums else None


def checksums_of(text: str | None) -> dict[str, str]:
    """The named checksums of a column (NULL, from before step 5 or none given: empty)."""
    return dict(json.loads(text)) if text else {}


def bucket(row: Any) -> Bucket:
    """A bucket from a row of :data:`BUCKET_COLUMNS` (its ``object_lock`` joined in)."""
    return Bucket(
        row.name,
        row.policy,
        row.tenant,
        row.created_at / 1_000_000,
        row.versioning,
        bool(row.object_lock),
    )


#: The ``buckets`` columns, and whether the bucket has Object Lock: what :func:`bucket` reads.
BUCKET_COLUMNS = sa.select(
    t.buckets, t.bucket_locks.c.bucket.is_not(None).label("object_lock")
).select_from(t.buckets.outerjoin(t.bucket_locks, t.bucket_locks.c.bucket == t.buckets.c.name))


def version_row(v: Version, *, seq: int) -> dict[str, Any]:
    """The row of ``v`` as the current version of its key, ``seq``-th of its versions
    (``v.state`` and ``v.seq`` are not stored)."""
    return {
        "version_id": v.version_id,
        "bucket": v.bucket,
        "key": v.key,
        "state": "current",
        "size": v.size,
        "etag": v.etag,
        "content_type": v.content_type,
        "content_encoding": v.content_encoding,
        "content_disposition": v.content_disposition,
        "cache_control": v.cache_control,
        "expires": v.expires,
        "user_metadata": json.dumps(dict(v.user_metadata), sort_keys=True),
        "created_at": us(v.created_at),
        "manifest_blob_id": v.manifest_blob_id,
        "checksums": checksums_text(v.checksums),
        "checksum_type": v.checksum_type if v.checksums else None,
        "content_language": v.content_language,
        "part_sizes": json.dumps(list(v.part_sizes)) if v.part_sizes else None,
        "null_version": v.null_version,
        "delete_marker": v.delete_marker,
        "seq": seq,
    }


def version(row: Any) -> Version:
    return Version(
        version_id=row.version_id,
        bucket=row.bucket,
        key=row.key,
        state=row.state,
        size=row.size,
        etag=row.etag,
        content_type=row.content_type,
        content_encoding=row.content_encoding,
        content_disposition=row.content_disposition,
        cache_control=row.cache_control,
        expires=row.expires,
        user_metadata=json.loads(row.user_metadata),
        created_at=row.created_at / 1_000_000,
        manifest_blob_id=row.manifest_blob_id,
        checksums=checksums_of(row.checksums),
        checksum_type=row.checksum_type,
        content_language=row.content_language,
        part_sizes=tuple(json.loads(row.part_sizes)) if row.part_sizes else (),
        null_version=bool(row.null_version),
        delete_marker=bool(row.delete_marker),
        seq=row.seq,
    )


def completed_upload_row(c: CompletedUpload) -> dict[str, Any]:
    return {
        "upload_id": c.upload_id,
        "bucket": c.bucket,
        "key": c.key,
        "version_id": c.version_id,
        "parts": json.dumps([list(p) for p in c.parts]),
        "etag": c.etag,
        "size": c.size,
        "checksums": checksums_text(c.checksums),
        "checksum_type": c.checksum_type if c.checksums else None,
        "completed_at": us(c.completed_at),
    }


def completed_upload(row: Any) -> CompletedUpload:
    return CompletedUpload(
        upload_id=row.upload_id,
        bucket=row.bucket,
        key=row.key,
        version_id=row.version_id,
        parts=tuple((int(n), str(e)) for n, e in json.loads(row.parts)),
        etag=row.etag,
        size=row.size,
        checksums=checksums_of(row.checksums),
        checksum_type=row.checksum_type,
        completed_at=row.completed_at / 1_000_000,
    )


def segment_row(s: Segment) -> dict[str, Any]:
    return {
        "version_id": s.version_id,
        "idx": s.idx,
        "blob_id": s.blob_id,
        "plaintext_size": s.plaintext_size,
        "header_length": s.header_length,
        "ciphertext_length": s.ciphertext_length,
        "ciphertext_sha256": s.ciphertext_sha256,
    }


def segment(row: Any) -> Segment:
    return Segment(**row._asdict())


def placement_row(p: Placement) -> dict[str, Any]:
    check_placement_state(p.state)
    return {
        "version_id": p.version_id,
        "site_id": p.site_id,
        "state": p.state,
        "created_at": us(p.created_at),
        "verified_at": us(p.verified_at),
    }


def placement(row: Any) -> Placement:
    return Placement(
        row.version_id, row.site_id, row.state, row.created_at / 1_000_000, secs(row.verified_at)
    )


def fault(row: Any) -> Fault:
    return Fault(
        row.id,
        row.version_id,
        row.site_id,
        row.segment_idx,
        row.kind,
        row.detail,
        row.seen_at / 1_000_000,
        secs(row.resolved_at),
    )


def garbage_item(row: Any) -> GarbageItem:
    return GarbageItem(
        row.id, row.site_id, row.blob_id, row.reason, row.queued_at / 1_000_000, row.origin
    )


def job(row: Any) -> Job:
    fields = row._asdict()
    expires = fields["lease_expires"]
    return Job(
        **{
            **fields,
            "violation": bool(fields["violation"]),
            "created_at": row.created_at / 1_000_000,
            "updated_at": row.updated_at / 1_000_000,
            "lease_expires": None if expires is None else expires / 1_000_000,
        }
    )


def lease(row: Any) -> Lease:
    return Lease(
        **{
            **row._asdict(),
            "acquired_at": row.acquired_at / 1_000_000,
            "expires_at": row.expires_at / 1_000_000,
        }
    )


def upload_row(u: Upload) -> dict[str, Any]:
    return {
        "upload_id": u.upload_id,
        "bucket": u.bucket,
        "key": u.key,
        "tenant": u.tenant,
        "policy": u.policy,
        "sites": json.dumps(list(u.sites)),
        "meta": json.dumps(dict(u.meta), sort_keys=True),
        "initiated": us(u.initiated),
        "checksum": u.checksum,
    }


def upload(row: Any) -> Upload:
    return Upload(
        upload_id=row.upload_id,
        bucket=row.bucket,
        key=row.key,
        tenant=row.tenant,
        policy=row.policy,
        sites=tuple(json.loads(row.sites)),
        meta=json.loads(row.meta),
        initiated=row.initiated / 1_000_000,
        checksum=row.checksum,
    )


def part_row(p: Part) -> dict[str, Any]:
    return {
        "upload_id": p.upload_id,
        "part_number": p.part_number,
        "etag": p.etag,
        "size": p.size,
        "created_at": us(p.created_at),
        "checksums": checksums_text(p.checksums),
    }


def part(row: Any, segments: tuple[PartSegment, ...] = ()) -> Part:
    return Part(
        row.upload_id,
        row.part_number,
        row.etag,
        row.size,
        row.created_at / 1_000_000,
        segments,
        checksums_of(row.checksums),
    )


def part_segment_row(upload_id: str, part_number: int, s: PartSegment) -> dict[str, Any]:
    return {
        "upload_id": upload_id,
        "part_number": part_number,
        "idx": s.idx,
        "blob_id": s.blob_id,
        "plaintext_size": s.plaintext_size,
        "header_length": s.header_length,
        "ciphertext_length": s.ciphertext_length,
        "ciphertext_sha256": s.ciphertext_sha256,
    }


def part_segment(row: Any) -> PartSegment:
    return PartSegment(
        row.idx,
        row.blob_id,
        row.plaintext_size,
        row.header_length,
        row.ciphertext_length,
        row.ciphertext_sha256,
    )
