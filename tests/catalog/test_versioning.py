"""Versioning in the catalog: noncurrent versions kept, null versions replaced, delete
markers, removal of one version with promotion, and ListObjectVersions paging."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domicile.catalog import SqlCatalog, Version
from domicile.errors import (
    BucketNotEmpty,
    ObjectNotFound,
    VersionIsDeleteMarker,
    VersionNotFound,
)
from tests.catalog.records import parts, version


def put(catalog: SqlCatalog, key: str, *, null: bool = False, marker: bool = False) -> Version:
    v = replace(version("docs", key), null_version=null, delete_marker=marker)
    segs, places = parts(v, n=0 if marker else 2)
    catalog.commit_version(v, segs, places)
    return v


def queued(catalog: SqlCatalog, v: Version) -> set[str]:
    return {g.blob_id for g in catalog.garbage(origins=[v.version_id])}


@pytest.fixture
def docs(catalog: SqlCatalog) -> SqlCatalog:
    catalog.create_bucket("docs", "p")
    assert catalog.get_bucket("docs").versioning is None
    assert catalog.set_versioning("docs", "Enabled").versioning == "Enabled"
    return catalog


def test_versioning_status_is_stored_and_checked(docs: SqlCatalog) -> None:
    assert docs.set_versioning("docs", "Suspended").versioning == "Suspended"
    assert docs.get_bucket("docs").versioning == "Suspended"
    with pytest.raises(ValueError, match="unknown versioning status"):
        docs.set_versioning("docs", "Disabled")


def test_a_versioned_put_keeps_the_previous_version_and_its_blobs(docs: SqlCatalog) -> None:
    first, second = put(docs, "k"), put(docs, "k")
    assert docs.current_version("docs", "k").version_id == second.version_id
    old = docs.find_version("docs", "k", first.version_id)
    assert (old.state, old.is_latest, old.seq) == ("superseded", False, 1)
    assert docs.find_version("docs", "k", second.version_id).seq == 2
    assert queued(docs, first) == set()
    assert len(docs.segments(first.version_id)) == 2
    assert {v.version_id for v in docs.iter_versions("docs")} == {
        first.version_id,
        second.version_id,
    }
    # ids are per key; null is no version of this key yet
    with pytest.raises(VersionNotFound):
        docs.find_version("docs", "other", first.version_id)
    with pytest.raises(VersionNotFound):
        docs.find_version("docs", "k", "null")


def test_a_null_version_replaces_the_null_version_only(docs: SqlCatalog) -> None:
    null1 = put(docs, "k", null=True)
    real = put(docs, "k")
    null2 = put(docs, "k", null=True)  # suspended: replaces null1, keeps real
    assert queued(docs, null1)
    assert queued(docs, real) == set()
    assert docs.find_version("docs", "k", "null").version_id == null2.version_id
    assert docs.current_version("docs", "k").version_id == null2.version_id
    null3 = put(docs, "k", null=True)  # the null version is current: replaced
    assert queued(docs, null2)
    listed = docs.list_versions("docs").versions
    assert [v.version_id for v in listed] == [null3.version_id, real.version_id]
    assert [v.s3_version_id for v in listed] == ["null", real.version_id]


def test_a_delete_marker_hides_the_key(docs: SqlCatalog) -> None:
    kept = put(docs, "k")
    marker = put(docs, "k", marker=True)
    with pytest.raises(ObjectNotFound) as err:
        docs.current_version("docs", "k")
    assert err.value.context["delete_marker"] is True
    assert err.value.context["version"] == marker.version_id
    with pytest.raises(ObjectNotFound):
        docs.lookup("docs", "k")
    with pytest.raises(VersionIsDeleteMarker):
        docs.lookup("docs", "k", marker.version_id)
    assert docs.lookup("docs", "k", kept.version_id).version.version_id == kept.version_id
    assert docs.list_objects("docs").objects == []
    with pytest.raises(BucketNotEmpty):
        docs.delete_bucket("docs")


def test_deleting_the_current_version_promotes_the_newest(docs: SqlCatalog) -> None:
    first, second = put(docs, "k"), put(docs, "k")
    marker = put(docs, "k", marker=True)
    removed = docs.delete_version("docs", "k", marker.version_id)
    assert removed is not None
    assert removed[0].version_id == marker.version_id
    assert removed[1] is not None and removed[1].version_id == second.version_id
    assert docs.current_version("docs", "k").version_id == second.version_id
    # a noncurrent one: nothing promoted, its blobs queued
    gone = docs.delete_version("docs", "k", first.version_id)
    assert gone is not None and gone[1] is None
    assert queued(docs, first)
    assert docs.delete_version("docs", "k", first.version_id) is None
    assert docs.delete_version("docs", "other", second.version_id) is None
    last = docs.delete_version("docs", "k", second.version_id)
    assert last is not None and last[1] is None
    docs.delete_bucket("docs")


def test_a_put_after_a_promotion_is_newest(docs: SqlCatalog) -> None:
    a, b = put(docs, "k"), put(docs, "k")
    docs.delete_version("docs", "k", b.version_id)
    c = put(docs, "k")
    assert [v.version_id for v in docs.list_versions("docs").versions] == [
        c.version_id,
        a.version_id,
    ]


def test_conditional_writes_treat_a_marker_as_no_object(docs: SqlCatalog) -> None:
    from domicile.catalog import Expect

    put(docs, "k")
    put(docs, "k", marker=True)
    v = version("docs", "k")
    segs, places = parts(v)
    docs.commit_version(replace(v, null_version=False), segs, places, expect=Expect(absent=True))
    assert docs.current_version("docs", "k").version_id == v.version_id


def test_list_versions_order_and_paging(docs: SqlCatalog) -> None:
    made: dict[str, list[Version]] = {}
    for key in ("b", "a/x", "a/y", "c"):
        made[key] = [put(docs, key) for _ in range(3)]
    marker = put(docs, "b", marker=True)
    expected = [
        (key, v.version_id)
        for key in sorted(made)
        for v in ([marker] if key == "b" else []) + made[key][::-1]
    ]
    whole = docs.list_versions("docs")
    assert [(v.key, v.version_id) for v in whole.versions] == expected
    assert not whole.is_truncated
    assert [v.is_latest for v in whole.versions][:4] == [True, False, False, True]
    # page by 2, resuming from the markers
    seen: list[tuple[str, str]] = []
    key_marker, version_marker = "", ""
    while True:
        page = docs.list_versions(
            "docs", key_marker=key_marker, version_id_marker=version_marker, limit=2
        )
        seen += [(v.key, v.version_id) for v in page.versions]
        if not page.is_truncated:
            break
        assert page.next_key_marker is not None and page.next_version_id_marker is not None
        key_marker, version_marker = page.next_key_marker, page.next_version_id_marker
    assert seen == expected
    # a key marker alone skips that key's versions
    after = docs.list_versions("docs", key_marker="a/y")
    assert {v.key for v in after.versions} == {"b", "c"}
    # delimiter and prefix
    rolled = docs.list_versions("docs", delimiter="/", limit=2)
    assert rolled.common_prefixes == ["a/"]
    assert [v.key for v in rolled.versions] == ["b"]
    assert (rolled.next_key_marker, rolled.is_truncated) == ("b", True)
    under = docs.list_versions("docs", prefix="a/", delimiter="/")
    assert [v.key for v in under.versions] == ["a/x"] * 3 + ["a/y"] * 3
    # a marker removed since: resume at the key's newest remaining version
    gone = docs.list_versions("docs", key_marker="b", version_id_marker="0" * 32)
    assert [v.key for v in gone.versions][:5] == ["b"] * 4 + ["c"]
