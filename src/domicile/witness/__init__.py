"""A transparency-log witness (c2sp.org/tlog-witness): ``domicile witness``.

A witness follows logs by their origin and public key. Each ``add-checkpoint`` request
brings a new signed checkpoint and a consistency proof from the size the witness last
cosigned; the witness checks both (:mod:`domicile.audit.witness`), persists the new size
and root *before* answering, and returns its cosignature. It never sees a record: a
witness in another jurisdiction, or an auditor, can vouch that a deployment's audit
history only grew without learning which buckets and keys it names.

- :mod:`domicile.witness.store`: the witness's folder (key, followed logs, state), with a
  lock per origin held from reading the state to persisting the next one;
- :mod:`domicile.witness.http`: the HTTP service (``POST /add-checkpoint``).
"""

from domicile.witness.store import FollowedLog, WitnessFolder

__all__ = ["FollowedLog", "WitnessFolder"]
