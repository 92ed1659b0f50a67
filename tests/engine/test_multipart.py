"""Multipart uploads through the engine: placed once, parts on the policy's sites only,
assembled by reference, and every unreferenced blob removed."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import domicile
from domicile.engine import ObjectMeta, multipart
from domicile.engine.multipart import MIN_PART_SIZE
from domicile.errors import (
    EntityTooSmall,
    InvalidPart,
    InvalidPartNumber,
    PlacementRefused,
    UploadNotFound,
)
from tests.engine.conftest import blob_files, drop_catalog, make_deployment

#: Each test runs on a SQLite and on a PostgreSQL catalog (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]

MiB = 1024 * 1024
META = ObjectMeta(content_type="text/x-parts", user={"who": "test"}, content_language="fr, de")


def _blob_ids(root: Path, site: str) -> set[str]:
    return {p.name for p in blob_files(root, site)}


def _all_blobs(root: Path) -> dict[str, set[str]]:
    return {site: _blob_ids(root, site) for site in ("fr", "de", "us")}


def _expected_blobs(engine: domicile.Domicile, bucket: str, key: str) -> set[str]:
    version = engine.context.catalog.current_version(bucket, key)
    segments = engine.context.catalog.segments(version.version_id)
    return {s.blob_id for s in segments} | {version.manifest_blob_id}


def _md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_three_parts_round_trip(engine: domicile.Domicile, tmp_path: Path) -> None:
    assert 5 * MiB == MIN_PART_SIZE
    bodies = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"z"]
    upload = engine.create_multipart("docs", "big", meta=META)
    assert (upload.bucket, upload.key, upload.meta) == ("docs", "big", META)
    parts = [
        engine.upload_part("docs", "big", upload.upload_id, n, b) for n, b in enumerate(bodies, 1)
    ]
    assert [(p.part_number, p.etag, p.size) for p in parts] == [
        (n, _md5(b), len(b)) for n, b in enumerate(bodies, 1)
    ]
    info = engine.complete_multipart(
        "docs", "big", upload.upload_id, [(p.part_number, f'"{p.etag}"') for p in parts]
    )
    whole = b"".join(bodies)
    md5s = b"".join(hashlib.md5(b, usedforsecurity=False).digest() for b in bodies)
    assert info.etag == f"{_md5(md5s)}-3"
    assert info.size == len(whole) and engine.head("docs", "big") == info
    assert info.meta == META
    assert engine.get("docs", "big").read() == whole
    for start, end in [(5 * MiB - 10, 5 * MiB + 10), (MiB - 1, 10 * MiB + 1), (10 * MiB, None)]:
        assert engine.get("docs", "big", start, end).read() == whole[start:end]
    # 5 segments per 5 MiB part (1 MiB segments), one for the last byte, and the manifest.
    expected = _expected_blobs(engine, "docs", "big")
    assert len(expected) == 12
    sites = sorted(c.site_id for c in engine.where("docs", "big"))
    assert sites == ["de", "fr"]
    assert _all_blobs(tmp_path) == {"fr": expected, "de": expected, "us": set()}
    assert engine.verify("deep").ok


def test_a_part_uploaded_again_replaces_the_old_one(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    upload = engine.create_multipart("docs", "k", meta=META)
    engine.upload_part("docs", "k", upload.upload_id, 1, os.urandom(3 * MiB))
    first = _blob_ids(tmp_path, "fr")
    assert len(first) == 3
    again = engine.upload_part("docs", "k", upload.upload_id, 1, b"second")
    assert _blob_ids(tmp_path, "fr").isdisjoint(first)  # the old part's blobs are gone
    info = engine.complete_multipart("docs", "k", upload.upload_id, [(1, again.etag)])
    assert engine.get("docs", "k").read() == b"second"
    assert info.etag == f"{_md5(hashlib.md5(b'second', usedforsecurity=False).digest())}-1"


def test_unlisted_parts_are_removed_on_completion(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    upload = engine.create_multipart("docs", "k", meta=META)
    p1 = engine.upload_part("docs", "k", upload.upload_id, 1, os.urandom(MIN_PART_SIZE))
    engine.upload_part("docs", "k", upload.upload_id, 2, b"left out")
    p3 = engine.upload_part("docs", "k", upload.upload_id, 3, b"tail")
    engine.complete_multipart("docs", "k", upload.upload_id, [(1, p1.etag), (3, p3.etag)])
    expected = _expected_blobs(engine, "docs", "k")
    assert _blob_ids(tmp_path, "fr") == expected == _blob_ids(tmp_path, "de")
    assert engine.context.catalog.garbage() == []
    assert engine.get("docs", "k", MIN_PART_SIZE).read() == b"tail"


def test_completing_replaces_the_current_version(engine: domicile.Domicile, tmp_path: Path) -> None:
    engine.put("docs", "k", b"old")
    upload = engine.create_multipart("docs", "k", meta=META)
    part = engine.upload_part("docs", "k", upload.upload_id, 1, b"new")
    engine.complete_multipart("docs", "k", upload.upload_id, [(1, part.etag)])
    assert engine.get("docs", "k").read() == b"new"
    assert _blob_ids(tmp_path, "fr") == _expected_blobs(engine, "docs", "k")


def test_abort_removes_every_blob(engine: domicile.Domicile, tmp_path: Path) -> None:
    upload = engine.create_multipart("docs", "k", meta=META)
    for n in (1, 2):
        engine.upload_part("docs", "k", upload.upload_id, n, os.urandom(2 * MiB))
    assert len(_blob_ids(tmp_path, "fr")) == 4
    engine.abort_multipart("docs", "k", upload.upload_id)
    assert _all_blobs(tmp_path) == {"fr": set(), "de": set(), "us": set()}
    with pytest.raises(UploadNotFound):
        engine.upload_part("docs", "k", upload.upload_id, 3, b"late")
    with pytest.raises(UploadNotFound):
        engine.abort_multipart("docs", "k", upload.upload_id)
    assert _all_blobs(tmp_path) == {"fr": set(), "de": set(), "us": set()}


def test_completion_errors(engine: domicile.Domicile) -> None:
    upload = engine.create_multipart("docs", "k", meta=META)
    uid = upload.upload_id
    small = engine.upload_part("docs", "k", uid, 1, b"small")
    last = engine.upload_part("docs", "k", uid, 2, b"last")
    with pytest.raises(InvalidPart, match="never uploaded"):
        engine.complete_multipart("docs", "k", uid, [(1, small.etag), (3, last.etag)])
    with pytest.raises(InvalidPart, match="has ETag"):
        engine.complete_multipart("docs", "k", uid, [(1, last.etag)])
    with pytest.raises(InvalidPart, match="listed after"):
        engine.complete_multipart("docs", "k", uid, [(2, last.etag), (1, small.etag)])
    with pytest.raises(InvalidPart, match="at least one part"):
        engine.complete_multipart("docs", "k", uid, [])
    with pytest.raises(EntityTooSmall) as err:
        engine.complete_multipart("docs", "k", uid, [(1, small.etag), (2, last.etag)])
    assert err.value.context["part"] == 1
    for number in (0, 10_001):
        with pytest.raises(InvalidPartNumber):
            engine.upload_part("docs", "k", uid, number, b"x")
    with pytest.raises(UploadNotFound):
        engine.upload_part("docs", "other-key", uid, 1, b"x")
    with pytest.raises(UploadNotFound):
        engine.complete_multipart("docs", "k", "0" * 32, [(2, last.etag)])
    info = engine.complete_multipart("docs", "k", uid, [(2, last.etag.upper())])
    assert engine.get("docs", "k").read() == b"last" and info.size == 4
    again = engine.complete_multipart("docs", "k", uid, [(2, f'"{last.etag}"')])  # a retry
    assert (again.etag, again.version_id, again.size) == (info.etag, info.version_id, 4)
    with pytest.raises(UploadNotFound):  # a second completion with other parts
        engine.complete_multipart("docs", "k", uid, [(1, small.etag), (2, last.etag)])
    with pytest.raises(UploadNotFound):  # nor as another key's
        engine.complete_multipart("docs", "k2", uid, [(2, last.etag)])


def test_a_client_gone_mid_part_leaves_no_part_and_no_blob(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    upload = engine.create_multipart("docs", "k", meta=META)

    def disconnecting() -> Iterator[bytes]:
        for _ in range(3):
            yield os.urandom(MiB)
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        engine.upload_part("docs", "k", upload.upload_id, 1, disconnecting())
    assert engine.list_parts("docs", "k", upload.upload_id).parts == []
    assert _all_blobs(tmp_path) == {"fr": set(), "de": set(), "us": set()}
    engine.sweep(grace=0)
    assert _all_blobs(tmp_path) == {"fr": set(), "de": set(), "us": set()}


def test_a_site_suspended_after_create_gets_no_byte(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        upload = engine.create_multipart("docs", "k", meta=META)
        part = engine.upload_part("docs", "k", upload.upload_id, 1, b"before")
    before = _all_blobs(tmp_path)
    marker = 'backend = { type = "local", path = "sites/de" }'
    path.write_text(path.read_text().replace(marker, marker + '\nstatus = "suspended"'))
    with domicile.open(path) as engine:
        with pytest.raises(PlacementRefused) as err:
            engine.upload_part("docs", "k", upload.upload_id, 2, b"after")
        assert "de" in err.value.context["sites"]
        with pytest.raises(PlacementRefused):
            engine.complete_multipart("docs", "k", upload.upload_id, [(1, part.etag)])
        assert _all_blobs(tmp_path) == before  # not a byte more anywhere
        engine.abort_multipart("docs", "k", upload.upload_id)


def test_placement_is_refused_before_anything_is_recorded(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    marker = 'backend = { type = "local", path = "sites/fr" }'
    path.write_text(path.read_text().replace(marker, marker + '\nstatus = "suspended"'))
    with domicile.open(path) as engine:
        with pytest.raises(PlacementRefused):
            engine.create_multipart("docs", "k", meta=META)
        assert engine.list_uploads("docs").uploads == []
        assert "multipart_create" not in [r.action for r in engine.audit.records()]


def test_sweep_uploads_aborts_by_age(
    engine: domicile.Domicile, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1_767_225_600_000_000]  # uploads' ages follow this clock (µs), not the machine
    monkeypatch.setattr(multipart, "_now_us", lambda: clock[0])
    old = engine.create_multipart("docs", "old", meta=META)
    engine.upload_part("docs", "old", old.upload_id, 1, b"abandoned")
    clock[0] += 600_000_000  # ten minutes later
    new = engine.create_multipart("docs", "new", meta=META)
    engine.upload_part("docs", "new", new.upload_id, 1, b"in progress")
    clock[0] += 60_000_000
    assert engine.sweep_uploads(older_than=3600) == 0
    assert engine.sweep_uploads(older_than=661) == 0
    assert engine.sweep_uploads(older_than=659) == 1
    assert [u.upload_id for u in engine.list_uploads("docs").uploads] == [new.upload_id]
    with pytest.raises(UploadNotFound):
        engine.list_parts("docs", "old", old.upload_id)
    assert len(_blob_ids(tmp_path, "fr")) == 1  # only the new upload's part
    aborts = [r for r in engine.audit.records() if r.action == "multipart_abort"]
    assert [dict(r.detail)["reason"] for r in aborts] == ["expired"]


def test_the_orphan_sweep_keeps_parts_in_progress(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    upload = engine.create_multipart("docs", "k", meta=META)
    part = engine.upload_part("docs", "k", upload.upload_id, 1, os.urandom(2 * MiB))
    held = _all_blobs(tmp_path)
    report = engine.sweep(grace=0)
    assert report.removed == 0
    assert _all_blobs(tmp_path) == held
    engine.complete_multipart("docs", "k", upload.upload_id, [(1, part.etag)])
    assert engine.verify("deep").ok


def test_rebuild_recovers_a_multipart_object(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    body = os.urandom(MIN_PART_SIZE) + b"end"
    with domicile.open(path) as engine:
        upload = engine.create_multipart("docs", "mp", meta=META)
        p1 = engine.upload_part("docs", "mp", upload.upload_id, 1, body[:MIN_PART_SIZE])
        p2 = engine.upload_part("docs", "mp", upload.upload_id, 2, body[MIN_PART_SIZE:])
        info = engine.complete_multipart(
            "docs", "mp", upload.upload_id, [(1, p1.etag), (2, p2.etag)]
        )
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
        assert report.versions == 1 and not report.problems
        assert engine.head("docs", "mp") == info
        assert info.part_sizes == (MIN_PART_SIZE, 3) and info.meta.content_language == "fr, de"
        assert engine.get("docs", "mp").read() == body


def test_list_parts_and_uploads_page(engine: domicile.Domicile) -> None:
    upload = engine.create_multipart("docs", "k", meta=META)
    for n in (4, 1, 3, 2):
        engine.upload_part("docs", "k", upload.upload_id, n, bytes([n]))
    page = engine.list_parts("docs", "k", upload.upload_id, limit=3)
    assert [p.part_number for p in page.parts] == [1, 2, 3]
    assert page.is_truncated and page.next_after == 3 and page.upload == upload
    rest = engine.list_parts("docs", "k", upload.upload_id, after=3)
    assert [p.part_number for p in rest.parts] == [4] and not rest.is_truncated
    assert rest.parts[0].etag == _md5(b"\x04")

    made = [engine.create_multipart("docs", key, meta=META) for key in ("b", "a", "b", "c")]
    seen: list[tuple[str, str]] = []
    key_marker = upload_id_marker = ""
    while True:
        listing = engine.list_uploads(
            "docs", key_marker=key_marker, upload_id_marker=upload_id_marker, limit=2
        )
        seen += [(u.key, u.upload_id) for u in listing.uploads]
        if not listing.is_truncated:
            break
        assert listing.next_key_marker and listing.next_upload_id_marker
        key_marker, upload_id_marker = listing.next_key_marker, listing.next_upload_id_marker
    expected = sorted(
        [(u.key, u.upload_id) for u in made] + [("k", upload.upload_id)],
        key=lambda ku: (ku[0], ku[1]),
    )
    assert seen == expected
    b_uploads = [uid for key, uid in seen if key == "b"]
    assert b_uploads == [made[0].upload_id, made[2].upload_id]  # initiation order
    assert [u.key for u in engine.list_uploads("docs", prefix="b").uploads] == ["b", "b"]


def test_upload_part_copy_takes_a_range(engine: domicile.Domicile) -> None:
    source = os.urandom(3 * MiB)
    engine.put("docs", "src", source)
    upload = engine.create_multipart("docs", "dst", meta=META)
    part = engine.upload_part_copy(
        "docs", "dst", upload.upload_id, 1, "docs", "src", MiB - 7, 2 * MiB + 7
    )
    assert part.size == MiB + 14 and part.etag == _md5(source[MiB - 7 : 2 * MiB + 7])
    engine.complete_multipart("docs", "dst", upload.upload_id, [(1, part.etag)])
    assert engine.get("docs", "dst").read() == source[MiB - 7 : 2 * MiB + 7]


def test_the_audit_trail_of_an_upload(engine: domicile.Domicile) -> None:
    upload = engine.create_multipart("docs", "k", meta=META)
    part = engine.upload_part("docs", "k", upload.upload_id, 1, b"x")
    info = engine.complete_multipart("docs", "k", upload.upload_id, [(1, part.etag)])
    gone = engine.create_multipart("docs", "k2", meta=META)
    engine.abort_multipart("docs", "k2", gone.upload_id)
    records = [r for r in engine.audit.records() if r.action.startswith(("multipart", "put"))]
    assert [r.action for r in records] == [
        "multipart_create",
        "put",
        "multipart_create",
        "multipart_abort",
    ]
    put = records[1]
    assert put.version == info.version_id and sorted(put.sites) == ["de", "fr"]
    assert dict(put.detail) == {
        "size": 1,
        "etag": info.etag,
        "parts": 1,
        "upload": upload.upload_id,
    }
    assert dict(records[3].detail)["reason"] == "aborted"
    assert engine.audit.verify().ok


def test_deleting_a_bucket_aborts_its_uploads(engine: domicile.Domicile, tmp_path: Path) -> None:
    engine.create_bucket("tmp", "eu-only")
    upload = engine.create_multipart("tmp", "k", meta=META)
    engine.upload_part("tmp", "k", upload.upload_id, 1, b"part")
    assert _blob_ids(tmp_path, "fr")
    engine.delete_bucket("tmp")
    assert _all_blobs(tmp_path) == {"fr": set(), "de": set(), "us": set()}
    with pytest.raises(UploadNotFound):
        engine.list_parts("tmp", "k", upload.upload_id)
