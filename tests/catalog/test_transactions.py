"""Atomicity, the SQLite settings, and the invariants under concurrent threads."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Sequence

import pytest

from domicile.catalog import SqlCatalog, open_catalog
from domicile.errors import ObjectNotFound
from tests.catalog.records import commit, parts, version


def _run(threads: int, work: Callable[[], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            work()
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    started = [threading.Thread(target=guarded) for _ in range(threads)]
    for th in started:
        th.start()
    for th in started:
        th.join()
    return errors


def test_sqlite_settings(sqlite_url: str) -> None:
    catalog = open_catalog(sqlite_url)
    try:
        assert catalog.journal_mode() == "wal"
        db = catalog._db
        assert db.pragma("synchronous") == "1"  # NORMAL
        assert db.pragma("foreign_keys") == "1"
        assert db.pragma("busy_timeout") == "30000"
        with pytest.raises(ValueError, match="not a pragma"):
            db.pragma("journal_mode; DROP TABLE buckets")
    finally:
        catalog.close()


def test_a_failure_late_in_commit_changes_nothing(catalog: SqlCatalog) -> None:
    """The audit builder runs last, after the old version was dropped and its blobs queued."""
    catalog.create_bucket("docs", "p")
    old = commit(catalog, "docs", "k")
    new = version("docs", "k")
    segs, places = parts(new)

    def explode(seq: int, digest: str) -> Sequence[tuple[int, str, str]]:
        raise RuntimeError("crash mid-commit")

    with pytest.raises(RuntimeError, match="crash mid-commit"):
        catalog.commit_version(new, segs, places, audit=explode)
    assert catalog.current_version("docs", "k").version_id == old.version_id
    assert len(catalog.segments(old.version_id)) == 2
    assert len(catalog.placements(old.version_id)) == 2
    assert catalog.garbage() == []
    assert catalog.segments(new.version_id) == []
    with pytest.raises(ObjectNotFound):
        catalog.get_version(new.version_id)
    assert catalog.audit_records() == []


def test_audit_rows_commit_with_the_version(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = version("docs", "k")
    segs, places = parts(v)
    heads: list[tuple[int, str]] = []

    def build(seq: int, digest: str) -> Sequence[tuple[int, str, str]]:
        heads.append((seq, digest))
        return [(seq + 1, f"h{seq + 1}", "{}")]

    catalog.commit_version(v, segs, places, audit=build)
    second = version("docs", "k")
    catalog.commit_version(second, *parts(second), audit=build)
    assert heads == [(0, ""), (1, "h1")]
    assert catalog.audit_records() == [(1, "h1", "{}"), (2, "h2", "{}")]


def test_one_current_version_under_concurrent_commits(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")

    def writer() -> None:
        for _ in range(20):
            commit(catalog, "docs", "same-key")

    assert _run(6, writer) == []
    assert len(list(catalog.iter_versions("docs"))) == 1
    # 119 replaced versions, each 2 sites x (2 segments + manifest), all queued exactly once
    garbage = catalog.garbage(limit=10_000)
    assert len(garbage) == 119 * 6
    assert len({(g.site_id, g.blob_id) for g in garbage}) == 119 * 6


def test_readers_always_see_exactly_one_version_while_writers_replace_it(
    catalog: SqlCatalog,
) -> None:
    catalog.create_bucket("docs", "p")
    commit(catalog, "docs", "k")
    stop = threading.Event()

    def writer() -> None:
        try:
            for _ in range(40):
                commit(catalog, "docs", "k")
        finally:
            stop.set()

    def reader() -> None:
        while not stop.is_set():
            current = catalog.current_version("docs", "k")  # never ObjectNotFound
            found = catalog.lookup("docs", "k")  # one snapshot: its own segments, always
            assert len(found.segments) == 2 and len(found.placements) == 2
            assert {s.version_id for s in found.segments} == {found.version.version_id}
            page = catalog.list_objects("docs")
            assert [o.key for o in page.objects] == ["k"]
            assert current.state == "current"

    writing = threading.Thread(target=writer)
    writing.start()
    errors = _run(3, reader)
    writing.join()
    assert errors == []


def test_an_in_memory_catalog_is_thread_safe() -> None:
    catalog = open_catalog("sqlite://")
    try:
        catalog.create_bucket("docs", "p")
        lock = threading.Lock()
        counter = iter(range(10_000))

        def work() -> None:
            for _ in range(25):
                with lock:
                    n = next(counter)
                commit(catalog, "docs", f"k{n % 10}")
                catalog.current_version("docs", f"k{n % 10}")
                catalog.list_objects("docs", limit=3)

        assert _run(4, work) == []
        assert catalog.stats()[0].objects == 10
    finally:
        catalog.close()


def test_sqlite_point_reads_keep_one_connection_per_thread(sqlite_url: str) -> None:
    catalog = open_catalog(sqlite_url)
    try:
        catalog.create_bucket("docs", "p")
        db = catalog._db

        def driver() -> object:
            with db.raw_read() as raw:
                return raw._driver

        mine = driver()
        assert driver() is mine  # reused: no pool checkout per read
        theirs: list[object] = []
        other = threading.Thread(target=lambda: theirs.append(driver()))
        other.start()
        other.join()
        assert theirs and theirs[0] is not mine
        # Each read is its own snapshot: a commit from elsewhere is seen by the next read.
        commit(catalog, "docs", "k")
        assert catalog.lookup("docs", "k").version.key == "k"
    finally:
        catalog.close()
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        mine.execute("SELECT 1")  # type: ignore[attr-defined]


def test_a_point_read_does_not_hold_up_a_writer(sqlite_url: str) -> None:
    catalog = open_catalog(sqlite_url)
    try:
        catalog.create_bucket("docs", "p")
        committed = threading.Event()
        with catalog._db.raw_read():  # a reader inside its transaction...
            writer = threading.Thread(
                target=lambda: (commit(catalog, "docs", "k"), committed.set())
            )
            writer.start()
            assert committed.wait(10)  # ...and the writer commits all the same (WAL)
        writer.join()
    finally:
        catalog.close()
