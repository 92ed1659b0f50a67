"""Locks that make concurrent writers on PostgreSQL as safe as SQLite's single writer.

SQLite has one writer at a time (``BEGIN IMMEDIATE``), so a writer's reads are never stale.
PostgreSQL runs writers side by side (READ COMMITTED), from several processes and hosts,
so each write that reads before it writes takes a transaction-scoped advisory lock on what
it decides about, then reads afresh (each statement sees every commit made before it):

- an object key (:func:`lock_keys`): commits and deletes of one (bucket, key), so one
  version stays current, the replaced one's blobs are queued once, and a conditional write
  sees the winner of a race and answers 412;
- the audit chain (:func:`chain_lock`): an append reads the head and inserts ``seq + 1``;
- migrations (:func:`lock_migrations`): hosts starting at once apply each step once.

Locks are taken in one order, so writers do not deadlock: a transaction's keys first
(sorted by lock id); then in a group commit the chain, when one of its jobs audits, and
only then rows (it writes rows of its own keys only); in other write transactions the
bucket row, the upload row and the key's rows, and the chain last, just before commit.
A transaction that locks rows of a key and then appends audit takes that key's lock first
(``complete_upload``, ``delete_version``, ``set_version_lock``), so it never holds a row a
group commit holding the chain waits for. On SQLite each function is
a no-op. Advisory locks of the two-key form live in their own key space; ours use the
spaces below, and are released when the transaction ends (never leaked by a crash).
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from domicile.catalog.prepared import Params, Prepared, Raw

__all__ = [
    "CHAIN",
    "KEYS",
    "MIGRATIONS",
    "chain_lock",
    "key_locks",
    "lock_keys",
    "lock_migrations",
]

#: Advisory lock spaces (the first of the two 32-bit keys).
KEYS = 0x646F6D31  # "dom1": object keys, by hashtext("bucket/key")
CHAIN = 0x646F6D32  # "dom2": the audit chain (one lock)
MIGRATIONS = 0x646F6D33  # "dom3": schema migrations (one lock)

#: Several keys' locks in one statement, in the order of their lock ids (so two
#: transactions locking overlapping sets never wait for each other in a cycle).
_LOCK_ALL = Prepared(
    sa.text(
        "SELECT pg_advisory_xact_lock(:space, h) FROM"
        " (SELECT DISTINCT hashtext(k) AS h FROM unnest(CAST(:names AS text[])) AS k"
        " ORDER BY h) AS ordered"
    ).columns(sa.column("locked"))
)
_LOCK = Prepared(
    sa.select(
        sa.func.pg_advisory_xact_lock(
            sa.bindparam("space", type_=sa.Integer),
            sa.func.hashtext(sa.bindparam("name", type_=sa.Text)),
        )
    )
)


def key_name(bucket: str, key: str) -> str:
    """One text per (bucket, key): a bucket name has no slash."""
    return f"{bucket}/{key}"


def lock_keys(raw: Raw, keys: Iterable[tuple[str, str]]) -> None:
    """Hold the lock of each (bucket, key) until the transaction ends, taken in one
    statement in the order of their lock ids (no deadlock between two transactions locking
    overlapping sets)."""
    for prepared, params in key_locks(raw, keys):
        raw.rows(prepared, params)


def key_locks(raw: Raw, keys: Iterable[tuple[str, str]]) -> list[tuple[Prepared, Params]]:
    """The statement taking the locks of ``keys`` not held yet, to send with others (none
    on SQLite); counted as held from now on."""
    if not raw.concurrent:
        return []
    names = sorted({key_name(b, k) for b, k in keys} - raw.held)
    raw.held.update(names)
    if not names:
        return []
    if len(names) == 1:
        return [(_LOCK, {"space": KEYS, "name": names[0]})]
    return [(_LOCK_ALL, {"space": KEYS, "names": names})]


def chain_lock(raw: Raw) -> list[tuple[Prepared, Params]]:
    """The statement taking the audit chain's lock, to send with others (none on SQLite
    or when held already); counted as held from now on."""
    if not raw.concurrent or "audit chain" in raw.held:
        return []
    raw.held.add("audit chain")
    return [(_LOCK, {"space": CHAIN, "name": "audit"})]


def lock_migrations(conn: sa.Connection) -> None:
    """Hold the migrations' lock until ``conn``'s transaction ends (PostgreSQL; taken
    before anything else, even before the ``schema_version`` table exists)."""
    if conn.dialect.name != "sqlite":
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(MIGRATIONS, 0)))
