"""The catalog on SQLAlchemy Core: SQLite (WAL) by default, PostgreSQL-ready schema.

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
from domicile.catalog.base import AuditBuilder
from domicile.catalog.database import Database
from domicile.catalog.journals import Journals, append_audit
from domicile.catalog.listing import list_page
from domicile.catalog.prepared import Prepared, Raw
from domicile.catalog.records import (
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
    version_blobs,
)
from domicile.catalog.uploads import Uploads, abort_bucket_uploads, finish_upload
from domicile.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    BucketNotFound,
    ObjectNotFound,
    PreconditionFailed,
)

#: Rows per query when paging internally (bounded memory).
PAGE = 500

# The hot paths' statements, prepared once and run on the driver's connection
# (:mod:`domicile.catalog.prepared`): a PUT and a GET run them thousands of times a second.
_V = t.versions.c
_BUCKET = Prepared(sa.select(t.buckets).where(t.buckets.c.name == sa.bindparam("bucket")))
_CURRENT = Prepared(
    sa.select(t.versions).where(
        _V.bucket == sa.bindparam("bucket"), _V.key == sa.bindparam("key"), t.IS_CURRENT
    )
)
_VERSION = Prepared(sa.select(t.versions).where(_V.version_id == sa.bindparam("vid")))
_SEGMENTS = Prepared(
    sa.select(t.segments)
    .where(t.segments.c.version_id == sa.bindparam("vid"))
    .order_by(t.segments.c.idx)
)


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

_PLACEMENTS = Prepared(
    sa.select(t.placements)
    .where(t.placements.c.version_id == sa.bindparam("vid"))
    .order_by(t.placements.c.site_id)
)
_VERIFIED = Prepared(
    sa.update(t.placements)
    .where(
        t.placements.c.version_id == sa.bindparam("vid"),
        t.placements.c.site_id == sa.bindparam("site"),
        t.placements.c.state == sa.bindparam("seen"),
    )
    .values(state="ok", verified_at=sa.bindparam("at"))
)
_FORGET = tuple(
    Prepared(sa.delete(table).where(table.c.version_id == sa.bindparam("vid")))
    for table in (t.segments, t.placements, t.faults, t.versions)
)
_INSERT_GARBAGE = Prepared(sa.insert(t.garbage))
_INSERT_VERSION = Prepared(sa.insert(t.versions))
_INSERT_SEGMENT = Prepared(sa.insert(t.segments))
_INSERT_PLACEMENT = Prepared(sa.insert(t.placements))


class SqlCatalog(Journals, Uploads):
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

    def create_bucket(self, name: str, policy: str, tenant: str = "default") -> Bucket:
        bucket = Bucket(name, policy, tenant, rows.now_us() / 1_000_000)
        with self._db.write() as conn:
            if conn.execute(sa.select(t.buckets.c.name).where(t.buckets.c.name == name)).first():
                raise BucketAlreadyExists(
                    f"bucket {name!r} exists already",
                    hint="choose another name, or use the existing bucket",
                    bucket=name,
                )
            conn.execute(
                sa.insert(t.buckets).values(
                    name=name, tenant=tenant, policy=policy, created_at=rows.us(bucket.created_at)
                )
            )
        return bucket

    def get_bucket(self, name: str) -> Bucket:
        with self._db.raw_read() as raw:
            return _require_bucket(raw, name)

    def list_buckets(self, tenant: str | None = None) -> list[Bucket]:
        query = sa.select(t.buckets).order_by(t.buckets.c.name)
        if tenant is not None:
            query = query.where(t.buckets.c.tenant == tenant)
        with self._db.read() as conn:
            return [rows.bucket(r) for r in conn.execute(query)]

    def delete_bucket(self, name: str) -> list[str]:
        with self._db.write() as conn:
            _require_bucket(Raw.of(conn), name)
            if conn.execute(
                sa.select(t.versions.c.version_id).where(t.versions.c.bucket == name).limit(1)
            ).first():
                raise BucketNotEmpty(
                    f"bucket {name!r} is not empty",
                    hint="delete its objects first ('domicile ls' lists them)",
                    bucket=name,
                )
            aborted = abort_bucket_uploads(conn, name)
            conn.execute(sa.delete(t.completed_uploads).where(t.completed_uploads.c.bucket == name))
            conn.execute(sa.delete(t.buckets).where(t.buckets.c.name == name))
        return aborted

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
                lambda conn: _commit(conn, version, segments, placements, audit, expect=expect)
            )

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
            finish_upload(conn, upload_id, version, segments, listed)
            return _commit(Raw.of(conn), version, segments, placements, audit, expect=expect)

    def current_version(self, bucket: str, key: str) -> Version:
        with self._db.raw_read() as raw:
            return _require_current(raw, bucket, key)

    def lookup(self, bucket: str, key: str) -> Lookup:
        with self._db.raw_read() as raw:
            owner = _require_bucket(raw, bucket)
            found = _require_current(raw, bucket, key)
            params = {"vid": found.version_id}
            return Lookup(
                found,
                [rows.segment(r) for r in raw.rows(_SEGMENTS, params)],
                [rows.placement(r) for r in raw.rows(_PLACEMENTS, params)],
                owner,
            )

    def get_version(self, version_id: str) -> Version:
        with self._db.raw_read() as raw:
            found = _get(raw, version_id)
        if found is None:
            raise _no_version(version_id)
        return found

    def segments(self, version_id: str) -> list[Segment]:
        with self._db.raw_read() as raw:
            return [rows.segment(r) for r in raw.rows(_SEGMENTS, {"vid": version_id})]

    def placements(self, version_id: str) -> list[Placement]:
        with self._db.raw_read() as raw:
            return [rows.placement(r) for r in raw.rows(_PLACEMENTS, {"vid": version_id})]

    def delete_object(self, bucket: str, key: str) -> Version | None:
        def delete(raw: Raw) -> Version | None:
            _require_bucket(raw, bucket)
            previous = _current(raw, bucket, key)
            if previous is not None:
                _drop_version(raw, previous, reason="deleted")
            return previous

        return self._db.group(delete)

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
            _require_bucket(Raw.of(conn), bucket)

            def fetch(low: str, inclusive: bool, high: str | None, n: int) -> list[Version]:
                query = sa.select(t.versions).where(
                    c.bucket == bucket,
                    t.IS_CURRENT,
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
            if _get(Raw.of(conn), placement.version_id) is None:
                raise _no_version(placement.version_id)
            conn.execute(sa.delete(t.placements).where(*where))
            conn.execute(sa.insert(t.placements).values(**row))

    def placed_sites(self, version_ids: Sequence[str]) -> dict[str, list[str]]:
        """Of ``version_ids``, those the catalog holds, each with the sites of its
        placements (by site id); one query."""
        if not version_ids:
            return {}
        c, pc = t.versions.c, t.placements.c
        query = (
            sa.select(c.version_id, pc.site_id)
            .select_from(t.versions.outerjoin(t.placements, pc.version_id == c.version_id))
            .where(c.version_id.in_(list(version_ids)))
            .order_by(c.version_id, pc.site_id)
        )
        found: dict[str, list[str]] = {}
        with self._db.read() as conn:
            for vid, site in conn.execute(query):
                held = found.setdefault(vid, [])
                if site is not None:
                    held.append(site)
        return found

    def restore_versions(
        self,
        versions: Sequence[tuple[Version, Sequence[Segment], Sequence[Placement]]],
        placements: Sequence[Placement] = (),
    ) -> list[tuple[str, int]]:
        """Restore versions found on the sites, in one transaction (``rebuild-catalog``).

        Each version becomes its key's current version unless the key's current one is as
        new or newer (``created_at``): the older of the two is superseded (a current one
        replaced is forgotten and its blobs queued, as a PUT would). A version the catalog
        holds already gets the placements given (a resumed rebuild). Then each of
        ``placements`` is added to its version, if the catalog holds it. Returns the
        versions superseded: (id, placements it had in the catalog; 0 if it never was
        there). BucketNotFound if a bucket is missing."""

        def restore(raw: Raw) -> list[tuple[str, int]]:
            superseded: list[tuple[str, int]] = []
            held: list[Placement] = list(placements)
            for version, segments, places in versions:
                if _get(raw, version.version_id) is not None:
                    held.extend(places)
                    continue
                _require_bucket(raw, version.bucket)
                current = _current(raw, version.bucket, version.key)
                if current is not None and current.created_at >= version.created_at:
                    superseded.append((version.version_id, 0))
                    continue
                if current is not None:
                    had = len(raw.rows(_PLACEMENTS, {"vid": current.version_id}))
                    superseded.append((current.version_id, had))
                _commit(raw, version, segments, places, None)
            for p in held:
                params = {"vid": p.version_id}
                if _get(raw, p.version_id) is None:
                    continue
                if any(r.site_id == p.site_id for r in raw.rows(_PLACEMENTS, params)):
                    continue
                raw.run(_INSERT_PLACEMENT, rows.placement_row(p))
            return superseded

        with self._db.write() as conn:
            return restore(Raw.of(conn))

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

    def remove_placement(self, version_id: str, site_id: str) -> None:
        c = t.placements.c
        with self._db.write() as conn:
            version = _get(Raw.of(conn), version_id)
            held = conn.execute(
                sa.select(c.site_id).where(c.version_id == version_id, c.site_id == site_id)
            ).first()
            if version is None or held is None:
                return
            _queue_blobs(Raw.of(conn), version, [site_id], reason="placement removed")
            conn.execute(
                sa.delete(t.placements).where(c.version_id == version_id, c.site_id == site_id)
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
    """A conditional commit that lost a race to the ``versions_current`` index (on
    PostgreSQL, where two transactions can both see the key as their condition wants it
    and the second insert then violates the index) is PreconditionFailed, as if the
    winner had committed first; SQLite serialises writers, so this never fires there."""
    try:
        yield
    except sa.exc.IntegrityError:
        if expect is None:
            raise
        raise PreconditionFailed(
            f"{version.bucket}/{version.key} was written by another client meanwhile",
            hint="read the object again and retry",
            bucket=version.bucket,
            key=version.key,
        ) from None


def _no_bucket(name: str) -> BucketNotFound:
    return BucketNotFound(
        f"no bucket named {name!r}",
        hint="'domicile ls' lists the buckets; 'domicile mb' creates one",
        bucket=name,
    )


def _no_version(version_id: str) -> ObjectNotFound:
    return ObjectNotFound(
        f"no object version {version_id}",
        hint="the object was replaced or deleted meanwhile; list the bucket again",
        version=version_id,
    )


def _require_bucket(raw: Raw, name: str) -> Bucket:
    row = raw.first(_BUCKET, {"bucket": name})
    if row is None:
        raise _no_bucket(name)
    return rows.bucket(row)


def _require_current(raw: Raw, bucket: str, key: str) -> Version:
    found = _current(raw, bucket, key)
    if found is None:
        _require_bucket(raw, bucket)
        raise ObjectNotFound(
            f"no object {key!r} in bucket {bucket!r}",
            hint="'domicile ls BUCKET' lists the objects",
            bucket=bucket,
            key=key,
        )
    return found


def _get(raw: Raw, version_id: str) -> Version | None:
    row = raw.first(_VERSION, {"vid": version_id})
    return None if row is None else rows.version(row)


def _current(raw: Raw, bucket: str, key: str) -> Version | None:
    row = raw.first(_CURRENT, {"bucket": bucket, "key": key})
    return None if row is None else rows.version(row)


def _commit(
    raw: Raw,
    version: Version,
    segments: Sequence[Segment],
    placements: Sequence[Placement],
    audit: AuditBuilder | None,
    *,
    expect: Expect | None = None,
) -> Version | None:
    """``commit_version`` in the caller's write transaction."""
    _require_bucket(raw, version.bucket)
    previous = _current(raw, version.bucket, version.key)
    if expect is not None:
        expect.check(previous, version.bucket, version.key)
    if previous is not None:
        _drop_version(raw, previous, reason="replaced")
    raw.run(_INSERT_VERSION, rows.version_row(version))
    raw.run_many(_INSERT_SEGMENT, [rows.segment_row(s) for s in segments])
    raw.run_many(_INSERT_PLACEMENT, [rows.placement_row(p) for p in placements])
    if audit is not None:
        append_audit(raw, audit)
    return previous


def _drop_version(raw: Raw, version: Version, *, reason: str) -> None:
    """Queue every blob of ``version`` on every site holding it, then forget the version."""
    params = {"vid": version.version_id}
    sites = [p.site_id for p in raw.rows(_PLACEMENTS, params)]
    _queue_blobs(raw, version, sites, reason=reason)
    for statement in _FORGET:
        raw.run(statement, params)


def _queue_blobs(raw: Raw, version: Version, sites: Sequence[str], reason: str) -> None:
    """Queue every blob of ``version`` (segments and manifest) on each of ``sites``."""
    segments = [rows.segment(r) for r in raw.rows(_SEGMENTS, {"vid": version.version_id})]
    blobs = version_blobs(version, segments)
    now = rows.now_us()
    raw.run_many(
        _INSERT_GARBAGE,
        [
            {
                "site_id": site,
                "blob_id": blob,
                "reason": reason,
                "queued_at": now,
                "origin": version.version_id,
            }
            for site in sites
            for blob in blobs
        ],
    )
