"""Named checksums stored with objects and parts: given after the body, kept in the catalog
and the manifest (so rebuild-catalog restores them), carried by copies, composed on
completion by the caller's function; the engine never computes or interprets them."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

import domicile
from domicile.engine import ObjectMeta
from domicile.engine.manifest import Manifest
from domicile.engine.multipart import MIN_PART_SIZE
from domicile.engine.records import COMPOSITE, FULL_OBJECT, PartInfo, UploadInfo
from domicile.errors import InvalidPart, MissingChecksum, UploadNotFound
from tests.engine.conftest import drop_catalog, make_deployment

META = ObjectMeta(content_type="text/plain")


class Sha:
    """A stand-in digester: the hex SHA-256 of what it was fed, under the name ``SHA``."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)

    def results(self) -> Mapping[str, str]:
        return {"SHA": self._hash.hexdigest()}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _streamed(data: bytes, seen: list[int]) -> object:
    def pieces() -> object:
        yield data[:3]
        yield data[3:]
        seen.append(1)  # the body's end

    return pieces()


def test_checksums_are_asked_after_the_body_and_kept(engine: domicile.Domicile) -> None:
    seen: list[int] = []

    def checksums() -> Mapping[str, str]:
        assert seen == [1], "asked before the body ended"
        return {"SHA": _sha(b"hello world")}

    info = engine.put("docs", "k", _streamed(b"hello world", seen), checksums=checksums)  # type: ignore[arg-type]
    assert (dict(info.checksums), info.checksum_type) == (
        {"SHA": _sha(b"hello world")},
        FULL_OBJECT,
    )
    assert engine.head("docs", "k") == info
    assert engine.get("docs", "k").info.checksums == info.checksums
    assert engine.list("docs").objects[0].checksums == info.checksums


def test_no_checksums_is_none_stored(engine: domicile.Domicile) -> None:
    info = engine.put("docs", "plain", b"x")
    assert (dict(info.checksums), info.checksum_type) == ({}, None)
    empty = engine.put("docs", "empty", b"y", checksums=dict)
    assert (dict(empty.checksums), empty.checksum_type) == ({}, None)


def test_a_large_body_keeps_its_checksums(engine: domicile.Domicile) -> None:
    body = os.urandom(3 * 1024 * 1024 + 5)
    info = engine.put("docs", "big", body, checksums=lambda: {"SHA": _sha(body)})
    assert engine.head("docs", "big").checksums == {"SHA": _sha(body)} == info.checksums


def test_a_copy_carries_the_checksums_or_takes_the_digesters(engine: domicile.Domicile) -> None:
    engine.put("docs", "src", b"copied", checksums=lambda: {"OTHER": "abc"})
    carried = engine.copy("docs", "src", "docs", "dst")
    assert (dict(carried.checksums), carried.checksum_type) == ({"OTHER": "abc"}, FULL_OBJECT)
    assert engine.head("docs", "dst").checksums == {"OTHER": "abc"}
    fresh = engine.copy("docs", "src", "docs", "dst2", digester=Sha())
    assert dict(fresh.checksums) == {"SHA": _sha(b"copied")}
    plain = engine.put("docs", "none", b"n")
    assert engine.copy("docs", "none", "docs", "none2").checksums == plain.checksums == {}


def _composite(upload: UploadInfo, parts: Sequence[PartInfo]) -> Mapping[str, str]:
    assert upload.checksum == "SHA"
    joined = b"".join(bytes.fromhex(p.checksums["SHA"]) for p in parts)
    return {"SHA": f"{_sha(joined)}-{len(parts)}"}


def test_multipart_parts_keep_checksums_and_the_object_is_composite(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    bodies = [os.urandom(MIN_PART_SIZE), b"tail"]
    with domicile.open(path) as engine:
        upload = engine.create_multipart("docs", "mp", meta=META, checksum="SHA")
        assert upload.checksum == "SHA"
        assert engine.upload("docs", "mp", upload.upload_id) == upload
        parts = [
            engine.upload_part(
                "docs", "mp", upload.upload_id, n, body, checksums=lambda b=body: {"SHA": _sha(b)}
            )
            for n, body in enumerate(bodies, 1)
        ]
        assert [dict(p.checksums) for p in parts] == [{"SHA": _sha(b)} for b in bodies]
        listed = engine.list_parts("docs", "mp", upload.upload_id).parts
        assert [p.checksums for p in listed] == [p.checksums for p in parts]
        info = engine.complete_multipart(
            "docs",
            "mp",
            upload.upload_id,
            [(p.part_number, p.etag) for p in parts],
            checksums=_composite,
        )
        assert info.checksum_type == COMPOSITE and info.checksums["SHA"].endswith("-2")
        assert engine.head("docs", "mp") == info
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
        assert report.versions == 1 and not report.problems
        assert engine.head("docs", "mp") == info


def test_rebuild_restores_checksums_of_a_put(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        info = engine.put("docs", "k", b"body", checksums=lambda: {"SHA": _sha(b"body")})
        plain = engine.put("docs", "plain", b"p")
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        engine.rebuild_catalog()
        for key, want in (("k", info), ("plain", plain)):
            got = engine.head("docs", key)
            assert (dict(got.checksums), got.checksum_type, got.etag) == (
                dict(want.checksums),
                want.checksum_type,
                want.etag,
            )


def test_a_part_without_the_uploads_checksum_is_refused(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    upload = engine.create_multipart("docs", "mp", meta=META, checksum="SHA")
    with pytest.raises(MissingChecksum) as err:
        engine.upload_part("docs", "mp", upload.upload_id, 1, b"no checksum")
    assert err.value.context["checksum"] == "SHA"
    with pytest.raises(MissingChecksum):
        engine.upload_part(
            "docs", "mp", upload.upload_id, 1, b"other", checksums=lambda: {"X": "1"}
        )
    assert engine.list_parts("docs", "mp", upload.upload_id).parts == []
    engine.sweep(grace=0)
    data = [
        p
        for p in (tmp_path / "sites").rglob("*")
        if p.is_file() and p.name.startswith("b") and not p.name.startswith("bkey-")
    ]
    assert data == []  # the refused part's blobs were removed


def test_the_composite_function_may_refuse_the_completion(engine: domicile.Domicile) -> None:
    upload = engine.create_multipart("docs", "mp", meta=META)
    part = engine.upload_part("docs", "mp", upload.upload_id, 1, b"one")

    def refuse(_upload: UploadInfo, _parts: Sequence[PartInfo]) -> Mapping[str, str]:
        raise InvalidPart("checksum differs", upload=upload.upload_id)

    with pytest.raises(InvalidPart):
        engine.complete_multipart(
            "docs", "mp", upload.upload_id, [(1, part.etag)], checksums=refuse
        )
    done = engine.complete_multipart("docs", "mp", upload.upload_id, [(1, part.etag)])
    assert (dict(done.checksums), done.checksum_type) == ({}, None)
    with pytest.raises(UploadNotFound):
        engine.upload("docs", "mp", upload.upload_id)


def test_old_manifests_without_checksums_still_read() -> None:
    doc = (
        b'{"bucket":"b","created_at":1.5,"etag":"e","key":"k","meta":{"cache_control":null,'
        b'"content_disposition":null,"content_encoding":null,"content_type":"t","expires":null,'
        b'"user":{}},"policy":"p","schema":1,"segments":[],"size":0,"tenant":"t","version_id":"v"}'
    )
    manifest = Manifest.from_json(doc)
    assert (dict(manifest.checksums), manifest.checksum_type) == ({}, None)
    assert manifest.to_json() == doc  # a version without checksums writes what it always did
