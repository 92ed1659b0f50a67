"""The catalog's two append-mostly journals: plan/apply jobs and the audit chain.

Jobs are claimed under leases (:mod:`domicile.catalog.leases`).

A mixin of :class:`~domicile.catalog.sql.SqlCatalog`, kept apart so each file has one job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from domicile.catalog import rows
from domicile.catalog import schema as t
from domicile.catalog.base import AuditBuilder
from domicile.catalog.chain import append_audit
from domicile.catalog.database import Database
from domicile.catalog.prepared import Raw
from domicile.catalog.records import Job
from domicile.errors import CatalogError

#: The columns a step may leave out.
_STEP_DEFAULTS: dict[str, Any] = {
    "source": None,
    "bucket": None,
    "key": None,
    "reason": None,
    "why": None,
    "violation": False,
}


class Journals:
    """Jobs and audit records over ``self._db``."""

    _db: Database

    # --- jobs -------------------------------------------------------------------------

    def add_jobs(self, run_id: str, steps: Sequence[Mapping[str, Any]]) -> None:
        """Record ``steps`` (``action``, ``version_id``, ``site_id``, ``source``, ``bytes``,
        ``bucket``, ``key``, ``reason``, ``why``, ``violation``) as pending jobs of
        ``run_id``, in one transaction: the plan is written a page at a time."""
        if not steps:
            return
        now = rows.now_us()
        fresh = [
            {"run_id": run_id, "state": "pending", "detail": "", **_STEP_DEFAULTS, **step}
            | {"created_at": now, "updated_at": now}
            for step in steps
        ]
        with self._db.write() as conn:
            conn.execute(sa.insert(t.jobs), fresh)

    def claim_jobs(self, run_id: str, holder: str, versions: int, seconds: float) -> list[Job]:
        """Claim every pending job of up to ``versions`` versions of ``run_id`` that no live
        worker holds, until ``seconds`` from now; by version id, then job id. A version's
        jobs are claimed together (its removals run after its additions, by one worker).
        ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's single writer serialises claims."""
        now = rows.now_us()
        c = t.jobs.c
        free = (
            c.run_id == run_id,
            c.state == "pending",
            sa.or_(c.lease_expires.is_(None), c.lease_expires < now),
        )
        wanted = (
            sa.select(c.version_id)
            .where(*free)
            .group_by(c.version_id)
            .order_by(c.version_id)
            .limit(versions)
            .scalar_subquery()
        )
        picked = (
            sa.select(c.id).where(*free, c.version_id.in_(wanted)).with_for_update(skip_locked=True)
        )
        with self._db.write() as conn:
            ids = [int(i) for (i,) in conn.execute(picked)]
            if not ids:
                return []
            expires = now + int(seconds * 1_000_000)
            conn.execute(
                sa.update(t.jobs)
                .where(c.id.in_(ids))
                .values(lease_holder=holder, lease_expires=expires, updated_at=now)
            )
            claimed = conn.execute(
                sa.select(t.jobs).where(c.id.in_(ids)).order_by(c.version_id, c.id)
            )
            return [rows.job(r) for r in claimed]

    def renew_jobs(self, holder: str, seconds: float) -> int:
        """Push the expiry of every pending job ``holder`` claimed; how many."""
        c = t.jobs.c
        with self._db.write() as conn:
            done = conn.execute(
                sa.update(t.jobs)
                .where(c.lease_holder == holder, c.state == "pending")
                .values(lease_expires=rows.now_us() + int(seconds * 1_000_000))
            )
            return int(done.rowcount)

    def finish_job(self, job_id: int, state: str, detail: str = "") -> None:
        """Set a job's final ``state`` (``done``, ``failed``, ``skipped``), with why."""
        with self._db.write() as conn:
            conn.execute(
                sa.update(t.jobs)
                .where(t.jobs.c.id == job_id)
                .values(
                    state=state,
                    detail=detail[:2000],
                    updated_at=rows.now_us(),
                    lease_expires=None,
                )
            )

    def abandon_jobs(self, run_id: str, detail: str) -> int:
        """Mark the run's jobs still pending ``interrupted`` (the run ends without them:
        not confirmed, or stopped); how many."""
        c = t.jobs.c
        with self._db.write() as conn:
            done = conn.execute(
                sa.update(t.jobs)
                .where(c.run_id == run_id, c.state == "pending")
                .values(
                    state="interrupted",
                    detail=detail,
                    updated_at=rows.now_us(),
                    lease_holder=None,
                    lease_expires=None,
                )
            )
            return int(done.rowcount)

    def jobs(
        self, *, state: str | None = None, run_id: str | None = None, limit: int = 1000
    ) -> list[Job]:
        """The latest ``limit`` jobs, newest first, optionally only those in ``state`` or
        of one run."""
        query = sa.select(t.jobs).order_by(t.jobs.c.id.desc()).limit(limit)
        if state is not None:
            query = query.where(t.jobs.c.state == state)
        if run_id is not None:
            query = query.where(t.jobs.c.run_id == run_id)
        with self._db.read() as conn:
            return [rows.job(r) for r in conn.execute(query)]

    # --- audit ------------------------------------------------------------------------

    def append_audit(self, build: AuditBuilder) -> list[tuple[int, str, str]]:
        """Append records built from the head, atomically: ``build(seq, hash)`` gets the
        current head (0 and "" when empty) and returns ``(seq, hash, body)`` rows."""
        with self._db.write() as conn:
            return append_audit(Raw.of(conn), build)

    def audit_records(self, since: int = 0, limit: int = 10_000) -> list[tuple[int, str, str]]:
        """Records with ``seq > since`` in order, as ``(seq, hash, body)``."""
        c = t.audit_records.c
        query = sa.select(c.seq, c.hash, c.body).where(c.seq > since).order_by(c.seq).limit(limit)
        with self._db.read() as conn:
            return [(int(s), h, b) for s, h, b in conn.execute(query)]

    def add_audit_checkpoint(self, seq: int, body: str) -> None:
        """Store the checkpoint at ``seq`` unless one is stored already (idempotent)."""
        with self._db.write() as conn:
            exists = conn.execute(
                sa.select(t.audit_checkpoints.c.seq).where(t.audit_checkpoints.c.seq == seq)
            ).first()
            if exists is None:
                conn.execute(sa.insert(t.audit_checkpoints).values(seq=seq, body=body))

    def put_tree_checkpoint(self, size: int, note: str, nodes: str) -> None:
        """Store (or replace the note of) the tree checkpoint of ``size``."""
        c = t.audit_tree.c
        with self._db.write() as conn:
            done = conn.execute(
                sa.update(t.audit_tree).where(c.size == size).values(note=note, nodes=nodes)
            )
            if done.rowcount == 0:
                conn.execute(sa.insert(t.audit_tree).values(size=size, note=note, nodes=nodes))

    def tree_checkpoints(
        self, *, newest: int | None = None, at: int | None = None
    ) -> list[tuple[int, str, str]]:
        c = t.audit_tree.c
        query = sa.select(c.size, c.note, c.nodes).order_by(c.size.desc())
        if at is not None:
            query = query.where(c.size == at)
        if newest is not None:
            query = query.limit(newest)
        with self._db.read() as conn:
            return sorted((int(s), n, d) for s, n, d in conn.execute(query))

    def restore_audit(self, rows: Sequence[tuple[int, str, str]]) -> int:
        """Insert restored records; skip identical ones, refuse conflicting ones."""
        if not rows:
            return 0
        c = t.audit_records.c
        seqs = [seq for seq, _, _ in rows]
        with self._db.write() as conn:
            stored = dict(
                conn.execute(
                    sa.select(c.seq, c.hash).where(c.seq.between(min(seqs), max(seqs)))
                ).all()
            )
            fresh = []
            for seq, digest, body in rows:
                if seq in stored:
                    if stored[seq] != digest:
                        raise CatalogError(
                            f"audit record {seq} in the catalog differs from the one restored",
                            hint="restore into a new, empty catalog",
                        )
                    continue
                fresh.append({"seq": seq, "hash": digest, "body": body})
            if fresh:
                conn.execute(sa.insert(t.audit_records), fresh)
            return len(fresh)

    def audit_checkpoints(self) -> list[str]:
        query = sa.select(t.audit_checkpoints.c.body).order_by(t.audit_checkpoints.c.seq)
        with self._db.read() as conn:
            return [b for (b,) in conn.execute(query)]
