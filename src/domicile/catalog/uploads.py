"""Multipart uploads in progress: the upload, its parts, and each part's segment blobs.

A mixin of :class:`~domicile.catalog.sql.SqlCatalog`, kept apart so each file has one job;
completing an upload is ``SqlCatalog.complete_upload``, which commits the version with
:func:`finish_upload` in the same transaction. Every call that unreferences part blobs
(a part replaced, an upload aborted, parts left out of a completion, a bucket deleted)
queues them as garbage on the upload's sites in its own transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from domicile.catalog import rows
from domicile.catalog import schema as t
from domicile.catalog.base import AuditBuilder
from domicile.catalog.chain import append_audit
from domicile.catalog.database import Database
from domicile.catalog.listing import prefix_successor
from domicile.catalog.prepared import Raw
from domicile.catalog.records import (
    CompletedUpload,
    Part,
    PartSegment,
    Segment,
    Upload,
    Version,
)
from domicile.errors import BucketNotFound, InvalidPart, UploadNotFound

_U = t.uploads.c
_P = t.upload_parts.c
_S = t.upload_segments.c
_C = t.completed_uploads.c


class Uploads:
    """Multipart uploads over ``self._db``."""

    _db: Database

    def create_upload(self, upload: Upload, *, audit: AuditBuilder | None = None) -> None:
        with self._db.write() as conn:
            _require_bucket(conn, upload.bucket)
            conn.execute(sa.insert(t.uploads).values(**rows.upload_row(upload)))
            if audit is not None:
                append_audit(Raw.of(conn), audit)

    def get_upload(self, upload_id: str) -> Upload:
        with self._db.read() as conn:
            return _require_upload(conn, upload_id)

    def put_part(self, part: Part) -> Part | None:
        with self._db.write() as conn:
            upload = _require_upload(conn, part.upload_id, lock=True)
            where = (_P.upload_id == part.upload_id, _P.part_number == part.part_number)
            old = conn.execute(sa.select(t.upload_parts).where(*where)).first()
            if old is not None:
                _queue(
                    conn,
                    upload,
                    _blobs(conn, part.upload_id, part.part_number),
                    "part replaced",
                )
                _forget_parts(conn, part.upload_id, part.part_number)
            conn.execute(sa.insert(t.upload_parts).values(**rows.part_row(part)))
            if part.segments:
                conn.execute(
                    sa.insert(t.upload_segments),
                    [
                        rows.part_segment_row(part.upload_id, part.part_number, s)
                        for s in part.segments
                    ],
                )
        return None if old is None else rows.part(old)

    def list_parts(self, upload_id: str, *, after: int = 0, limit: int = 1000) -> list[Part]:
        query = (
            sa.select(t.upload_parts)
            .where(_P.upload_id == upload_id, _P.part_number > after)
            .order_by(_P.part_number)
            .limit(limit)
        )
        with self._db.read() as conn:
            _require_upload(conn, upload_id)
            return [rows.part(r) for r in conn.execute(query)]

    def upload_parts(self, upload_id: str) -> list[Part]:
        with self._db.read() as conn:
            _require_upload(conn, upload_id)
            segments: dict[int, list[PartSegment]] = {}
            query = sa.select(t.upload_segments).where(_S.upload_id == upload_id)
            for r in conn.execute(query.order_by(_S.part_number, _S.idx)):
                segments.setdefault(r.part_number, []).append(rows.part_segment(r))
            query = sa.select(t.upload_parts).where(_P.upload_id == upload_id)
            return [
                rows.part(r, tuple(segments.get(r.part_number, ())))
                for r in conn.execute(query.order_by(_P.part_number))
            ]

    def abort_upload(self, upload_id: str, *, audit: AuditBuilder | None = None) -> Upload:
        with self._db.write() as conn:
            upload = _require_upload(conn, upload_id, lock=True)
            _drop_upload(conn, upload, "upload aborted")
            if audit is not None:
                append_audit(Raw.of(conn), audit)
        return upload

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        limit: int = 1000,
    ) -> list[Upload]:
        query = sa.select(t.uploads).where(_U.bucket == bucket, _U.key >= prefix)
        high = prefix_successor(prefix) if prefix else None
        if high is not None:
            query = query.where(_U.key < high)
        if key_marker and upload_id_marker:
            query = query.where(
                sa.or_(
                    _U.key > key_marker,
                    sa.and_(_U.key == key_marker, _U.upload_id > upload_id_marker),
                )
            )
        elif key_marker:
            query = query.where(_U.key > key_marker)
        query = query.order_by(_U.key, _U.upload_id).limit(limit)
        with self._db.read() as conn:
            _require_bucket(conn, bucket)
            return [rows.upload(r) for r in conn.execute(query)]

    def uploads_initiated_before(self, when: float, limit: int = 1000) -> list[Upload]:
        query = (
            sa.select(t.uploads)
            .where(_U.initiated < rows.us(when))
            .order_by(_U.initiated, _U.upload_id)
            .limit(limit)
        )
        with self._db.read() as conn:
            return [rows.upload(r) for r in conn.execute(query)]

    def completed_upload(self, upload_id: str) -> CompletedUpload | None:
        query = sa.select(t.completed_uploads).where(_C.upload_id == upload_id)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        return None if row is None else rows.completed_upload(row)

    def forget_completed_uploads(self, before: float) -> int:
        statement = sa.delete(t.completed_uploads).where(_C.completed_at < rows.us(before))
        with self._db.write() as conn:
            return int(conn.execute(statement).rowcount)

    def upload_blobs_on_site(self, site_id: str) -> set[str]:
        query = sa.select(_U.sites, _S.blob_id).join(
            t.upload_segments, _S.upload_id == _U.upload_id
        )
        blobs: set[str] = set()
        with self._db.read() as conn:
            for sites, blob_id in conn.execute(query):
                if site_id in json.loads(sites):
                    blobs.add(blob_id)
        return blobs


# --- in a caller's transaction --------------------------------------------------------------


def finish_upload(
    conn: sa.Connection,
    upload_id: str,
    version: Version,
    segments: Sequence[Segment],
    listed: Sequence[tuple[int, str]] = (),
) -> None:
    """Forget the upload that ``version`` completes, with its parts; queue the blobs of the
    parts ``segments`` do not use; remember it as completed with the ``listed`` parts
    (``completed_uploads``). UploadNotFound if it is gone or of another bucket/key;
    InvalidPart if a segment is no longer the upload's (a part replaced meanwhile). The
    upload's row stays locked to the end of the transaction: a concurrent completion,
    abort or part of it waits, then finds it gone."""
    upload = _require_upload(conn, upload_id, lock=True)
    if (upload.bucket, upload.key) != (version.bucket, version.key):
        raise _no_upload(upload_id)
    held = set(_blobs(conn, upload_id))
    used = {s.blob_id for s in segments}
    if not used <= held:
        raise InvalidPart(
            f"a part of upload {upload_id} was replaced while it was being completed",
            hint="list the parts again and complete with their current ETags",
            upload=upload_id,
        )
    _queue(conn, upload, sorted(held - used), "part unused")
    _forget_parts(conn, upload_id)
    conn.execute(sa.delete(t.uploads).where(_U.upload_id == upload_id))
    done = CompletedUpload(
        upload_id=upload_id,
        bucket=version.bucket,
        key=version.key,
        version_id=version.version_id,
        parts=tuple((int(n), str(e)) for n, e in listed),
        etag=version.etag,
        size=version.size,
        checksums=dict(version.checksums),
        checksum_type=version.checksum_type,
        completed_at=version.created_at,
    )
    conn.execute(sa.insert(t.completed_uploads).values(**rows.completed_upload_row(done)))


def abort_bucket_uploads(conn: sa.Connection, bucket: str) -> list[str]:
    """Abort every upload into ``bucket``, queueing its blobs; return their ids."""
    found = [rows.upload(r) for r in conn.execute(sa.select(t.uploads).where(_U.bucket == bucket))]
    for upload in found:
        _drop_upload(conn, upload, "bucket deleted")
    return [u.upload_id for u in found]


def _require_bucket(conn: sa.Connection, name: str) -> None:
    if conn.execute(sa.select(t.buckets.c.name).where(t.buckets.c.name == name)).first() is None:
        raise BucketNotFound(
            f"no bucket named {name!r}",
            hint="'domicile ls' lists the buckets; 'domicile mb' creates one",
            bucket=name,
        )


def _require_upload(conn: sa.Connection, upload_id: str, *, lock: bool = False) -> Upload:
    """The upload, its row locked to the end of the transaction if ``lock`` (a row lock
    on PostgreSQL; SQLite's writer holds the whole database)."""
    query = sa.select(t.uploads).where(_U.upload_id == upload_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise _no_upload(upload_id)
    return rows.upload(row)


def _no_upload(upload_id: str) -> UploadNotFound:
    return UploadNotFound(
        f"no multipart upload {upload_id} is in progress",
        hint="it was completed, aborted or expired; start a new upload",
        upload=upload_id,
    )


def _blobs(conn: sa.Connection, upload_id: str, part_number: int | None = None) -> list[str]:
    query = sa.select(_S.blob_id).where(_S.upload_id == upload_id)
    if part_number is not None:
        query = query.where(_S.part_number == part_number)
    return [b for (b,) in conn.execute(query)]


def _forget_parts(conn: sa.Connection, upload_id: str, part_number: int | None = None) -> None:
    for table in (t.upload_segments, t.upload_parts):
        statement = sa.delete(table).where(table.c.upload_id == upload_id)
        if part_number is not None:
            statement = statement.where(table.c.part_number == part_number)
        conn.execute(statement)


def _drop_upload(conn: sa.Connection, upload: Upload, reason: str) -> None:
    _queue(conn, upload, _blobs(conn, upload.upload_id), reason)
    _forget_parts(conn, upload.upload_id)
    conn.execute(sa.delete(t.uploads).where(_U.upload_id == upload.upload_id))


def _queue(conn: sa.Connection, upload: Upload, blobs: Sequence[str], reason: str) -> None:
    """Queue ``blobs`` of ``upload`` as garbage on each of its sites."""
    now = rows.now_us()
    queued = [
        {
            "site_id": site,
            "blob_id": blob,
            "reason": reason,
            "queued_at": now,
            "origin": upload.upload_id,
        }
        for site in upload.sites
        for blob in blobs
    ]
    if queued:
        conn.execute(sa.insert(t.garbage), queued)
