"""Appending to the audit chain, inside a caller's write transaction.

An append reads the head (``seq``, ``hash``) and inserts the records built on it, holding
the chain's lock on PostgreSQL (:func:`~domicile.catalog.locks.chain_lock`) so that two
writers never build on the same head. In a group commit (``raw.deferred`` is a list) the
builders of the batch's jobs are only collected, then :func:`append_audits` runs them last
in the shared transaction: one lock, one head read and one insert for the whole batch,
each builder given the head its predecessor left. On PostgreSQL the batch takes the lock
and reads the head in its first round trip (:func:`head_ahead`), after its key locks:
an audit then costs no round trip of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from domicile.catalog import schema as t
from domicile.catalog.base import AuditBuilder
from domicile.catalog.locks import chain_lock
from domicile.catalog.prepared import Params, Prepared, Raw

__all__ = ["append_audit", "append_audits", "head_ahead"]

# Prepared once: every PUT runs these in its commit (:mod:`domicile.catalog.prepared`).
_AUDIT_HEAD = Prepared(
    sa.select(t.audit_records.c.seq, t.audit_records.c.hash)
    .order_by(t.audit_records.c.seq.desc())
    .limit(1)
)
_AUDIT_INSERT = Prepared(sa.insert(t.audit_records))


def append_audit(raw: Raw, build: AuditBuilder) -> list[tuple[int, str, str]]:
    """Append ``build(head_seq, head_hash)``; the rows appended. In a group commit the
    append is deferred to the batch's end (see above) and nothing is returned here."""
    if raw.deferred is not None:
        raw.deferred.append(build)
        return []
    return append_audits(raw, [build])


def head_ahead(raw: Raw) -> list[tuple[Prepared, Params]]:
    """The statements taking the chain's lock (PostgreSQL, unless held) and reading its
    head, to send with others; the head's rows are the last result."""
    return [*chain_lock(raw), (_AUDIT_HEAD, {})]


def append_audits(raw: Raw, builds: Sequence[AuditBuilder]) -> list[tuple[int, str, str]]:
    """Append the records of each of ``builds`` in order, each built on the head the
    previous one left; the rows appended."""
    if not builds:
        return []
    found = raw.chain_head  # read ahead by a group commit, under the chain's lock
    if found is None:
        *_, found = raw.rows_together(head_ahead(raw))  # one round trip
    seq, digest = (int(found[0][0]), str(found[0][1])) if found else (0, "")
    new: list[tuple[int, str, str]] = []
    for build in builds:
        rows = list(build(seq, digest))
        if rows:
            seq, digest = rows[-1][0], rows[-1][1]
        new.extend(rows)
    raw.run_many(_AUDIT_INSERT, [{"seq": s, "hash": h, "body": b} for s, h, b in new])
    return new  # on PostgreSQL in a group commit, inserted with the COMMIT
