"""The catalog on SQLAlchemy Core: SQLite (WAL) by default, or PostgreSQL.

Transactions and locking are :mod:`domicile.catalog.database`'s; row mapping is
:mod:`domicile.catalog.rows`'; jobs and the audit chain are :mod:`domicile.catalog.journals`';
multipart uploads are :mod:`domicile.catalog.uploads`'.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from domicile.catalog import rows
from domicile.catalog import schema as t
from domicile.catalog import versionrows as vr
from domicile.catalog.base import AuditBuilder
from domicile.catalog.bucketkeys import BucketKeys
from domicile.catalog.chain import append_audit
from domicile.catalog.database import Database
from domicile.catalog.journals import Journals
from domicile.catalog.leases import Leases
from domicile.catalog.listing import list_page, versions_page
from domicile.catalog.locks import lock_keys
from domicile.catalog.objectlocks import Locks, enable_lock, forget_bucket
from domicile.catalog.prepared import Prepared, Raw
from domicile.catalog.records import (
    VERSIONING_STATUSES,
    Bucket,
    BucketStats,
    Expect,
    Fault,
    GarbageItem,
    ListPage,
    Lookup,
    Placement,
    Segment,
    Version,
    VersionsPage,
)
from domicile.catalog.uploads import Uploads, abort_bucket_uploads, finish_upload
from domicile.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    CatalogConflict,
    ObjectNotFound,
    PreconditionFailed,
    VersionIsDeleteMarker,
)

#: Rows per query when paging internally (bounded memory).
PAGE = 500

# The hot paths' statements are prepared once and run on the driver's connection
# (:mod:`domicile.catalog.prepared`); a key's versions are :mod:`.versionrows`'.


def _placed(one_bucket: bool) -> tuple[Prepared, Prepared, Prepared]:
    """A page of versions after ``:after`` (of ``:bucket``), and the placements and the
    segments of the versions in ``(:after, :last]`` (of ``:bucket``), in order:
    :meth:`iter_placed`, :meth:`iter_copies`."""
    c, pc, sc = t.versions.c, t.placements.c, t.segments.c
    versions = sa.select(t.versions).where(c.version_id > sa.bindparam("after"))
    held = (
        sa.select(t.placements)
        .join(t.versions, pc.version_id == c.version_id)
        .where(pc.version_id > sa.bindparam("after"), pc.version_id <= sa.bindparam("last"))
    )
    cut = (
        sa.select(t.segments)
        .join(t.versions, sc.version_id == c.version_id)
        .where(sc.version_id > sa.bindparam("after"), sc.version_id <= sa.bindparam("last"))
    )
    if one_bucket:
        versions = versions.where(c.bucket == sa.bindparam("bucket"))
        held = held.where(c.bucket == sa.bindparam("bucket"))
        cut = cut.where(c.bucket == sa.bindparam("bucket"))
    return (
        Prepared(versions.order_by(c.version_id).limit(PAGE)),
        Prepared(held.order_by(pc.version_id, pc.site_id)),
        Prepared(cut.order_by(sc.version_id, sc.idx)),
    )


_PLACED = {False: _placed(False), True: _placed(True)}

_VERIFIED = Prepared(
    sa.update(t.placements)
    .where(
        t.placements.c.version_id == sa.bindparam("vid"),
        t.placements.c.site_id == sa.bindparam("site"),
        t.placements.c.state == sa.bindparam("seen"),
    )
    .values(state="ok", verified_at=sa.bindparam("at"))
)


class SqlCatalog(Journals, Leases, Uploads, Locks, BucketKeys):
    """A :class:`~domicile.catalog.base.Catalog` on any SQLAlchemy URL (SQLite, PostgreSQL).

    Opening migrates the schema (CatalogError if the database cannot be opened,
    CatalogVersionError if it is newer than this code). Thread-safe: one instance serves
    every worker thread.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._db = Database(url)

    def close(self) -> None:
        self._db.close()

    def journal_mode(self) -> str:
        """SQLite's journal mode (``wal`` when opened by us); for tests and diagnostics."""
        return self._db.pragma("journal_mode")

    # --- buckets ----------------------------------------------------------------------

    def create_bucket(
        self,
        name: str,
        policy: str,
        tenant: str = "default",
        *,
        object_lock: bool = False,
        audit: AuditBuilder | None = None,
    ) -> Bucket:
        created = rows.now_us() / 1_000_000
        bucket = Bucket(
            name, policy, tenant, created, "Enabled" if object_lock else None, object_lock
        )
        taken = BucketAlreadyExists(
            f"bucket {name!r} exists already",
            hint="choose another name, or use the existing bucket",
            bucket=name,
        )
        try:
            with self._db.write() as conn:
                if conn.execute(
                    sa.select(t.buckets.c.name).where(t.buckets.c.name == name)
                ).first():
                    raise taken
                conn.execute(
                    sa.insert(t.buckets).values(
                        name=name,
                        tenant=tenant,
                        policy=policy,
                        created_at=rows.us(bucket.created_at),
                        versioning=bucket.versioning,
                    )
                )
                if object_lock:
                    enable_lock(conn, name)
                if audit is not None:
                    append_audit(Raw.of(conn), audit)
        except CatalogConflict:  # created by another host between our check and insert
            raise taken from None
        return bucket

    def get_bucket(self, name: str) -> Bucket:
        with self._db.raw_read() as raw:
            return vr.require_bucket(raw, name)

    def list_buckets(self, tenant: str | None = None) -> list[Bucket]:
        query = rows.BUCKET_COLUMNS.order_by(t.buckets.c.name)
        if tenant is not None:
            query = query.where(t.buckets.c.tenant == tenant)
        with self._db.read() as conn:
            return [rows.bucket(r) for r in conn.execute(query)]

    def delete_bucket(self, name: str) -> list[str]:
        try:
            return self._delete_bucket(name)
        except CatalogConflict:  # an object committed into it meanwhile (another host)
            raise BucketNotEmpty(
                f"bucket {name!r} is not empty",
                hint="delete its objects first ('domicile ls' lists them)",
                bucket=name,
            ) from None

    def _delete_bucket(self, name: str) -> list[str]:
        with self._db.write() as conn:
            vr.require_bucket(Raw.of(conn), name)
            if conn.execute(
                sa.select(t.versions.c.version_id).where(t.versions.c.bucket == name).limit(1)
            ).first():
                raise BucketNotEmpty(
                    f"bucket {name!r} is not empty",
                    hint="delete its objects first, and in a versioned bucket their versions "
                    "and delete markers ('domicile ls --versions' lists them)",
                    bucket=name,
                )
            aborted = abort_bucket_uploads(conn, name)
            conn.execute(sa.delete(t.completed_uploads).where(t.completed_uploads.c.bucket == name))
            forget_bucket(conn, name)
            conn.execute(sa.delete(t.buckets).where(t.buckets.c.name == name))
        return aborted

    def set_versioning(
        self, name: str, status: str, *, audit: AuditBuilder | None = None
    ) -> Bucket:
        if status not in VERSIONING_STATUSES:
            raise ValueError(f"unknown versioning status {status!r}; {VERSIONING_STATUSES}")
        with self._db.write() as conn:
            raw = Raw.of(conn)
            vr.require_bucket(raw, name)
            conn.execute(
                sa.update(t.buckets).where(t.buckets.c.name == name).values(versioning=status)
            )
            if audit is not None:
                append_audit(raw, audit)
            return vr.require_bucket(raw, name)

    # --- versions ---------------------------------------------------------------------

    def commit_version(
        self,
        version: Version,
        segments: Sequence[Segment],
        placements: Sequence[Placement],
        *,
        audit: AuditBuilder | None = None,
        expect: Expect | None = None,
    ) -> Version | None:
        with _lost_race(expect, version):
            return self._db.group(
                lambda raw: vr.commit(raw, version, segments, placements, audit, expect=expect),
                keys=[(version.bucket, version.key)],
                reads=vr.commit_reads(version),
                audit=audit is not None,
            )

    def commit_versions(
        self, items: Sequence[tuple[Version, Sequence[Segment], Sequence[Placement]]]
    ) -> None:
        if not items:
            return
        with self._db.write() as conn:
            raw = Raw.of(conn)
            for version, segments, placements in items:
                vr.commit(raw, version, segments, placements, None)

    def complete_upload(
        self,
        upload_id: str,
        version: Version,
        segments: Sequence[Segment],
        placements: Sequence[Placement],
        *,
        audit: AuditBuilder | None = None,
        expect: Expect | None = None,
        listed: Sequence[tuple[int, str]] = (),
    ) -> Version | None:
        with _lost_race(expect, version), self._db.write() as conn:
            raw = Raw.of(conn)
            lock_keys(raw, [(version.bucket, version.key)])  # first: the lock order
            finish_upload(conn, upload_id, version, segments, listed)
            return vr.commit(raw, version, segments, placements, audit, expect=expect)

    def current_version(self, bucket: str, key: str) -> Version:
        with self._db.raw_read() as raw:
            return vr.require_current(raw, bucket, key)

    def find_version(self, bucket: str, key: str, version_id: str) -> Version:
        with self._db.raw_read() as raw:
            return vr.require(raw, bucket, key, version_id)

    def lookup(self, bucket: str, key: str, version_id: str | None = None) -> Lookup:
        with self._db.raw_read() as raw:
            if version_id is None and raw.concurrent:
                return vr.lookup_current(raw, bucket, key)
            owner = vr.require_bucket(raw, bucket)
            if version_id is None:
                found = vr.require_current(raw, bucket, key)
            else:
                found = vr.require(raw, bucket, key, version_id)
                if found.delete_marker:
                    raise VersionIsDeleteMarker(
                        f"version {version_id} of {bucket}/{key} is a delete marker",
                        hint="a delete marker has no bytes; list the versions and read another",
                        bucket=bucket,
                        key=key,
                        version=version_id,
                    )
            return Lookup(
                found,
                vr.segments_of(raw, found.version_id),
                vr.placements_of(raw, found.version_id),
                owner,
            )

    def get_version(self, version_id: str) -> Version:
        with self._db.raw_read() as raw:
            found = vr.get(raw, version_id)
        if found is None:
            raise _no_version(version_id)
        return found

    def segments(self, version_id: str) -> list[Segment]:
        with self._db.raw_read() as raw:
            return vr.segments_of(raw, version_id)

    def placements(self, version_id: str) -> list[Placement]:
        with self._db.raw_read() as raw:
            return vr.placements_of(raw, version_id)

    def copies_of(self, version_ids: Sequence[str]) -> dict[str, tuple[list[Placement], int]]:
        ids = list(version_ids)
        out: dict[str, tuple[list[Placement], int]] = {vid: ([], 0) for vid in ids}
        p, s = t.placements.c, t.segments.c
        stored = (
            sa.select(s.version_id, sa.func.sum(s.ciphertext_length))
            .where(s.version_id.in_(ids))
            .group_by(s.version_id)
        )
        copies = sa.select(t.placements).where(p.version_id.in_(ids)).order_by(p.site_id)
        with self._db.read() as conn:
            for vid, total in conn.execute(stored):
                out[vid] = (out[vid][0], int(total or 0))
            for row in conn.execute(copies):
                out[row.version_id][0].append(rows.placement(row))
        return out

    def delete_object(
        self, bucket: str, key: str, *, bypass_governance: bool = False
    ) -> Version | None:
        def delete(raw: Raw) -> Version | None:
            vr.require_bucket(raw, bucket)
            previous = vr.current(raw, bucket, key)
            if previous is not None:
                vr.remove(raw, previous, reason="deleted", bypass_governance=bypass_governance)
            return previous

        return self._db.group(delete, keys=[(bucket, key)])

    def delete_version(
        self,
        bucket: str,
        key: str,
        version_id: str,
        *,
        audit: AuditBuilder | None = None,
        bypass_governance: bool = False,
    ) -> tuple[Version, Version | None] | None:
        def delete(raw: Raw) -> tuple[Version, Version | None] | None:
            vr.require_bucket(raw, bucket)
            found = vr.get(raw, version_id)
            if found is None or (found.bucket, found.key) != (bucket, key):
                return None
            promoted = vr.remove(
                raw, found, reason="version deleted", bypass_governance=bypass_governance
            )
            if audit is not None:
                append_audit(raw, audit)
            return found, promoted

        with self._db.write() as conn:
            raw = Raw.of(conn)
            lock_keys(raw, [(bucket, key)])
            return delete(raw)

    def list_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        limit: int = 1000,
    ) -> VersionsPage:
        c = t.versions.c
        with self._db.read() as conn:
            raw = Raw.of(conn)
            vr.require_bucket(raw, bucket)
            below: int | None = 0
            if version_id_marker:  # a marker deleted since: resume at the key's newest
                marker = vr.find(raw, bucket, key_marker, version_id_marker)
                below = None if marker is None else marker.seq

            def fetch(key: str, seq: int | None, high: str | None, n: int) -> list[Version]:
                found: list[Version] = []
                base = sa.select(t.versions).where(c.bucket == bucket)
                if seq is not None:
                    same = base.where(c.key == key, c.seq < seq).order_by(c.seq.desc())
                    found = [rows.version(r) for r in conn.execute(same.limit(n))]
                rest = base.where(c.key > key if seq is not None else c.key >= key)
                if high is not None:
                    rest = rest.where(c.key < high)
                rest = rest.order_by(c.key, c.seq.desc()).limit(n - len(found))
                return found + [rows.version(r) for r in conn.execute(rest)]

            return versions_page(
                fetch,
                prefix=prefix,
                delimiter=delimiter,
                key_marker=key_marker,
                below=below,
                limit=limit,
            )

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        limit: int = 1000,
    ) -> ListPage:
        c = t.versions.c
        with self._db.read() as conn:
            vr.require_bucket(Raw.of(conn), bucket)

            def fetch(low: str, inclusive: bool, high: str | None, n: int) -> list[Version]:
                query = sa.select(t.versions).where(
                    c.bucket == bucket,
                    t.IS_CURRENT,
                    c.delete_marker == sa.false(),
                    c.key >= low if inclusive else c.key > low,
                )
                if high is not None:
                    query = query.where(c.key < high)
                return [rows.version(r) for r in conn.execute(query.order_by(c.key).limit(n))]

            return list_page(
                fetch, prefix=prefix, delimiter=delimiter, start_after=start_after, limit=limit
            )

    def iter_versions(self, bucket: str | None = None) -> Iterator[Version]:
        c = t.versions.c
        base = sa.select(t.versions)
        if bucket is not None:
            base = base.where(c.bucket == bucket)
        return self._paged(base)

    def versions_on_site(self, site_id: str) -> Iterator[Version]:
        base = (
            sa.select(t.versions)
            .join(t.placements, t.placements.c.version_id == t.versions.c.version_id)
            .where(t.placements.c.site_id == site_id)
        )
        return self._paged(base)

    def iter_placed(self, bucket: str | None = None) -> Iterator[tuple[Version, list[Placement]]]:
        for version, _, placements in self._copies(bucket, segments=False):
            yield version, placements

    def iter_copies(
        self, bucket: str | None = None
    ) -> Iterator[tuple[Version, list[Segment], list[Placement]]]:
        return self._copies(bucket, segments=True)

    def _copies(
        self, bucket: str | None, *, segments: bool
    ) -> Iterator[tuple[Version, list[Segment], list[Placement]]]:
        versions, held, cut = _PLACED[bucket is not None]
        params: dict[str, Any] = (
            {"after": ""} if bucket is None else {"after": "", "bucket": bucket}
        )
        while True:
            with self._db.raw_read() as raw:
                page = [rows.version(r) for r in raw.rows(versions, params)]
                placed: dict[str, list[Placement]] = {v.version_id: [] for v in page}
                parts: dict[str, list[Segment]] = {v.version_id: [] for v in page}
                if page:
                    span = {**params, "last": page[-1].version_id}
                    for r in raw.rows(held, span):
                        if r.version_id in placed:
                            placed[r.version_id].append(rows.placement(r))
                    for r in raw.rows(cut, span) if segments else ():
                        if r.version_id in parts:
                            parts[r.version_id].append(rows.segment(r))
            for version in page:
                vid = version.version_id
                yield version, parts[vid], placed[vid]
            if len(page) < PAGE:
                return
            params["after"] = page[-1].version_id

    def _paged(self, base: sa.Select[Any]) -> Iterator[Version]:
        """Every version ``base`` selects, in version_id order, PAGE rows per transaction."""
        c = t.versions.c
        after = ""
        while True:
            query = base.where(c.version_id > after).order_by(c.version_id).limit(PAGE)
            with self._db.read() as conn:
                page = [rows.version(r) for r in conn.execute(query)]
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].version_id

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
        with self._db.read() as conn:
            return [BucketStats(name, int(n), int(b)) for name, n, b in conn.execute(query)]

    # --- placements -------------------------------------------------------------------

    def add_placement(self, placement: Placement) -> None:
        row = rows.placement_row(placement)
        c = t.placements.c
        where = (c.version_id == placement.version_id, c.site_id == placement.site_id)
        with self._db.write() as conn:
            if vr.get(Raw.of(conn), placement.version_id) is None:
                raise _no_version(placement.version_id)
            conn.execute(sa.delete(t.placements).where(*where))
            conn.execute(sa.insert(t.placements).values(**row))

    def set_placement_state(
        self, version_id: str, site_id: str, state: str, verified_at: float | None = None
    ) -> None:
        rows.check_placement_state(state)
        values: dict[str, Any] = {"state": state}
        if verified_at is not None:
            values["verified_at"] = rows.us(verified_at)
        c = t.placements.c
        with self._db.write() as conn:
            conn.execute(
                sa.update(t.placements)
                .where(c.version_id == version_id, c.site_id == site_id)
                .values(**values)
            )

    def mark_verified(self, copies: Sequence[tuple[str, str, str, float]]) -> None:
        if not copies:
            return
        params = [
            {"vid": vid, "site": site, "seen": seen, "at": rows.us(at)}
            for vid, site, seen, at in copies
        ]
        self._db.group(lambda raw: raw.run_many(_VERIFIED, params))

    def remove_placement(
        self, version_id: str, site_id: str, *, counted: Sequence[str] = (), at_least: int = 0
    ) -> str:
        c = t.placements.c
        with self._db.write() as conn:
            version = vr.get(Raw.of(conn), version_id)
            # Locked on PostgreSQL: of two removals of one version's copies, the second
            # counts what the first left (SQLite's single writer does that already).
            copies = conn.execute(
                sa.select(c.site_id, c.state).where(c.version_id == version_id).with_for_update()
            ).all()
            if version is None or site_id not in {site for site, _ in copies}:
                return "absent"
            good = {site for site, state in copies if state == "ok" and site != site_id}
            if len(good & set(counted)) < at_least:
                return "short"
            vr.queue_blobs(Raw.of(conn), version, [site_id], reason="placement removed")
            conn.execute(
                sa.delete(t.placements).where(c.version_id == version_id, c.site_id == site_id)
            )
            return "removed"

    # --- faults -----------------------------------------------------------------------

    def record_fault(
        self,
        version_id: str,
        site_id: str,
        kind: str,
        detail: str,
        segment_idx: int | None = None,
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                sa.insert(t.faults).values(
                    version_id=version_id,
                    site_id=site_id,
                    segment_idx=segment_idx,
                    kind=kind,
                    detail=detail[:2000],
                    seen_at=rows.now_us(),
                )
            )

    def open_faults(self, version_id: str | None = None, site_id: str | None = None) -> list[Fault]:
        query = sa.select(t.faults).where(t.faults.c.resolved_at.is_(None))
        if version_id is not None:
            query = query.where(t.faults.c.version_id == version_id)
        if site_id is not None:
            query = query.where(t.faults.c.site_id == site_id)
        with self._db.read() as conn:
            return [rows.fault(r) for r in conn.execute(query.order_by(t.faults.c.id))]

    def resolve_faults(self, version_id: str, site_id: str) -> int:
        c = t.faults.c
        with self._db.write() as conn:
            result = conn.execute(
                sa.update(t.faults)
                .where(c.version_id == version_id, c.site_id == site_id, c.resolved_at.is_(None))
                .values(resolved_at=rows.now_us())
            )
            return int(result.rowcount)

    # --- garbage ----------------------------------------------------------------------

    def garbage(
        self, limit: int = 1000, *, origins: Sequence[str] | None = None
    ) -> list[GarbageItem]:
        query = sa.select(t.garbage).order_by(t.garbage.c.id).limit(limit)
        if origins is not None:
            query = query.where(t.garbage.c.origin.in_(origins))
        with self._db.read() as conn:
            return [rows.garbage_item(r) for r in conn.execute(query)]

    def garbage_done(self, ids: Sequence[int]) -> None:
        with self._db.write() as conn:
            for start in range(0, len(ids), PAGE):
                chunk = list(ids[start : start + PAGE])
                conn.execute(sa.delete(t.garbage).where(t.garbage.c.id.in_(chunk)))


# --- helpers ------------------------------------------------------------------------------


@contextmanager
def _lost_race(expect: Expect | None, version: Version) -> Iterator[None]:
    """A conditional commit that lost a race to the ``versions_current`` index is
    PreconditionFailed, as if the winner had committed first. Writers of one key hold its
    lock (:mod:`domicile.catalog.locks`), so this is a second line of defence: a writer
    that does not take the lock (an older domicile on the same catalog)."""
    try:
        yield
    except CatalogConflict:
        if expect is None:
            raise
        raise PreconditionFailed(
            f"{version.bucket}/{version.key} was written by another client meanwhile",
            hint="read the object again and retry",
            bucket=version.bucket,
            key=version.key,
        ) from None


def _no_version(version_id: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"no object version {version_id}",
        hint="the object was replaced or deleted meanwhile; list the bucket again",
        version=version_id,
    )
