"""Every catalog operation, its errors, and its transactional guarantees."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from domicile.catalog import SqlCatalog, open_catalog
from domicile.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    BucketNotFound,
    CatalogVersionError,
    ObjectNotFound,
)
from tests.catalog.records import commit, parts, version


def test_buckets(catalog: SqlCatalog) -> None:
    b = catalog.create_bucket("docs", "eu-only", "acme")
    assert (b.name, b.policy, b.tenant) == ("docs", "eu-only", "acme")
    assert catalog.get_bucket("docs") == b
    with pytest.raises(BucketAlreadyExists):
        catalog.create_bucket("docs", "other")
    catalog.create_bucket("art", "p", "other")
    assert [x.name for x in catalog.list_buckets()] == ["art", "docs"]
    assert [x.name for x in catalog.list_buckets("acme")] == ["docs"]
    with pytest.raises(BucketNotFound) as err:
        catalog.get_bucket("nope")
    assert err.value.context["bucket"] == "nope"
    assert err.value.hint


def test_delete_bucket_only_when_empty(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    commit(catalog, "docs", "k")
    with pytest.raises(BucketNotEmpty):
        catalog.delete_bucket("docs")
    catalog.delete_object("docs", "k")
    catalog.delete_bucket("docs")
    with pytest.raises(BucketNotFound):
        catalog.delete_bucket("docs")


def test_commit_and_read_back(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = version("docs", "a/b")
    segs, places = parts(v, n=3)
    assert catalog.commit_version(v, segs, places) is None
    got = catalog.current_version("docs", "a/b")
    assert got == v
    assert catalog.get_version(v.version_id) == v
    assert catalog.segments(v.version_id) == segs
    assert catalog.placements(v.version_id) == places
    with pytest.raises(ObjectNotFound) as err:
        catalog.current_version("docs", "other")
    assert err.value.context == {"bucket": "docs", "key": "other"}
    with pytest.raises(BucketNotFound):
        catalog.current_version("nope", "a/b")


def test_replacing_a_version_queues_all_its_blobs(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    old = version("docs", "k")
    segs, places = parts(old, sites=("s1", "s2"), n=2)
    catalog.commit_version(old, segs, places)
    new = commit(catalog, "docs", "k")
    assert catalog.current_version("docs", "k").version_id == new.version_id
    queued = {(g.site_id, g.blob_id) for g in catalog.garbage()}
    expected = {
        (site, blob)
        for site in ("s1", "s2")
        for blob in [s.blob_id for s in segs] + [old.manifest_blob_id]
    }
    assert queued == expected
    assert catalog.segments(old.version_id) == []
    catalog.garbage_done([g.id for g in catalog.garbage()])
    assert catalog.garbage() == []


def test_delete_object_queues_and_is_idempotent(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = commit(catalog, "docs", "k")
    removed = catalog.delete_object("docs", "k")
    assert removed is not None and removed.version_id == v.version_id
    assert catalog.delete_object("docs", "k") is None
    assert len(catalog.garbage()) == 2 * 3  # 2 sites x (2 segments + manifest)


def test_commit_into_a_missing_bucket_changes_nothing(catalog: SqlCatalog) -> None:
    v = version("nope", "k")
    segs, places = parts(v)
    with pytest.raises(BucketNotFound):
        catalog.commit_version(v, segs, places)
    assert catalog.garbage() == []


def test_failed_commit_rolls_back_entirely(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    old = commit(catalog, "docs", "k")
    new = version("docs", "k")
    segs, _ = parts(new)
    bad = [*parts(new)[1]]
    bad.append(bad[0])  # duplicate placement: violates the primary key mid-transaction
    with pytest.raises(Exception, match=r"UNIQUE|unique|duplicate"):
        catalog.commit_version(new, segs, bad)
    assert catalog.current_version("docs", "k").version_id == old.version_id
    assert catalog.garbage() == []
    assert len(catalog.segments(old.version_id)) == 2


def test_placements_states_and_removal(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = commit(catalog, "docs", "k")
    catalog.set_placement_state(v.version_id, "s1", "corrupt", verified_at=1234.5)
    p = {x.site_id: x for x in catalog.placements(v.version_id)}
    assert p["s1"].state == "corrupt" and p["s1"].verified_at == 1234.5
    with pytest.raises(ValueError, match="unknown placement state"):
        catalog.set_placement_state(v.version_id, "s1", "weird")
    catalog.remove_placement(v.version_id, "s1")
    assert [x.site_id for x in catalog.placements(v.version_id)] == ["s2"]
    assert {g.site_id for g in catalog.garbage()} == {"s1"}
    assert len(catalog.garbage()) == 3
    assert [x.version_id for x in catalog.versions_on_site("s2")] == [v.version_id]
    assert list(catalog.versions_on_site("s1")) == []


def test_faults(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = commit(catalog, "docs", "k")
    catalog.record_fault(v.version_id, "s1", "corrupt", "ChunkAuthError", segment_idx=1)
    catalog.record_fault(v.version_id, "s2", "unreachable", "timeout")
    assert [f.kind for f in catalog.open_faults(version_id=v.version_id)] == [
        "corrupt",
        "unreachable",
    ]
    assert [f.segment_idx for f in catalog.open_faults(site_id="s1")] == [1]
    assert catalog.resolve_faults(v.version_id, "s1") == 1
    assert [f.site_id for f in catalog.open_faults()] == ["s2"]


def test_iter_versions_pages_through_everything(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    catalog.create_bucket("art", "p")
    ids = {commit(catalog, "docs", f"k{i}").version_id for i in range(1203)}
    commit(catalog, "art", "x")
    assert {v.version_id for v in catalog.iter_versions("docs")} == ids
    assert sum(1 for _ in catalog.iter_versions()) == 1204
    stats = {s.bucket: s for s in catalog.stats()}
    assert stats["docs"].objects == 1203 and stats["docs"].bytes == 12030


def test_wal_mode_and_reopen(catalog_url: str, catalog: SqlCatalog) -> None:
    assert catalog.journal_mode() == "wal"
    catalog.create_bucket("docs", "p")
    catalog.close()
    again = open_catalog(catalog_url)
    assert again.get_bucket("docs").policy == "p"
    again.close()


def test_future_schema_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/c.db"
    open_catalog(url).close()
    with sqlite3.connect(tmp_path / "c.db") as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(CatalogVersionError) as err:
        open_catalog(url)
    assert "upgrade domicile" in (err.value.hint or "")


def test_one_current_version_under_concurrent_commits(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(20):
                commit(catalog, "docs", "same-key")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    current = list(catalog.iter_versions("docs"))
    assert len(current) == 1
    # 119 replaced versions, each 2 sites x 3 blobs, all queued exactly once
    assert len(catalog.garbage(limit=10_000)) == 119 * 6
