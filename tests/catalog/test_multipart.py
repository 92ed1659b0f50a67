"""Multipart uploads in the catalog: parts, completion, abort, listing, garbage."""

from __future__ import annotations

import secrets
from dataclasses import replace

import pytest

from domicile.catalog import Part, PartSegment, Placement, Segment, SqlCatalog, Upload
from domicile.errors import BucketNotEmpty, BucketNotFound, InvalidPart, UploadNotFound
from tests.catalog.records import commit, version

SITES = ("s1", "s2")


def _upload(key: str = "k", upload_id: str | None = None, initiated: float = 1e9) -> Upload:
    return Upload(
        upload_id=upload_id or secrets.token_hex(16),
        bucket="docs",
        key=key,
        tenant="acme",
        policy="eu-only",
        sites=SITES,
        meta={"content_type": "text/plain", "user": {"a": "b"}},
        initiated=initiated,
    )


def _part(upload: Upload, number: int, n: int = 2) -> Part:
    segments = tuple(
        PartSegment(i, f"b{secrets.token_hex(16)}", 5, 100, 137, "f" * 64) for i in range(n)
    )
    return Part(upload.upload_id, number, "e" * 32, 5 * n, 1e9 + number, segments)


def _garbage(catalog: SqlCatalog) -> set[tuple[str, str, str]]:
    return {(g.site_id, g.blob_id, g.reason) for g in catalog.garbage()}


def _queued(part: Part, reason: str) -> set[tuple[str, str, str]]:
    return {(site, s.blob_id, reason) for site in SITES for s in part.segments}


def _complete(catalog: SqlCatalog, upload: Upload, parts: list[Part]) -> None:
    v = version("docs", upload.key)
    segs = [
        Segment(v.version_id, i, s.blob_id, 5, 100, 137, "f" * 64)
        for i, s in enumerate(s for p in parts for s in p.segments)
    ]
    places = [Placement(v.version_id, site, "ok", v.created_at) for site in SITES]
    catalog.complete_upload(upload.upload_id, v, segs, places)


@pytest.fixture
def docs(catalog: SqlCatalog) -> SqlCatalog:
    catalog.create_bucket("docs", "eu-only", "acme")
    return catalog


def test_an_upload_round_trips(docs: SqlCatalog) -> None:
    upload = _upload()
    docs.create_upload(upload)
    assert docs.get_upload(upload.upload_id) == upload
    with pytest.raises(UploadNotFound) as err:
        docs.get_upload("nope")
    assert err.value.context["upload"] == "nope"
    with pytest.raises(BucketNotFound):
        docs.create_upload(replace(upload, bucket="gone"))


def test_parts_are_replaced_and_their_blobs_queued(docs: SqlCatalog) -> None:
    upload = _upload()
    docs.create_upload(upload)
    first, second = _part(upload, 1), _part(upload, 2, n=3)
    assert docs.put_part(first) is None and docs.put_part(second) is None
    assert docs.garbage() == []
    again = _part(upload, 1, n=1)
    replaced = docs.put_part(again)
    assert replaced is not None and replaced.part_number == 1
    assert _garbage(docs) == _queued(first, "part replaced")
    assert docs.upload_parts(upload.upload_id) == [again, second]
    listed = docs.list_parts(upload.upload_id)
    assert [(p.part_number, p.segments) for p in listed] == [(1, ()), (2, ())]
    with pytest.raises(UploadNotFound):
        docs.put_part(_part(_upload(), 1))


def test_list_parts_pages(docs: SqlCatalog) -> None:
    upload = _upload()
    docs.create_upload(upload)
    for n in (3, 1, 7, 5):
        docs.put_part(_part(upload, n, n=1))
    assert [p.part_number for p in docs.list_parts(upload.upload_id, limit=2)] == [1, 3]
    assert [p.part_number for p in docs.list_parts(upload.upload_id, after=3)] == [5, 7]
    assert docs.list_parts(upload.upload_id, after=7) == []


def test_complete_commits_the_version_and_queues_unused_parts(docs: SqlCatalog) -> None:
    old = commit(docs, "docs", "k")
    upload = _upload()
    docs.create_upload(upload)
    p1, p2, p3 = (_part(upload, n) for n in (1, 2, 3))
    for p in (p1, p2, p3):
        docs.put_part(p)
    _complete(docs, upload, [p1, p3])
    current = docs.current_version("docs", "k")
    assert current.version_id != old.version_id
    blobs = [s.blob_id for s in docs.segments(current.version_id)]
    assert blobs == [s.blob_id for p in (p1, p3) for s in p.segments]
    assert [p.site_id for p in docs.placements(current.version_id)] == list(SITES)
    garbage = _garbage(docs)
    assert _queued(p2, "part unused") <= garbage
    assert {r for (_, _, r) in garbage} == {"part unused", "replaced"}
    with pytest.raises(UploadNotFound):
        docs.get_upload(upload.upload_id)
    with pytest.raises(UploadNotFound):
        _complete(docs, upload, [p1, p3])  # a second completion


def test_complete_refuses_a_part_replaced_meanwhile(docs: SqlCatalog) -> None:
    upload = _upload()
    docs.create_upload(upload)
    stale = _part(upload, 1)
    docs.put_part(stale)
    docs.put_part(_part(upload, 1))
    with pytest.raises(InvalidPart):
        _complete(docs, upload, [stale])
    assert docs.get_upload(upload.upload_id) == upload  # nothing happened
    with pytest.raises(UploadNotFound):
        _complete(docs, replace(upload, key="other"), [])


def test_abort_queues_every_part(docs: SqlCatalog) -> None:
    upload = _upload()
    docs.create_upload(upload)
    parts = [_part(upload, n) for n in (1, 2)]
    for p in parts:
        docs.put_part(p)
    assert docs.abort_upload(upload.upload_id) == upload
    assert _garbage(docs) == _queued(parts[0], "upload aborted") | _queued(
        parts[1], "upload aborted"
    )
    with pytest.raises(UploadNotFound):
        docs.abort_upload(upload.upload_id)
    with pytest.raises(UploadNotFound):
        docs.list_parts(upload.upload_id)


def test_list_uploads_in_key_then_upload_order(docs: SqlCatalog) -> None:
    made = [
        _upload(key, f"{i:032x}") for i, key in enumerate(["b", "a", "b", "a/x", "c", "b", "a%"])
    ]
    for u in made:
        docs.create_upload(u)

    def ids(**kw: str | int) -> list[tuple[str, str]]:
        return [(u.key, u.upload_id[-1]) for u in docs.list_uploads("docs", **kw)]  # type: ignore[arg-type]

    assert ids() == [
        ("a", "1"), ("a%", "6"), ("a/x", "3"), ("b", "0"), ("b", "2"), ("b", "5"), ("c", "4")
    ]  # fmt: skip
    assert ids(limit=2) == [("a", "1"), ("a%", "6")]
    assert ids(key_marker="b") == [("c", "4")]
    assert ids(key_marker="b", upload_id_marker=f"{2:032x}") == [("b", "5"), ("c", "4")]
    assert ids(prefix="a") == [("a", "1"), ("a%", "6"), ("a/x", "3")]
    assert ids(prefix="a/") == [("a/x", "3")]
    assert ids(prefix="a%") == [("a%", "6")]  # no LIKE: % is a plain character
    with pytest.raises(BucketNotFound):
        docs.list_uploads("gone")


def test_expired_uploads_and_blobs_on_a_site(docs: SqlCatalog) -> None:
    old, new = _upload("old", initiated=100.0), _upload("new", initiated=200.0)
    other = replace(_upload("elsewhere", initiated=50.0), sites=("s3",))
    for u in (old, new, other):
        docs.create_upload(u)
    p_old, p_other = _part(old, 1), _part(other, 1)
    docs.put_part(p_old)
    docs.put_part(p_other)
    before = docs.uploads_initiated_before(150.0)
    assert [u.upload_id for u in before] == [other.upload_id, old.upload_id]
    assert docs.uploads_initiated_before(150.0, limit=1) == [other]
    assert docs.upload_blobs_on_site("s1") == {s.blob_id for s in p_old.segments}
    assert docs.upload_blobs_on_site("s3") == {s.blob_id for s in p_other.segments}
    assert docs.upload_blobs_on_site("s9") == set()


def test_delete_bucket_aborts_its_uploads(docs: SqlCatalog) -> None:
    upload = _upload()
    docs.create_upload(upload)
    part = _part(upload, 1)
    docs.put_part(part)
    commit(docs, "docs", "obj")
    with pytest.raises(BucketNotEmpty):
        docs.delete_bucket("docs")
    assert docs.get_upload(upload.upload_id) == upload  # refused: nothing aborted
    docs.delete_object("docs", "obj")
    docs.garbage_done([g.id for g in docs.garbage()])
    assert docs.delete_bucket("docs") == [upload.upload_id]
    assert _garbage(docs) == _queued(part, "bucket deleted")
    with pytest.raises(UploadNotFound):
        docs.get_upload(upload.upload_id)


def test_checksums_are_kept_with_uploads_parts_and_versions(docs: SqlCatalog) -> None:
    upload = replace(_upload(), checksum="SHA256")
    docs.create_upload(upload)
    assert docs.get_upload(upload.upload_id).checksum == "SHA256"
    part = replace(_part(upload, 1), checksums={"SHA256": "c" * 44})
    docs.put_part(part)
    plain = _part(upload, 2)
    docs.put_part(plain)
    listed = docs.list_parts(upload.upload_id)
    assert [p.checksums for p in listed] == [{"SHA256": "c" * 44}, {}]
    assert [p.checksums for p in docs.upload_parts(upload.upload_id)] == [{"SHA256": "c" * 44}, {}]
    v = replace(
        version("docs", "k"), checksums={"SHA256": "d" * 44 + "-2"}, checksum_type="composite"
    )
    segs = [
        Segment(v.version_id, i, s.blob_id, 5, 100, 137, "f" * 64)
        for i, s in enumerate(s for p in (part, plain) for s in p.segments)
    ]
    docs.complete_upload(upload.upload_id, v, segs, [Placement(v.version_id, "s1", "ok", 1.0)])
    found = docs.current_version("docs", "k")
    assert (found.checksums, found.checksum_type) == ({"SHA256": "d" * 44 + "-2"}, "composite")
    assert docs.lookup("docs", "k").version.checksums == found.checksums
    assert [x.checksums for x in docs.list_objects("docs").objects] == [found.checksums]


def test_a_version_without_checksums_reads_back_empty(docs: SqlCatalog) -> None:
    commit(docs, "docs", "plain")
    found = docs.current_version("docs", "plain")
    assert (found.checksums, found.checksum_type) == ({}, None)
    assert docs.get_upload(_created(docs).upload_id).checksum is None


def _created(catalog: SqlCatalog) -> Upload:
    upload = _upload("other")
    catalog.create_upload(upload)
    return upload
