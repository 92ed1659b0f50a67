"""Leases: who runs a job on a scope, and which collector is deleting which queued blob.

A mixin of :class:`~domicile.catalog.sql.SqlCatalog`, kept apart so each file has one job.

A lease is taken in one write transaction that first serialises its competitors: SQLite's
single writer (``BEGIN IMMEDIATE``), or on PostgreSQL a lock on the ``leases`` table for
scopes and ``FOR UPDATE SKIP LOCKED`` for rows claimed one batch at a time. A lease has an
expiry that its holder renews while it works; a holder that dies (``kill -9``, a host
lost) stops renewing, and once the expiry passes another run may take the lease over.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import sqlalchemy as sa

from domicile.catalog import rows
from domicile.catalog import schema as t
from domicile.catalog.database import Database
from domicile.catalog.records import GarbageItem, Holder, Lease, version_blobs
from domicile.errors import LeaseHeld, ObjectNotFound


def scope_of(kind: str, bucket: str | None) -> str:
    """``apply`` (every bucket) or ``apply:<bucket>``."""
    return kind if bucket is None else f"{kind}:{bucket}"


class Leases:
    """Scope leases and garbage claims over ``self._db``."""

    _db: Database

    # --- scopes -----------------------------------------------------------------------

    def acquire_lease(
        self, kind: str, bucket: str | None, holder: Holder, seconds: float
    ) -> list[Lease]:
        """Hold ``kind`` on ``bucket`` (None: every bucket) for ``holder`` until ``seconds``
        from now. A scope overlaps another of its kind when either is every bucket or both
        are the same bucket. LeaseHeld (naming the holder) while another run holds a live
        overlapping lease. Expired overlapping leases are taken over: their runs' pending
        jobs are marked ``interrupted`` (this run re-plans their work); they are returned."""
        now = rows.now_us()
        c = t.leases.c
        overlapping = sa.select(t.leases).where(c.kind == kind)
        if bucket is not None:
            overlapping = overlapping.where(sa.or_(c.bucket.is_(None), c.bucket == bucket))
        with self._db.write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("LOCK TABLE leases IN SHARE ROW EXCLUSIVE MODE"))
            found = [rows.lease(r) for r in conn.execute(overlapping)]
            live = [x for x in found if x.expires_at * 1_000_000 > now]
            if live:
                raise _held(live[0], kind)
            if found:
                conn.execute(sa.delete(t.leases).where(c.scope.in_([x.scope for x in found])))
            conn.execute(
                sa.insert(t.leases).values(
                    scope=scope_of(kind, bucket),
                    kind=kind,
                    bucket=bucket,
                    run_id=holder.run_id,
                    host=holder.host,
                    pid=holder.pid,
                    acquired_at=now,
                    expires_at=now + int(seconds * 1_000_000),
                )
            )
            # The pending jobs of runs that hold no lease any more (taken over just now,
            # or left by a domicile before leases): this run re-plans their work.
            j = t.jobs.c
            conn.execute(
                sa.update(t.jobs)
                .where(j.state == "pending", j.run_id.not_in(sa.select(c.run_id)))
                .values(
                    state="interrupted",
                    updated_at=now,
                    lease_holder=None,
                    lease_expires=None,
                    detail="its run stopped renewing its lease; a later run re-planned it",
                )
            )
        return found

    def renew_lease(self, kind: str, bucket: str | None, run_id: str, seconds: float) -> bool:
        """Push the lease's expiry to ``seconds`` from now; False if the run lost it (it
        expired and another run took it over)."""
        c = t.leases.c
        with self._db.write() as conn:
            done = conn.execute(
                sa.update(t.leases)
                .where(c.scope == scope_of(kind, bucket), c.run_id == run_id)
                .values(expires_at=rows.now_us() + int(seconds * 1_000_000))
            )
            return bool(done.rowcount)

    def release_lease(self, kind: str, bucket: str | None, run_id: str) -> None:
        """Give the scope up (no-op if the run no longer holds it)."""
        c = t.leases.c
        with self._db.write() as conn:
            conn.execute(
                sa.delete(t.leases).where(c.scope == scope_of(kind, bucket), c.run_id == run_id)
            )

    def leases(self) -> list[Lease]:
        """Every lease recorded (live or expired), by scope."""
        with self._db.read() as conn:
            return [
                rows.lease(r) for r in conn.execute(sa.select(t.leases).order_by(t.leases.c.scope))
            ]

    # --- garbage claims ---------------------------------------------------------------

    def claim_garbage(self, holder: str, limit: int, seconds: float) -> list[GarbageItem]:
        """Claim up to ``limit`` queued items no live collector holds, oldest first, until
        ``seconds`` from now. Only a claimed item's blob may be deleted: a copy re-added
        meanwhile cancels the unclaimed items of its blobs (``reclaim_blobs``)."""
        now = rows.now_us()
        c = t.garbage.c
        free = sa.or_(c.lease_expires.is_(None), c.lease_expires < now)
        with self._db.write() as conn:
            picked = (
                sa.select(t.garbage)
                .where(free)
                .order_by(c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            items = [rows.garbage_item(r) for r in conn.execute(picked)]
            if items:
                conn.execute(
                    sa.update(t.garbage)
                    .where(c.id.in_([i.id for i in items]))
                    .values(lease_holder=holder, lease_expires=now + int(seconds * 1_000_000))
                )
        return items

    def release_garbage(self, ids: Sequence[int]) -> None:
        """Give claimed items back to the queue (their blobs could not be deleted)."""
        if not ids:
            return
        c = t.garbage.c
        with self._db.write() as conn:
            conn.execute(
                sa.update(t.garbage)
                .where(c.id.in_(list(ids)))
                .values(lease_holder=None, lease_expires=None)
            )

    def reclaim_blobs(self, version_id: str, site_id: str) -> int:
        """Cancel the queued deletions of ``version_id``'s blobs on ``site_id`` (before a
        copy of it is written there again). Returns how many are claimed by a live
        collector and so could not be cancelled (the caller waits until they are gone).
        ObjectNotFound if the version was replaced or deleted."""
        now = rows.now_us()
        c = t.garbage.c
        with self._db.write() as conn:
            version_row = conn.execute(
                sa.select(t.versions).where(t.versions.c.version_id == version_id)
            ).first()
            if version_row is None:
                raise ObjectNotFound(
                    f"version {version_id} was replaced or deleted", version=version_id
                )
            version = rows.version(version_row)
            segments = [
                rows.segment(r)
                for r in conn.execute(
                    sa.select(t.segments)
                    .where(t.segments.c.version_id == version_id)
                    .order_by(t.segments.c.idx)
                )
            ]
            blobs = version_blobs(version, segments)
            mine = (c.site_id == site_id, c.blob_id.in_(blobs))
            free = sa.or_(c.lease_expires.is_(None), c.lease_expires < now)
            conn.execute(sa.delete(t.garbage).where(*mine, free))
            busy = conn.execute(sa.select(sa.func.count()).select_from(t.garbage).where(*mine))
            return int(busy.scalar() or 0)


def _held(lease: Lease, kind: str) -> LeaseHeld:
    since = _iso(lease.acquired_at)
    expires = _iso(lease.expires_at)
    return LeaseHeld(
        f"another {kind} holds {lease.scope}: run {lease.run_id} of process {lease.pid} on "
        f"{lease.host}, since {since}",
        hint=f"wait for it to finish; if that process is gone, its lease expires at {expires} "
        f"and the next {kind} takes over and finishes its work",
        holder=f"{lease.host}:{lease.pid}",
        run=lease.run_id,
        since=since,
        expires=expires,
    )


def _iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC).isoformat(timespec="seconds")
