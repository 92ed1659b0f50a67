"""Conditional commits (compare-and-set in the committing transaction), completed uploads
remembered for retries, and the version columns of step 7 (Content-Language, part sizes)."""

from __future__ import annotations

import secrets
import threading
from dataclasses import replace

import pytest

from domicile.catalog import (
    Expect,
    Part,
    PartSegment,
    Placement,
    Segment,
    SqlCatalog,
    Upload,
    Version,
)
from domicile.errors import ObjectNotFound, PreconditionFailed, UploadNotFound
from tests.catalog.records import commit, parts, version


@pytest.fixture
def docs(catalog: SqlCatalog) -> SqlCatalog:
    catalog.create_bucket("docs", "eu-only", "acme")
    return catalog


def test_expect_absent_commits_only_while_the_key_has_no_version(docs: SqlCatalog) -> None:
    first = version("docs", "k")
    docs.commit_version(first, *parts(first), expect=Expect(absent=True))
    second = version("docs", "k")
    with pytest.raises(PreconditionFailed):
        docs.commit_version(second, *parts(second), expect=Expect(absent=True))
    assert docs.current_version("docs", "k").version_id == first.version_id
    assert docs.segments(second.version_id) == [] and docs.placements(second.version_id) == []
    assert docs.garbage() == []  # nothing of the winner was unreferenced


def test_expect_etag_is_compared_with_the_current_version(docs: SqlCatalog) -> None:
    with pytest.raises(ObjectNotFound):  # no version to compare with: NoSuchKey on S3
        v = version("docs", "k")
        docs.commit_version(v, *parts(v), expect=Expect(etag='"' + "0" * 32 + '"'))
    old = replace(version("docs", "k"), etag="a" * 32)
    docs.commit_version(old, *parts(old))
    stale = version("docs", "k")
    with pytest.raises(PreconditionFailed):
        docs.commit_version(stale, *parts(stale), expect=Expect(etag="b" * 32))
    new = version("docs", "k")
    docs.commit_version(new, *parts(new), expect=Expect(etag=f'"{"a" * 32}"'))
    assert docs.current_version("docs", "k").version_id == new.version_id
    anyone = version("docs", "k")
    docs.commit_version(anyone, *parts(anyone), expect=Expect(etag="*"))
    assert docs.current_version("docs", "k").version_id == anyone.version_id


def test_racing_conditional_commits_have_exactly_one_winner(docs: SqlCatalog) -> None:
    """16 threads commit one key expecting it absent, through the group commit: one wins,
    whatever batches the commits share."""
    start = threading.Barrier(16)
    won: list[str] = []
    refused: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        v = version("docs", "raced")
        segs, places = parts(v)
        start.wait()
        try:
            docs.commit_version(v, segs, places, expect=Expect(absent=True))
        except PreconditionFailed:
            with lock:
                refused.append(v.version_id)
        else:
            with lock:
                won.append(v.version_id)

    threads = [threading.Thread(target=attempt) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(won) == 1 and len(refused) == 15
    assert docs.current_version("docs", "raced").version_id == won[0]
    for vid in refused:
        assert docs.segments(vid) == []


def test_a_conditional_commit_in_a_batch_fails_alone(docs: SqlCatalog) -> None:
    """Unconditional commits of other keys sharing the transaction are kept."""
    commit(docs, "docs", "taken")
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def one(n: int) -> None:
        key = "taken" if n == 0 else f"free-{n}"
        v = version("docs", key)
        start.wait()
        try:
            docs.commit_version(v, *parts(v), expect=Expect(absent=True))
        except PreconditionFailed as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(errors) == 1
    assert sorted(v.key for v in docs.iter_versions("docs")) == sorted(
        ["taken", *(f"free-{n}" for n in range(1, 8))]
    )


def _upload(key: str = "k") -> tuple[Upload, Part]:
    upload = Upload(
        upload_id=secrets.token_hex(16),
        bucket="docs",
        key=key,
        tenant="acme",
        policy="eu-only",
        sites=("s1",),
        meta={"content_type": "text/plain"},
        initiated=1e9,
    )
    part = Part(
        upload.upload_id,
        1,
        "e" * 32,
        5,
        1e9,
        (PartSegment(0, f"b{secrets.token_hex(16)}", 5, 100, 137, "f" * 64),),
    )
    return upload, part


def _records(upload: Upload, part: Part) -> tuple[Version, list[Segment], list[Placement]]:
    v = replace(version("docs", upload.key, size=5), part_sizes=(5,), etag="f" * 32 + "-1")
    segs = [Segment(v.version_id, 0, part.segments[0].blob_id, 5, 100, 137, "f" * 64)]
    return v, segs, [Placement(v.version_id, "s1", "ok", v.created_at)]


def test_a_conditional_completion_refused_keeps_the_upload(docs: SqlCatalog) -> None:
    commit(docs, "docs", "k")
    upload, part = _upload()
    docs.create_upload(upload)
    docs.put_part(part)
    v, segs, places = _records(upload, part)
    with pytest.raises(PreconditionFailed):
        docs.complete_upload(upload.upload_id, v, segs, places, expect=Expect(absent=True))
    assert docs.get_upload(upload.upload_id) == upload
    assert [p.part_number for p in docs.list_parts(upload.upload_id)] == [1]
    assert docs.completed_upload(upload.upload_id) is None


def test_completed_uploads_are_remembered_then_forgotten(docs: SqlCatalog) -> None:
    upload, part = _upload()
    docs.create_upload(upload)
    docs.put_part(part)
    v, segs, places = _records(upload, part)
    docs.complete_upload(upload.upload_id, v, segs, places, listed=[(1, "e" * 32)])
    with pytest.raises(UploadNotFound):
        docs.get_upload(upload.upload_id)
    done = docs.completed_upload(upload.upload_id)
    assert done is not None
    assert (done.bucket, done.key, done.version_id, done.etag, done.size) == (
        "docs",
        "k",
        v.version_id,
        "f" * 32 + "-1",
        5,
    )
    assert done.parts == ((1, "e" * 32),)
    stored = docs.current_version("docs", "k")
    assert stored.part_sizes == (5,)
    assert docs.forget_completed_uploads(before=done.completed_at) == 0
    assert docs.forget_completed_uploads(before=done.completed_at + 1) == 1
    assert docs.completed_upload(upload.upload_id) is None


def test_content_language_and_part_sizes_round_trip(docs: SqlCatalog) -> None:
    v = replace(version("docs", "lang"), content_language="de-CH, en", part_sizes=(7, 3))
    docs.commit_version(v, *parts(v))
    got = docs.current_version("docs", "lang")
    assert got.content_language == "de-CH, en" and got.part_sizes == (7, 3)
    plain = commit(docs, "docs", "plain")
    got = docs.current_version("docs", "plain")
    assert got.version_id == plain.version_id
    assert got.content_language is None and got.part_sizes == ()
