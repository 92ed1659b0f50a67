"""Object Lock and lifecycle rules in the catalog, and the one guard every forgetting passes.

A mixin of :class:`~domicile.catalog.sql.SqlCatalog`, kept apart so each file has one job.

:func:`guard_forget` is the lowest place a version's copies are given up: every path that
queues a version's blobs as garbage (a DELETE, a version replaced, a copy removed by
``apply`` or ``repair``, a bucket or tenant removed) runs it inside the transaction that
would forget them, so a locked version can neither be deleted (unless its GOVERNANCE
retention is bypassed) nor lose a copy it needs, whichever engine service asks, and a
concurrent change of its lock cannot slip between the check and the forgetting.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from domicile.catalog import rows
from domicile.catalog import schema as t
from domicile.catalog.base import AuditBuilder
from domicile.catalog.chain import append_audit
from domicile.catalog.database import Database
from domicile.catalog.locks import lock_keys
from domicile.catalog.prepared import Prepared, Raw
from domicile.catalog.records import LOCK_MODES, BucketLock, Version, VersionLock
from domicile.errors import BucketNotFound, InvalidRetention, ObjectLocked, ObjectNotFound

_LOCK = Prepared(
    sa.select(t.version_locks).where(t.version_locks.c.version_id == sa.bindparam("vid"))
)
# The version's row locked (PostgreSQL: FOR UPDATE; SQLite has one writer anyway) with its
# lock, so a lock set by a concurrent transaction is seen, or waits for the forgetting.
_GUARD = Prepared(
    sa.select(t.versions.c.version_id, t.version_locks)
    .select_from(
        t.versions.outerjoin(
            t.version_locks, t.version_locks.c.version_id == t.versions.c.version_id
        )
    )
    .where(t.versions.c.version_id == sa.bindparam("vid"))
    .with_for_update(of=t.versions)
)
_COPIES = Prepared(
    sa.select(t.placements.c.site_id, t.placements.c.state).where(
        t.placements.c.version_id == sa.bindparam("vid")
    )
)
_BUCKET_LOCK = Prepared(
    sa.select(
        t.buckets.c.name.label("bucket"),
        t.bucket_locks.c.bucket.label("name"),
        t.bucket_locks.c.mode,
        t.bucket_locks.c.days,
        t.bucket_locks.c.years,
    )
    .select_from(t.buckets.outerjoin(t.bucket_locks, t.bucket_locks.c.bucket == t.buckets.c.name))
    .where(t.buckets.c.name == sa.bindparam("bucket"))
)
_FORGET_LOCK = Prepared(
    sa.delete(t.version_locks).where(t.version_locks.c.version_id == sa.bindparam("vid"))
)


class Locks:
    """Bucket lock configurations, version locks and lifecycle rules over ``self._db``."""

    _db: Database

    # --- buckets ----------------------------------------------------------------------

    def bucket_lock(self, bucket: str) -> BucketLock | None:
        """The bucket's Object Lock (None: created without it). BucketNotFound."""
        with self._db.raw_read() as raw:  # prepared: every PUT asks (a PUT's whole read
            row = raw.first(_BUCKET_LOCK, {"bucket": bucket})  # path, see sql.py)
        if row is None:
            raise _no_bucket(bucket)
        if row.name is None:
            return None
        return BucketLock(bucket, row.mode, row.days, row.years)

    def set_bucket_lock(self, lock: BucketLock, *, audit: AuditBuilder | None = None) -> None:
        """Enable Object Lock on the bucket (once on, never off) with ``lock``'s default
        retention, replacing the previous default. BucketNotFound."""
        _check_default(lock)
        with self._db.write() as conn:
            _require_bucket(conn, lock.bucket)
            conn.execute(sa.delete(t.bucket_locks).where(t.bucket_locks.c.bucket == lock.bucket))
            conn.execute(
                sa.insert(t.bucket_locks).values(
                    bucket=lock.bucket,
                    mode=lock.mode,
                    days=lock.days,
                    years=lock.years,
                    updated_at=rows.now_us(),
                )
            )
            if audit is not None:
                append_audit(Raw.of(conn), audit)

    # --- versions ---------------------------------------------------------------------

    def version_lock(self, version_id: str) -> VersionLock | None:
        """The version's lock, or None if it never had one."""
        with self._db.raw_read() as raw:
            return _version_lock(raw, version_id)

    def lock_new_version(self, lock: VersionLock) -> None:
        """Record the lock of a version about to be committed, before its commit, so the
        version is never committed unlocked (a lock whose version is never committed
        guards nothing). ``lock.copies``: the copies being written."""
        _check_retention(lock)
        with self._db.write() as conn:
            _store(conn, lock, lock.copies)

    def set_version_lock(
        self,
        lock: VersionLock,
        *,
        bypass_governance: bool = False,
        audit: AuditBuilder | None = None,
    ) -> VersionLock | None:
        """Set a version's retention and legal hold; return the lock it replaces.

        Refused with ObjectLocked, in the transaction that would write it, when it would
        shorten or remove a retention still running: always for COMPLIANCE, for
        GOVERNANCE unless ``bypass_governance``. Extending one, and setting or clearing a
        legal hold, are always allowed. ``lock.copies`` is ignored: a lock keeps the
        count it was first given, else the version's good copies now (at least 1).
        ObjectNotFound if the version is gone."""
        _check_retention(lock)
        now = time.time()
        with self._db.write() as conn:
            raw = Raw.of(conn)
            of_version = sa.select(t.versions.c.bucket, t.versions.c.key).where(
                t.versions.c.version_id == lock.version_id
            )
            found = conn.execute(of_version).first()
            if found is not None:  # PostgreSQL: a delete of the version waits, or is seen
                lock_keys(raw, [(found.bucket, found.key)])
                found = conn.execute(of_version).first()
            if found is None:
                raise ObjectNotFound(
                    f"no object version {lock.version_id}",
                    hint="the object was deleted meanwhile; list the bucket again",
                    version=lock.version_id,
                )
            previous = _version_lock(raw, lock.version_id)
            if previous is not None:
                _check_shortening(previous, lock, now, bypass_governance)
                copies = previous.copies
            else:
                good = [r for r in raw.rows(_COPIES, {"vid": lock.version_id}) if r.state == "ok"]
                copies = max(1, len(good))
            _store(conn, lock, copies)
            if audit is not None:
                append_audit(raw, audit)
        return previous

    def locked_versions(self, now: float) -> list[VersionLock]:
        """Every version lock still in force at ``now`` (retention running or legal hold),
        by version id."""
        c = t.version_locks.c
        query = (
            sa.select(t.version_locks)
            .where(sa.or_(c.legal_hold == sa.true(), c.retain_until > rows.us(now)))
            .order_by(c.version_id)
        )
        with self._db.read() as conn:
            return [_lock_of(r) for r in conn.execute(query)]

    # --- lifecycle --------------------------------------------------------------------

    def lifecycle(self, bucket: str) -> str | None:
        """The bucket's lifecycle rules (JSON text as stored), or None. BucketNotFound."""
        with self._db.read() as conn:
            _require_bucket(conn, bucket)
            row = conn.execute(
                sa.select(t.bucket_lifecycle.c.rules).where(t.bucket_lifecycle.c.bucket == bucket)
            ).first()
        return None if row is None else str(row.rules)

    def set_lifecycle(
        self, bucket: str, rules: str | None, *, audit: AuditBuilder | None = None
    ) -> None:
        """Replace the bucket's lifecycle rules (``rules`` None: remove them). BucketNotFound."""
        with self._db.write() as conn:
            _require_bucket(conn, bucket)
            c = t.bucket_lifecycle.c
            conn.execute(sa.delete(t.bucket_lifecycle).where(c.bucket == bucket))
            if rules is not None:
                conn.execute(
                    sa.insert(t.bucket_lifecycle).values(
                        bucket=bucket, rules=rules, updated_at=rows.now_us()
                    )
                )
            if audit is not None:
                append_audit(Raw.of(conn), audit)


# --- the guard ----------------------------------------------------------------------------


def guard_forget(
    raw: Raw, version: Version, sites: Sequence[str], *, bypass_governance: bool = False
) -> None:
    """Raise ObjectLocked unless ``version``'s copies on ``sites`` may be forgotten now.

    Forgetting every copy (deleting the version) is refused while it is under legal hold
    or retention (GOVERNANCE retention only with ``bypass_governance``). Forgetting some
    (a copy moved or dropped) is refused when a good copy would go and fewer good copies
    than the lock keeps would remain, whatever the mode; a missing or corrupt copy may
    go. A version whose lock has ended is not guarded."""
    row = raw.first(_GUARD, {"vid": version.version_id})
    lock = None if row is None or row.legal_hold is None else _lock_of(row)
    now = time.time()
    if lock is None or not lock.locked(now):
        return
    copies = raw.rows(_COPIES, {"vid": version.version_id})
    gone = set(sites)
    context = {
        "bucket": version.bucket,
        "key": version.key,
        "version": version.version_id,
        "mode": lock.mode,
        "retain_until": lock.retain_until,
        "legal_hold": lock.legal_hold,
    }
    if {r.site_id for r in copies} <= gone:
        why = lock.blocks_delete(now, bypass_governance=bypass_governance)
        if why is not None:
            raise ObjectLocked(
                f"{version.bucket}/{version.key} version {version.version_id} is under "
                f"{why}{_until(lock)}: it cannot be deleted",
                hint=_hint(lock),
                **context,
            )
        return
    left = sum(1 for r in copies if r.state == "ok" and r.site_id not in gone)
    losing_good = any(r.state == "ok" and r.site_id in gone for r in copies)
    if losing_good and left < lock.copies:
        raise ObjectLocked(
            f"{version.bucket}/{version.key} version {version.version_id} is locked and "
            f"would keep {left} good cop{'y' if left == 1 else 'ies'} of the "
            f"{lock.copies} its lock needs",
            hint="copy it to another compliant site first ('domicile plan' shows why it "
            "cannot move); its copies stay where they are",
            sites=sorted(gone),
            **context,
        )


def enable_lock(conn: sa.Connection, bucket: str) -> None:
    """Give a bucket being created its Object Lock row (no default retention)."""
    conn.execute(sa.insert(t.bucket_locks).values(bucket=bucket, updated_at=rows.now_us()))


def forget_lock(raw: Raw, version_id: str) -> None:
    """Drop a version's lock row with the version (its lock has ended: see guard_forget)."""
    raw.run(_FORGET_LOCK, {"vid": version_id})


def forget_bucket(conn: sa.Connection, bucket: str) -> None:
    """Drop a bucket's lock configuration and lifecycle rules with the bucket."""
    conn.execute(sa.delete(t.bucket_locks).where(t.bucket_locks.c.bucket == bucket))
    conn.execute(sa.delete(t.bucket_lifecycle).where(t.bucket_lifecycle.c.bucket == bucket))


# --- helpers ------------------------------------------------------------------------------


def _store(conn: sa.Connection, lock: VersionLock, copies: int) -> None:
    """Write ``lock`` (replacing the version's row), keeping ``copies`` good copies."""
    Raw.of(conn).run(_FORGET_LOCK, {"vid": lock.version_id})
    conn.execute(
        sa.insert(t.version_locks).values(
            version_id=lock.version_id,
            mode=lock.mode,
            retain_until=rows.us(lock.retain_until),
            legal_hold=lock.legal_hold,
            copies=max(1, copies),
            updated_at=rows.now_us(),
        )
    )


def _version_lock(raw: Raw, version_id: str) -> VersionLock | None:
    row = raw.first(_LOCK, {"vid": version_id})
    return None if row is None else _lock_of(row)


def _lock_of(row: Any) -> VersionLock:
    return VersionLock(
        version_id=row.version_id,
        mode=row.mode,
        retain_until=rows.secs(row.retain_until),
        legal_hold=bool(row.legal_hold),
        copies=int(row.copies),
    )


def _require_bucket(conn: sa.Connection, bucket: str) -> None:
    if conn.execute(sa.select(t.buckets.c.name).where(t.buckets.c.name == bucket)).first() is None:
        raise _no_bucket(bucket)


def _no_bucket(bucket: str) -> BucketNotFound:
    return BucketNotFound(
        f"no bucket named {bucket!r}",
        hint="'domicile ls' lists the buckets; 'domicile mb' creates one",
        bucket=bucket,
    )


def _check_default(lock: BucketLock) -> None:
    if lock.mode is None:
        if lock.days is not None or lock.years is not None:
            raise InvalidRetention("a default retention period needs a mode", bucket=lock.bucket)
        return
    if lock.mode not in LOCK_MODES:
        raise InvalidRetention(
            f"unknown retention mode {lock.mode!r}",
            hint="use GOVERNANCE or COMPLIANCE",
            bucket=lock.bucket,
        )
    if (lock.days is None) == (lock.years is None):
        raise InvalidRetention(
            "a default retention needs either days or years, not both",
            hint="give --days N or --years N",
            bucket=lock.bucket,
        )
    period = lock.days if lock.days is not None else lock.years
    if period is None or period <= 0:
        raise InvalidRetention(
            "a default retention period must be a positive number",
            hint="give --days N or --years N with N at least 1",
            bucket=lock.bucket,
        )


def _check_retention(lock: VersionLock) -> None:
    if (lock.mode is None) != (lock.retain_until is None):
        raise InvalidRetention(
            "a retention needs both a mode and a retain-until date",
            hint="give both, or neither to clear a GOVERNANCE retention (with the bypass)",
            version=lock.version_id,
        )
    if lock.mode is not None and lock.mode not in LOCK_MODES:
        raise InvalidRetention(
            f"unknown retention mode {lock.mode!r}",
            hint="use GOVERNANCE or COMPLIANCE",
            version=lock.version_id,
        )


def _check_shortening(
    previous: VersionLock, lock: VersionLock, now: float, bypass_governance: bool
) -> None:
    """ObjectLocked if ``lock`` weakens ``previous``'s running retention without right."""
    if not previous.retained(now):
        return
    assert previous.retain_until is not None
    until = lock.retain_until if lock.mode is not None else None
    weaker = (
        until is None
        or until < previous.retain_until
        or (previous.mode == "COMPLIANCE" and lock.mode != "COMPLIANCE")
    )
    if not weaker:
        return
    if previous.mode == "GOVERNANCE" and bypass_governance:
        return
    raise ObjectLocked(
        f"version {previous.version_id} is under {previous.mode} retention"
        f"{_until(previous)}: its retention can be extended, never shortened",
        hint=_hint(previous),
        version=previous.version_id,
        mode=previous.mode,
        retain_until=previous.retain_until,
    )


def _until(lock: VersionLock) -> str:
    if lock.retain_until is None or lock.mode is None:
        return ""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(lock.retain_until))
    return f" until {stamp}"


def _hint(lock: VersionLock) -> str:
    if lock.legal_hold:
        return "remove the legal hold first ('domicile legal-hold KEY off')"
    if lock.mode == "GOVERNANCE":
        return (
            "a key granted bypass_governance may bypass it (x-amz-bypass-governance-retention,"
            " or 'domicile rm --bypass-governance')"
        )
    return "COMPLIANCE retention cannot be shortened or bypassed by anyone; wait until it ends"
