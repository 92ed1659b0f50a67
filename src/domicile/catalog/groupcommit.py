"""Group commit: short write transactions of concurrent threads share one commit.

SQLite has one writer at a time; on PostgreSQL every audited write takes the audit chain's
lock (:mod:`domicile.catalog.locks`), which makes them one at a time too, across processes,
and a process runs one batch at a time. Sixteen PUTs committing at once each take the lock,
run a few statements and commit; every statement releases the GIL, and getting it back
while other threads encrypt and hash can take a switch interval (5 ms), so the lock is held
for far longer than the work needs and the writers form a convoy behind it (measured:
93 ms of a 112 ms PUT spent in its commit with 16 threads, 1.5 ms alone).

:class:`GroupCommit` queues each thread's work. Whoever gets the write lock runs every
queued piece of work (its own and those of the threads waiting behind it) in one
transaction, and the waiting threads then find theirs done. No thread is added and a
lone writer pays one queue append. If a batch fails, it is rolled back entirely and each
piece is run again in a transaction of its own, so one failure (a bucket deleted
meanwhile) reaches only its own caller; work must therefore depend only on the database,
and leave Python state as it found it when it raises (it may run twice).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any, Generic, TypeVar

from domicile.catalog.chain import append_audits, head_ahead
from domicile.catalog.locks import key_locks, lock_keys
from domicile.catalog.prepared import Params, Prepared, Raw

__all__ = ["MAX_BATCH", "GroupCommit"]

T = TypeVar("T")
#: The SELECTs a piece of work starts with.
Reads = Sequence[tuple[Prepared, Params]]

#: The most pieces of work in one transaction (a bound on how long a batch holds the lock).
MAX_BATCH = 64


class _Job(Generic[T]):
    __slots__ = ("audit", "done", "error", "keys", "reads", "result", "work")

    def __init__(
        self,
        work: Callable[[Raw], T],
        keys: Sequence[tuple[str, str]],
        reads: Reads,
        audit: bool,
    ) -> None:
        self.work = work
        self.keys = keys
        self.reads = reads
        self.audit = audit
        self.done = False
        self.result: T | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Run work in write transactions, batching the work of threads that arrive together.

    ``lock`` is the process's write lock and ``transaction`` opens a write transaction
    (committed on exit, rolled back on an exception) without taking that lock.
    """

    def __init__(
        self,
        lock: threading.Lock,
        transaction: Callable[[], AbstractContextManager[Raw]],
    ) -> None:
        self._lock = lock
        self._transaction = transaction
        self._queued: list[_Job[object]] = []
        self._queue_lock = threading.Lock()

    @property
    def queued(self) -> int:
        """Work waiting for a transaction (for tests and diagnostics)."""
        return len(self._queued)

    def run(
        self,
        work: Callable[[Raw], T],
        keys: Sequence[tuple[str, str]] = (),
        reads: Reads = (),
        *,
        audit: bool = False,
    ) -> T:
        """``work(conn)`` committed, possibly in one transaction with other threads' work.

        ``keys`` are the (bucket, key) pairs it writes: a batch locks all of its jobs' keys
        up front, in order (:func:`~domicile.catalog.locks.lock_keys`), and runs their audit
        appends last, so batches of several processes never deadlock. ``reads`` are the
        SELECTs ``work`` starts with: on a database server a batch whose keys are distinct
        sends them all with its locks, in one round trip, and each job finds its rows in
        ``raw.prefetched``; ``audit`` says it appends audit records: the batch then takes
        the chain's lock and reads its head in that round trip too."""
        job: _Job[T] = _Job(work, keys, reads, audit)
        with self._queue_lock:
            self._queued.append(job)  # type: ignore[arg-type]
        while not job.done:
            with self._lock:
                if not job.done:
                    with self._queue_lock:
                        batch = self._queued[:MAX_BATCH]
                        del self._queued[:MAX_BATCH]
                    self._run(batch)
        if job.error is not None:
            raise job.error
        return job.result  # type: ignore[return-value]

    def _run(self, batch: list[_Job[object]]) -> None:
        """Run ``batch`` in one transaction; if that fails, each job in its own."""
        try:
            try:
                with self._transaction() as conn:
                    results = _in_one(conn, batch)
            except Exception as exc:
                if len(batch) == 1:
                    _finish(batch[0], error=exc)
                else:
                    for job in batch:
                        self._alone(job)
            else:
                for job, result in zip(batch, results, strict=True):
                    _finish(job, result=result)
        except BaseException as exc:  # interrupted: no job may wait for ever
            for job in batch:
                if not job.done:
                    _finish(job, error=exc)
            raise

    def _alone(self, job: _Job[object]) -> None:
        try:
            with self._transaction() as conn:
                (result,) = _in_one(conn, [job])
        except Exception as exc:
            _finish(job, error=exc)
        else:
            _finish(job, result=result)


def _in_one(conn: Raw, batch: list[_Job[object]]) -> list[object]:
    """Every job of ``batch`` in ``conn``'s transaction: keys locked first, then (on a
    database server, in the same round trip) the jobs' reads when they cannot see each
    other's writes (distinct keys) and the chain's lock and head when a job audits; the
    audit records are appended last."""
    keys = [k for job in batch for k in job.keys]
    prefetched: list[list[list[Any]] | None] = [None] * len(batch)
    ahead = conn.concurrent and len(set(keys)) == len(keys)
    reads = [r for job in batch for r in job.reads] if ahead else []
    chain = head_ahead(conn) if conn.concurrent and any(job.audit for job in batch) else []
    if reads or chain:
        locks = key_locks(conn, keys)
        found = conn.rows_together([*locks, *reads, *chain])
        at = len(locks)
        for n, job in enumerate(batch):
            if reads and job.reads:
                prefetched[n] = found[at : at + len(job.reads)]
                at += len(job.reads)
        if chain:
            conn.chain_head = found[-1]
    else:
        lock_keys(conn, keys)
    conn.deferred = []
    try:
        results = []
        for job, rows in zip(batch, prefetched, strict=True):
            conn.prefetched = rows
            results.append(job.work(conn))
        conn.prefetched = None
        deferred, conn.deferred = conn.deferred, None
        append_audits(conn, deferred)
    finally:
        conn.deferred = None
        conn.prefetched = None
        conn.chain_head = None
    return results


def _finish(job: _Job[T], *, result: T | None = None, error: BaseException | None = None) -> None:
    job.result, job.error = result, error
    job.done = True
