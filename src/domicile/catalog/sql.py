"""The catalog on SQLAlchemy Core: SQLite (WAL) by default, PostgreSQL-ready schema.

Writes on SQLite take the database's write lock up front (``BEGIN IMMEDIATE``) and are
serialised by a process-local lock, so concurrent writers never fail half-way with
"database is locked"; readers run concurrently (WAL).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import StaticPool

from domicile.catalog import schema as t
from domicile.catalog.base import AuditBuilder
from domicile.catalog.listing import list_page
from domicile.catalog.migrations import migrate
from domicile.catalog.records import (
    PLACEMENT_STATES,
    Bucket,
    BucketStats,
    Fault,
    GarbageItem,
    Job,
    ListPage,
    Placement,
    Segment,
    Version,
)
from domicile.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    BucketNotFound,
    CatalogError,
    ObjectNotFound,
)

_PAGE = 500


def _us(seconds: float | None) -> int | None:
    return None if seconds is None else round(seconds * 1_000_000)


def _s(micros: int | None) -> float | None:
    return None if micros is None else micros / 1_000_000


def _now() -> int:
    return time.time_ns() // 1000


class SqlCatalog:
    """A :class:`~domicile.catalog.base.Catalog` on any SQLAlchemy URL (SQLite, PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
        elif self._sqlite:
            kwargs = {"connect_args": {"check_same_thread": False, "timeout": 30}}
        try:
            self._engine = sa.create_engine(url, **kwargs)
        except (sa.exc.ArgumentError, ImportError) as exc:
            raise CatalogError(
                f"cannot open the catalog {url!r}: {exc}",
                hint="use a URL like sqlite:///path/catalog.db",
                catalog=url,
            ) from None
        self._wlock: AbstractContextManager[Any] = (
            threading.Lock() if self._sqlite else nullcontext()
        )
        if self._sqlite:
            _configure_sqlite(self._engine)
        try:
            migrate(self._engine, url)
        except sa.exc.OperationalError as exc:
            raise CatalogError(
                f"cannot open the catalog {url!r}: {exc.orig}",
                hint="check that the catalog's folder exists and is writable",
                catalog=url,
            ) from None

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._wlock, self._engine.connect() as conn:
            conn.info["immediate"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info["immediate"] = False

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def close(self) -> None:
        self._engine.dispose()

    def journal_mode(self) -> str:
        """SQLite's journal mode (``wal`` when opened by us); for tests and diagnostics."""
        with self._read() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar())

    # --- buckets ----------------------------------------------------------------------

    def create_bucket(self, name: str, policy: str, tenant: str = "default") -> Bucket:
        bucket = Bucket(name, policy, tenant, _now() / 1_000_000)
        with self._write() as conn:
            if conn.execute(sa.select(t.buckets.c.name).where(t.buckets.c.name == name)).first():
                raise BucketAlreadyExists(
                    f"bucket {name!r} exists already",
                    hint="choose another name, or use the existing bucket",
                    bucket=name,
                )
            conn.execute(
                sa.insert(t.buckets).values(
                    name=name, tenant=tenant, policy=policy, created_at=_us(bucket.created_at)
                )
            )
        return bucket

    def get_bucket(self, name: str) -> Bucket:
        with self._read() as conn:
            row = conn.execute(sa.select(t.buckets).where(t.buckets.c.name == name)).first()
        if row is None:
            raise _no_bucket(name)
        return _bucket(row)

    def list_buckets(self, tenant: str | None = None) -> list[Bucket]:
        query = sa.select(t.buckets).order_by(t.buckets.c.name)
        if tenant is not None:
            query = query.where(t.buckets.c.tenant == tenant)
        with self._read() as conn:
            return [_bucket(r) for r in conn.execute(query)]

    def delete_bucket(self, name: str) -> None:
        with self._write() as conn:
            _require_bucket(conn, name)
            if conn.execute(
                sa.select(t.versions.c.version_id).where(t.versions.c.bucket == name).limit(1)
            ).first():
                raise BucketNotEmpty(
                    f"bucket {name!r} is not empty",
                    hint="delete its objects first ('domicile ls' lists them)",
                    bucket=name,
                )
            conn.execute(sa.delete(t.buckets).where(t.buckets.c.name == name))

    # --- versions ---------------------------------------------------------------------

    def commit_version(
        self,
        version: Version,
        segments: Sequence[Segment],
        placements: Sequence[Placement],
        *,
        audit: AuditBuilder | None = None,
    ) -> Version | None:
        with self._write() as conn:
            _require_bucket(conn, version.bucket)
            previous = _current(conn, version.bucket, version.key)
            if previous is not None:
                _drop_version(conn, previous, reason="replaced")
            conn.execute(sa.insert(t.versions).values(**_version_row(version)))
            if segments:
                conn.execute(sa.insert(t.segments), [_segment_row(s) for s in segments])
            if placements:
                conn.execute(sa.insert(t.placements), [_placement_row(p) for p in placements])
            if audit is not None:
                _append_audit(conn, audit)
        return previous

    def current_version(self, bucket: str, key: str) -> Version:
        with self._read() as conn:
            found = _current(conn, bucket, key)
            if found is None:
                _require_bucket(conn, bucket)
                raise ObjectNotFound(
                    f"no object {key!r} in bucket {bucket!r}",
                    hint="'domicile ls BUCKET' lists the objects",
                    bucket=bucket,
                    key=key,
                )
        return found

    def get_version(self, version_id: str) -> Version:
        with self._read() as conn:
            row = conn.execute(
                sa.select(t.versions).where(t.versions.c.version_id == version_id)
            ).first()
        if row is None:
            raise ObjectNotFound(f"no object version {version_id}", version=version_id)
        return _version(row)

    def segments(self, version_id: str) -> list[Segment]:
        query = (
            sa.select(t.segments)
            .where(t.segments.c.version_id == version_id)
            .order_by(t.segments.c.idx)
        )
        with self._read() as conn:
            return [Segment(**r._asdict()) for r in conn.execute(query)]

    def placements(self, version_id: str) -> list[Placement]:
        query = (
            sa.select(t.placements)
            .where(t.placements.c.version_id == version_id)
            .order_by(t.placements.c.site_id)
        )
        with self._read() as conn:
            return [_placement(r) for r in conn.execute(query)]

    def delete_object(self, bucket: str, key: str) -> Version | None:
        with self._write() as conn:
            _require_bucket(conn, bucket)
            previous = _current(conn, bucket, key)
            if previous is not None:
                _drop_version(conn, previous, reason="deleted")
        return previous

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        limit: int = 1000,
    ) -> ListPage:
        with self._read() as conn:
            _require_bucket(conn, bucket)

            def fetch(low: str, inclusive: bool, high: str | None, n: int) -> list[Version]:
                c = t.versions.c
                query = sa.select(t.versions).where(
                    c.bucket == bucket,
                    c.state == "current",
                    c.key >= low if inclusive else c.key > low,
                )
                if high is not None:
                    query = query.where(c.key < high)
                return [_version(r) for r in conn.execute(query.order_by(c.key).limit(n))]

            return list_page(
                fetch, prefix=prefix, delimiter=delimiter, start_after=start_after, limit=limit
            )

    def iter_versions(self, bucket: str | None = None) -> Iterator[Version]:
        c = t.versions.c
        after = ""
        while True:
            query = sa.select(t.versions).where(c.version_id > after)
            if bucket is not None:
                query = query.where(c.bucket == bucket)
            with self._read() as conn:
                rows = [
                    _version(r) for r in conn.execute(query.order_by(c.version_id).limit(_PAGE))
                ]
            yield from rows
            if len(rows) < _PAGE:
                return
            after = rows[-1].version_id

    def versions_on_site(self, site_id: str) -> Iterator[Version]:
        after = ""
        while True:
            query = (
                sa.select(t.versions)
                .join(t.placements, t.placements.c.version_id == t.versions.c.version_id)
                .where(t.placements.c.site_id == site_id, t.versions.c.version_id > after)
                .order_by(t.versions.c.version_id)
                .limit(_PAGE)
            )
            with self._read() as conn:
                rows = [_version(r) for r in conn.execute(query)]
            yield from rows
            if len(rows) < _PAGE:
                return
            after = rows[-1].version_id

    def stats(self) -> list[BucketStats]:
        c = t.versions.c
        query = (
            sa.select(
                t.buckets.c.name,
                sa.func.count(c.version_id),
                sa.func.coalesce(sa.func.sum(c.size), 0),
            )
            .select_from(t.buckets.outerjoin(t.versions, c.bucket == t.buckets.c.name))
            .group_by(t.buckets.c.name)
            .order_by(t.buckets.c.name)
        )
        with self._read() as conn:
            return [BucketStats(name, int(n), int(b)) for name, n, b in conn.execute(query)]

    # --- placements -------------------------------------------------------------------

    def add_placement(self, placement: Placement) -> None:
        with self._write() as conn:
            conn.execute(sa.insert(t.placements).values(**_placement_row(placement)))

    def set_placement_state(
        self, version_id: str, site_id: str, state: str, verified_at: float | None = None
    ) -> None:
        if state not in PLACEMENT_STATES:
            raise ValueError(f"unknown placement state {state!r}")
        values: dict[str, Any] = {"state": state}
        if verified_at is not None:
            values["verified_at"] = _us(verified_at)
        with self._write() as conn:
            conn.execute(
                sa.update(t.placements)
                .where(t.placements.c.version_id == version_id, t.placements.c.site_id == site_id)
                .values(**values)
            )

    def remove_placement(self, version_id: str, site_id: str) -> None:
        with self._write() as conn:
            version = conn.execute(
                sa.select(t.versions).where(t.versions.c.version_id == version_id)
            ).first()
            if version is None:
                return
            _queue_blobs(conn, _version(version), [site_id], reason="placement removed")
            conn.execute(
                sa.delete(t.placements).where(
                    t.placements.c.version_id == version_id, t.placements.c.site_id == site_id
                )
            )

    # --- faults -----------------------------------------------------------------------

    def record_fault(
        self,
        version_id: str,
        site_id: str,
        kind: str,
        detail: str,
        segment_idx: int | None = None,
    ) -> None:
        with self._write() as conn:
            conn.execute(
                sa.insert(t.faults).values(
                    version_id=version_id,
                    site_id=site_id,
                    segment_idx=segment_idx,
                    kind=kind,
                    detail=detail[:2000],
                    seen_at=_now(),
                )
            )

    def open_faults(self, version_id: str | None = None, site_id: str | None = None) -> list[Fault]:
        query = sa.select(t.faults).where(t.faults.c.resolved_at.is_(None))
        if version_id is not None:
            query = query.where(t.faults.c.version_id == version_id)
        if site_id is not None:
            query = query.where(t.faults.c.site_id == site_id)
        with self._read() as conn:
            return [_fault(r) for r in conn.execute(query.order_by(t.faults.c.id))]

    def resolve_faults(self, version_id: str, site_id: str) -> int:
        with self._write() as conn:
            result = conn.execute(
                sa.update(t.faults)
                .where(
                    t.faults.c.version_id == version_id,
                    t.faults.c.site_id == site_id,
                    t.faults.c.resolved_at.is_(None),
                )
                .values(resolved_at=_now())
            )
            return int(result.rowcount)

    # --- jobs -------------------------------------------------------------------------

    def start_jobs(self, run_id: str, steps: Sequence[dict[str, Any]]) -> tuple[list[int], int]:
        """Record ``steps`` as pending jobs of ``run_id``; mark older pending jobs
        ``interrupted``. Returns the new job ids and how many were interrupted."""
        now = _now()
        with self._write() as conn:
            stale = conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.state == "pending")
                .values(state="interrupted", updated_at=now)
            ).rowcount
            ids = []
            for step in steps:
                row = {
                    "run_id": run_id,
                    "state": "pending",
                    "detail": "",
                    "created_at": now,
                    "updated_at": now,
                    **step,
                }
                key = conn.execute(sa.insert(t.jobs).values(**row)).inserted_primary_key
                assert key is not None
                ids.append(int(key[0]))
        return ids, int(stale)

    def finish_job(self, job_id: int, state: str, detail: str = "") -> None:
        with self._write() as conn:
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.id == job_id)
                .values(state=state, detail=detail[:2000], updated_at=_now())
            )

    def jobs(self, *, state: str | None = None, limit: int = 1000) -> list[Job]:
        query = sa.select(t.jobs).order_by(t.jobs.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(t.jobs.c.state == state)
        with self._read() as conn:
            return [
                Job(
                    **{
                        **r._asdict(),
                        "created_at": r.created_at / 1_000_000,
                        "updated_at": r.updated_at / 1_000_000,
                    }
                )
                for r in conn.execute(query)
            ]

    # --- audit ------------------------------------------------------------------------

    def append_audit(self, build: AuditBuilder) -> list[tuple[int, str, str]]:
        """Append records built from the head, atomically: ``build(seq, hash)`` gets the
        current head (0 and "" when empty) and returns ``(seq, hash, body)`` rows."""
        with self._write() as conn:
            return _append_audit(conn, build)

    def audit_records(self, since: int = 0, limit: int = 10_000) -> list[tuple[int, str, str]]:
        """Records with ``seq > since`` in order, as ``(seq, hash, body)``."""
        c = t.audit_records.c
        query = sa.select(c.seq, c.hash, c.body).where(c.seq > since).order_by(c.seq).limit(limit)
        with self._read() as conn:
            return [(int(s), h, b) for s, h, b in conn.execute(query)]

    def add_audit_checkpoint(self, seq: int, body: str) -> None:
        with self._write() as conn:
            exists = conn.execute(
                sa.select(t.audit_checkpoints.c.seq).where(t.audit_checkpoints.c.seq == seq)
            ).first()
            if exists is None:
                conn.execute(sa.insert(t.audit_checkpoints).values(seq=seq, body=body))

    def audit_checkpoints(self) -> list[str]:
        query = sa.select(t.audit_checkpoints.c.body).order_by(t.audit_checkpoints.c.seq)
        with self._read() as conn:
            return [b for (b,) in conn.execute(query)]

    # --- garbage ----------------------------------------------------------------------

    def garbage(self, limit: int = 1000) -> list[GarbageItem]:
        query = sa.select(t.garbage).order_by(t.garbage.c.id).limit(limit)
        with self._read() as conn:
            return [
                GarbageItem(r.id, r.site_id, r.blob_id, r.reason, r.queued_at / 1_000_000)
                for r in conn.execute(query)
            ]

    def garbage_done(self, ids: Sequence[int]) -> None:
        with self._write() as conn:
            for start in range(0, len(ids), _PAGE):
                chunk = list(ids[start : start + _PAGE])
                conn.execute(sa.delete(t.garbage).where(t.garbage.c.id.in_(chunk)))


# --- helpers ------------------------------------------------------------------------------


def _configure_sqlite(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("immediate") else "BEGIN")


def _append_audit(conn: sa.Connection, build: AuditBuilder) -> list[tuple[int, str, str]]:
    head = conn.execute(
        sa.select(t.audit_records.c.seq, t.audit_records.c.hash)
        .order_by(t.audit_records.c.seq.desc())
        .limit(1)
    ).first()
    rows = list(build(*(head if head is not None else (0, ""))))
    if rows:
        conn.execute(
            sa.insert(t.audit_records), [{"seq": s, "hash": h, "body": b} for s, h, b in rows]
        )
    return rows


def _no_bucket(name: str) -> BucketNotFound:
    return BucketNotFound(
        f"no bucket named {name!r}",
        hint="'domicile ls' lists the buckets; 'domicile mb' creates one",
        bucket=name,
    )


def _require_bucket(conn: sa.Connection, name: str) -> None:
    if conn.execute(sa.select(t.buckets.c.name).where(t.buckets.c.name == name)).first() is None:
        raise _no_bucket(name)


def _current(conn: sa.Connection, bucket: str, key: str) -> Version | None:
    row = conn.execute(
        sa.select(t.versions).where(
            t.versions.c.bucket == bucket,
            t.versions.c.key == key,
            t.versions.c.state == "current",
        )
    ).first()
    return None if row is None else _version(row)


def _drop_version(conn: sa.Connection, version: Version, *, reason: str) -> None:
    """Queue every blob of ``version`` on every site holding it, then forget the version."""
    sites = [
        r.site_id
        for r in conn.execute(
            sa.select(t.placements.c.site_id).where(t.placements.c.version_id == version.version_id)
        )
    ]
    _queue_blobs(conn, version, sites, reason=reason)
    vid = version.version_id
    conn.execute(sa.delete(t.segments).where(t.segments.c.version_id == vid))
    conn.execute(sa.delete(t.placements).where(t.placements.c.version_id == vid))
    conn.execute(sa.delete(t.faults).where(t.faults.c.version_id == vid))
    conn.execute(sa.delete(t.versions).where(t.versions.c.version_id == vid))


def _queue_blobs(conn: sa.Connection, version: Version, sites: Sequence[str], reason: str) -> None:
    blobs = [
        r.blob_id
        for r in conn.execute(
            sa.select(t.segments.c.blob_id).where(t.segments.c.version_id == version.version_id)
        )
    ]
    blobs.append(version.manifest_blob_id)
    now = _now()
    rows = [
        {"site_id": site, "blob_id": blob, "reason": reason, "queued_at": now}
        for site in sites
        for blob in blobs
    ]
    if rows:
        conn.execute(sa.insert(t.garbage), rows)


def _bucket(row: Any) -> Bucket:
    return Bucket(row.name, row.policy, row.tenant, row.created_at / 1_000_000)


def _version_row(v: Version) -> dict[str, Any]:
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
        "created_at": _us(v.created_at),
        "manifest_blob_id": v.manifest_blob_id,
    }


def _version(row: Any) -> Version:
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
    )


def _segment_row(s: Segment) -> dict[str, Any]:
    return {
        "version_id": s.version_id,
        "idx": s.idx,
        "blob_id": s.blob_id,
        "plaintext_size": s.plaintext_size,
        "header_length": s.header_length,
        "ciphertext_length": s.ciphertext_length,
        "ciphertext_sha256": s.ciphertext_sha256,
    }


def _placement_row(p: Placement) -> dict[str, Any]:
    if p.state not in PLACEMENT_STATES:
        raise ValueError(f"unknown placement state {p.state!r}")
    return {
        "version_id": p.version_id,
        "site_id": p.site_id,
        "state": p.state,
        "created_at": _us(p.created_at),
        "verified_at": _us(p.verified_at),
    }


def _placement(row: Any) -> Placement:
    return Placement(
        row.version_id, row.site_id, row.state, row.created_at / 1_000_000, _s(row.verified_at)
    )


def _fault(row: Any) -> Fault:
    return Fault(
        row.id,
        row.version_id,
        row.site_id,
        row.segment_idx,
        row.kind,
        row.detail,
        row.seen_at / 1_000_000,
        _s(row.resolved_at),
    )
