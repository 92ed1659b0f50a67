"""Group commit: concurrent writers share transactions; a failure reaches only its caller."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from domicile.catalog.groupcommit import MAX_BATCH, GroupCommit
from domicile.catalog.prepared import Prepared, Raw

_T = sa.table("t", sa.column("n"))
_INSERT = Prepared(sa.insert(_T))
_ALL = Prepared(sa.select(_T.c.n).order_by(_T.c.n))


class Store:
    """A SQLite file, a write lock, and a log of the transactions the committer opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.transactions: list[int] = []  # the number of jobs run in each (per commit)
        self._dialect = sa.create_engine("sqlite://").dialect
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY)")
        self.committer = GroupCommit(self.lock, self.transaction)

    @contextmanager
    def transaction(self) -> Iterator[Raw]:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")
        counter = [0]
        try:
            yield Counting(conn, self._dialect, counter)
        except BaseException:
            conn.rollback()
            raise
        else:
            conn.commit()
            self.transactions.append(counter[0])
        finally:
            conn.close()

    def values(self) -> list[int]:
        with sqlite3.connect(self.path) as conn:
            return [n for (n,) in conn.execute("SELECT n FROM t ORDER BY n")]


class Counting(Raw):
    """A Raw that counts the inserts of its transaction."""

    __slots__ = ("_counter",)

    def __init__(self, driver: sqlite3.Connection, dialect: sa.Dialect, counter: list[int]):
        super().__init__(driver, dialect)
        self._counter = counter

    def run(self, prepared: Prepared, params: dict[str, object]) -> int:  # type: ignore[override]
        self._counter[0] += 1
        return super().run(prepared, params)


def insert(n: int) -> Callable[[Raw], int]:
    def work(raw: Raw) -> int:
        raw.run(_INSERT, {"n": n})
        return n

    return work


def failing(n: int) -> Callable[[Raw], int]:
    def work(raw: Raw) -> int:
        raw.run(_INSERT, {"n": n})
        raise ValueError(f"job {n} refuses")

    return work


def queue_behind_lock(store: Store, works: list[Callable[[Raw], int]]) -> list[object]:
    """Start one thread per work while the write lock is held, release it once all are
    queued, and return each thread's result (or exception), in order."""
    results: list[object] = [None] * len(works)

    def call(i: int) -> None:
        try:
            results[i] = store.committer.run(works[i])
        except BaseException as exc:  # an interrupt too: the test looks at it
            results[i] = exc

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(works))]
    with store.lock:
        for th in threads:
            th.start()
        deadline = time.monotonic() + 10
        while store.committer.queued < len(works):
            assert time.monotonic() < deadline, "the threads never queued their work"
            time.sleep(0.001)
    for th in threads:
        th.join(10)
    return results


def test_a_lone_writer_commits_alone(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    assert store.committer.run(insert(1)) == 1
    assert store.values() == [1]
    assert store.transactions == [1]


def test_writers_that_arrive_together_share_one_commit(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    results = queue_behind_lock(store, [insert(n) for n in range(10)])
    assert results == list(range(10))
    assert store.values() == list(range(10))
    assert store.transactions == [10]


def test_a_batch_is_bounded(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    count = MAX_BATCH + 6
    results = queue_behind_lock(store, [insert(n) for n in range(count)])
    assert results == list(range(count))
    assert sorted(store.transactions) == [6, MAX_BATCH]


def test_a_failure_reaches_only_its_caller_and_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    works = [insert(0), insert(1), failing(2), insert(3)]
    results = queue_behind_lock(store, works)
    assert results[:2] == [0, 1] and results[3] == 3
    assert isinstance(results[2], ValueError) and "job 2 refuses" in str(results[2])
    assert store.values() == [0, 1, 3]  # the failed job's insert was rolled back
    assert store.transactions == [1, 1, 1]  # the batch failed; each other job alone


def test_a_lone_failure_raises(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")
    with pytest.raises(ValueError, match="job 5 refuses"):
        store.committer.run(failing(5))
    assert store.values() == []


def test_an_interrupted_batch_releases_every_waiter(tmp_path: Path) -> None:
    store = Store(tmp_path / "db")

    def interrupted(raw: Raw) -> int:
        raise KeyboardInterrupt

    results = queue_behind_lock(store, [interrupted, insert(1)])
    # The leader (whichever thread ran the batch) sees the interrupt propagate; the other
    # gets it as its error instead of waiting for ever; nothing is committed.
    assert all(isinstance(r, KeyboardInterrupt) for r in results)
    assert store.values() == []
