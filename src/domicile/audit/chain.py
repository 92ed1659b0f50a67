"""The chain builder: hands out the next record, linked to the head.

A :class:`Chain` holds only the head (last seq and its hash). It does no I/O and takes no
locks: the caller (the engine) serialises appends, persists each record, and restarts a
chain from the stored head with ``Chain(head_seq, head_hash)``.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from domicile.audit.record import ZERO, Record, Scalar
from domicile.errors import AuditFormatError

#: Returns the current time in integer microseconds since the Unix epoch.
Clock = Callable[[], int]


def wall_clock_us() -> int:
    """The system clock in integer microseconds since the Unix epoch (UTC)."""
    return _time.time_ns() // 1000


class Head(NamedTuple):
    """The last record of a chain: its ``seq`` (0 when empty) and ``hash`` (ZERO then)."""

    seq: int
    hash: str


class Chain:
    """Builds records that continue a chain whose head is ``(head_seq, head_hash)``.

    ``clock`` returns integer microseconds; it is injectable so tests and replays are exact.
    Raises :class:`AuditFormatError` if the head is inconsistent (seq 0 needs ZERO).
    """

    def __init__(
        self, head_seq: int = 0, head_hash: str = ZERO, *, clock: Clock = wall_clock_us
    ) -> None:
        if type(head_seq) is not int or head_seq < 0:
            raise AuditFormatError(
                f"head_seq must be a non-negative integer, got {head_seq!r}",
                hint="pass the seq of the last stored record, or 0 for a new log",
            )
        if head_seq == 0 and head_hash != ZERO:
            raise AuditFormatError(
                "an empty chain (head_seq 0) must have head_hash ZERO",
                hint="pass the hash of the last stored record together with its seq",
            )
        self._seq = head_seq
        self._hash = head_hash
        self._clock = clock

    @property
    def head(self) -> Head:
        """The seq and hash of the last record appended (or given at construction)."""
        return Head(self._seq, self._hash)

    def append(
        self,
        *,
        actor: str,
        action: str,
        result: str = "ok",
        bucket: str | None = None,
        key: str | None = None,
        version: str | None = None,
        sites: Sequence[str] = (),
        policy: str | None = None,
        detail: Mapping[str, Scalar] | None = None,
        time: int | None = None,
    ) -> Record:
        """Build the next record (seq, prev and time filled in) and advance the head.

        ``time`` overrides the clock (microseconds). The head moves only if the record is
        valid; on :class:`AuditFormatError` the chain is unchanged.
        """
        record = Record(
            seq=self._seq + 1,
            time=self._clock() if time is None else time,
            actor=actor,
            action=action,
            bucket=bucket,
            key=key,
            version=version,
            sites=tuple(sites),
            policy=policy,
            result=result,
            prev=self._hash,
            detail=detail if detail is not None else {},
        )
        self._seq, self._hash = record.seq, record.hash
        return record
