"""Every catalog operation, its errors, and its transactional guarantees."""

from __future__ import annotations

import pytest

from domicile.catalog import Placement, SqlCatalog
from domicile.errors import (
    BucketAlreadyExists,
    BucketNotEmpty,
    BucketNotFound,
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
    found = catalog.lookup("docs", "a/b")
    assert (found.version, found.segments, found.placements) == (v, segs, places)
    with pytest.raises(ObjectNotFound) as err:
        catalog.lookup("docs", "other")
    assert err.value.context == {"bucket": "docs", "key": "other"}
    with pytest.raises(BucketNotFound):
        catalog.lookup("nope", "a/b")


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
    assert {g.origin for g in catalog.garbage()} == {old.version_id}
    catalog.garbage_done([g.id for g in catalog.garbage()])
    assert catalog.garbage() == []


def test_garbage_is_selected_by_origin(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    a, b = commit(catalog, "docs", "a"), commit(catalog, "docs", "b")
    catalog.delete_object("docs", "a")
    catalog.delete_object("docs", "b")
    assert len(catalog.garbage()) == 12
    mine = catalog.garbage(origins=[a.version_id])
    assert len(mine) == 6 and {g.origin for g in mine} == {a.version_id}
    assert {g.blob_id for g in mine} >= {a.manifest_blob_id}
    assert catalog.garbage(origins=[a.version_id, b.version_id]) == catalog.garbage()
    assert catalog.garbage(origins=["0" * 32]) == []
    assert len(catalog.garbage(2, origins=[b.version_id])) == 2


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


def test_mark_verified_sets_ok_only_where_the_state_is_still_the_one_seen(
    catalog: SqlCatalog,
) -> None:
    catalog.create_bucket("docs", "p")
    a, b = commit(catalog, "docs", "a"), commit(catalog, "docs", "b")
    catalog.set_placement_state(a.version_id, "s2", "missing")  # seen so by the check
    catalog.set_placement_state(b.version_id, "s1", "corrupt")  # a reader, after the check
    catalog.mark_verified(
        [
            (a.version_id, "s1", "ok", 4321.5),
            (a.version_id, "s2", "missing", 4322.5),  # found good again
            (b.version_id, "s1", "ok", 4323.5),  # changed since it was seen: its fault stands
            (b.version_id, "s9", "ok", 4324.5),  # no such copy
        ]
    )
    pa = {x.site_id: x for x in catalog.placements(a.version_id)}
    pb = {x.site_id: x for x in catalog.placements(b.version_id)}
    assert [(pa[s].state, pa[s].verified_at) for s in ("s1", "s2")] == [
        ("ok", 4321.5),
        ("ok", 4322.5),
    ]
    assert (pb["s1"].state, pb["s1"].verified_at) == ("corrupt", None)
    assert (pb["s2"].state, pb["s2"].verified_at) == ("ok", None)  # not in the batch
    catalog.mark_verified([])  # nothing to do


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


def test_get_version_of_a_replaced_version(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    old = commit(catalog, "docs", "k")
    commit(catalog, "docs", "k")
    with pytest.raises(ObjectNotFound) as err:
        catalog.get_version(old.version_id)
    assert err.value.context == {"version": old.version_id}
    assert err.value.hint
    assert catalog.segments(old.version_id) == []
    assert catalog.placements(old.version_id) == []


def test_add_placement_adds_replaces_and_refuses_a_gone_version(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = commit(catalog, "docs", "k")
    catalog.add_placement(Placement(v.version_id, "s3", "ok", 5.0, 6.0))
    catalog.add_placement(Placement(v.version_id, "s1", "missing", 7.0, None))
    got = {p.site_id: p for p in catalog.placements(v.version_id)}
    assert sorted(got) == ["s1", "s2", "s3"]
    assert got["s3"] == Placement(v.version_id, "s3", "ok", 5.0, 6.0)
    assert got["s1"].state == "missing"
    with pytest.raises(ValueError, match="unknown placement state"):
        catalog.add_placement(Placement(v.version_id, "s4", "weird", 1.0))
    catalog.delete_object("docs", "k")
    with pytest.raises(ObjectNotFound):
        catalog.add_placement(Placement(v.version_id, "s5", "ok", 1.0))


def test_removing_an_absent_copy_queues_nothing(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = commit(catalog, "docs", "k")
    catalog.remove_placement(v.version_id, "elsewhere")
    catalog.remove_placement("no-such-version", "s1")
    catalog.set_placement_state("no-such-version", "s1", "ok")
    assert catalog.garbage() == []
    assert len(catalog.placements(v.version_id)) == 2


def test_listing_and_stats_of_missing_and_empty_buckets(catalog: SqlCatalog) -> None:
    with pytest.raises(BucketNotFound):
        catalog.list_objects("nope")
    with pytest.raises(BucketNotFound):
        catalog.delete_object("nope", "k")
    catalog.create_bucket("empty", "p")
    page = catalog.list_objects("empty")
    assert (page.objects, page.common_prefixes, page.is_truncated) == ([], [], False)
    assert [(s.bucket, s.objects, s.bytes) for s in catalog.stats()] == [("empty", 0, 0)]


def test_garbage_is_paged_and_done_ignores_unknown_ids(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    for i in range(4):
        commit(catalog, "docs", f"k{i}")
        catalog.delete_object("docs", f"k{i}")
    items = catalog.garbage(limit=5)
    assert len(items) == 5 and [g.id for g in items] == sorted(g.id for g in items)
    catalog.garbage_done([g.id for g in items] + [10_000_000])
    rest = catalog.garbage()
    assert len(rest) == 4 * 6 - 5
    assert not {g.id for g in rest} & {g.id for g in items}
    assert {g.reason for g in rest} == {"deleted"}


def test_copies_of_reads_a_page_of_versions_at_once(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    a, b = commit(catalog, "docs", "a"), commit(catalog, "docs", "b")
    catalog.remove_placement(b.version_id, "s1")
    found = catalog.copies_of([a.version_id, b.version_id, "gone"])
    assert [p.site_id for p in found[a.version_id][0]] == ["s1", "s2"]
    assert [p.site_id for p in found[b.version_id][0]] == ["s2"]
    assert found[a.version_id][1] == sum(
        s.ciphertext_length for s in catalog.segments(a.version_id)
    )
    assert found["gone"] == ([], 0)
