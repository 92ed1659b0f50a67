"""A small object is one blob per site: its bytes, then its manifest (schema 2, inline)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

import domicile
from domicile.crypto import Keyring, encrypt_bytes
from domicile.engine import set_site_status
from domicile.engine.manifest import SCHEMA_INLINE, Manifest, read_manifest, seal_inline
from domicile.engine.records import ObjectMeta
from domicile.engine.writer import SMALL_OBJECT
from domicile.errors import CryptoError
from domicile.sites import FaultySite, LocalSite
from tests.engine.conftest import blob_files, drop_catalog, make_deployment

CHUNK = 65536


def _manifest(size: int) -> Manifest:
    return Manifest(
        bucket="docs",
        policy="eu-only",
        tenant="default",
        key="a/b.txt",
        version_id="0" * 32,
        created_at=1_700_000_000.25,
        size=size,
        etag="e" * 32,
        meta=ObjectMeta(content_type="text/plain", user={"k": "v"}),
        segments=(),
    )


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring.create(tmp_path / "keyring.txt")


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, SMALL_OBJECT])
def test_sealed_inline_blob_reads_back_as_its_manifest_and_segment(
    keyring: Keyring, size: int
) -> None:
    data = os.urandom(size)
    sealed, blob = seal_inline(_manifest(len(data)), data, keyring.recipients)
    [entry] = sealed.segments
    assert sealed.inline and entry.blob_id == "m" + "0" * 32
    assert entry.plaintext_size == len(data) and entry.ciphertext_length == len(blob)
    assert read_manifest(blob, keyring.identities) == sealed


def test_inline_manifest_json_names_its_schema_and_lists_no_segment(keyring: Keyring) -> None:
    sealed, _ = seal_inline(_manifest(3), b"abc", keyring.recipients)
    text = sealed.to_json()
    assert b"\n" not in text
    assert f'"schema":{SCHEMA_INLINE}'.encode() in text and b'"inline":true' in text
    assert b'"segments"' not in text


def test_malformed_manifest_blobs_are_refused(keyring: Keyring) -> None:
    manifest = _manifest(3)
    listed = manifest.to_json()
    # a manifest listing segments, with bytes before it
    with pytest.raises(CryptoError, match="before a manifest"):
        read_manifest(encrypt_bytes(b"abc\n" + listed, keyring.recipients), keyring.identities)
    # an inline manifest whose size is not the bytes before it
    inline = dataclasses.replace(manifest, inline=True).to_json()
    with pytest.raises(CryptoError, match="precedes 4 bytes, not 3"):
        read_manifest(encrypt_bytes(b"abcd\n" + inline, keyring.recipients), keyring.identities)
    with pytest.raises(CryptoError, match="precedes 0 bytes"):
        read_manifest(encrypt_bytes(inline, keyring.recipients), keyring.identities)
    # schema and inline flag disagree
    with pytest.raises(CryptoError, match="schema 1 with inline"):
        read_manifest(
            encrypt_bytes(listed.replace(b"{", b'{"inline":true,', 1), keyring.recipients),
            keyring.identities,
        )
    with pytest.raises(CryptoError, match="schema 2 with inline = False"):
        read_manifest(
            encrypt_bytes(b"abc\n" + inline.replace(b'"inline":true,', b""), keyring.recipients),
            keyring.identities,
        )
    with pytest.raises(CryptoError, match="schema 3 without delete_marker"):
        read_manifest(
            encrypt_bytes(listed.replace(b'"schema":1', b'"schema":3'), keyring.recipients),
            keyring.identities,
        )
    with pytest.raises(CryptoError, match="schema 4 is not supported"):
        read_manifest(
            encrypt_bytes(listed.replace(b'"schema":1', b'"schema":4'), keyring.recipients),
            keyring.identities,
        )


def test_small_put_writes_one_blob_per_site(engine: domicile.Domicile, tmp_path: Path) -> None:
    body = os.urandom(200_000)
    info = engine.put("docs", "k", body)
    found = engine.context.catalog.lookup("docs", "k")
    [segment] = found.segments
    assert segment.blob_id == found.version.manifest_blob_id == "m" + info.version_id
    for copy in engine.where("docs", "k"):
        assert [p.name for p in blob_files(tmp_path, copy.site_id)] == [segment.blob_id]


def test_a_body_one_byte_over_the_limit_is_segments_and_a_manifest(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    engine.put("docs", "small", os.urandom(SMALL_OBJECT))
    engine.put("docs", "large", os.urandom(SMALL_OBJECT + 1))
    catalog = engine.context.catalog
    small, large = catalog.lookup("docs", "small"), catalog.lookup("docs", "large")
    assert [s.blob_id for s in small.segments] == [small.version.manifest_blob_id]
    assert len(large.segments) == 2  # segment_size_mib = 1
    assert all(s.blob_id.startswith("b") for s in large.segments)
    for copy in engine.where("docs", "large"):
        names = {p.name for p in blob_files(tmp_path, copy.site_id)}
        assert {large.version.manifest_blob_id, *(s.blob_id for s in large.segments)} <= names


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),
        (0, 1),
        (CHUNK - 1, CHUNK + 1),
        (CHUNK, 2 * CHUNK),
        (199_990, None),
        (199_999, None),
    ],
)
def test_ranges_of_an_inline_object_never_reach_its_manifest(
    engine: domicile.Domicile, start: int, end: int | None
) -> None:
    body = os.urandom(200_000)
    engine.put("docs", "k", body)
    assert engine.get("docs", "k", start, end).read() == body[start:end]


def test_inline_blob_is_verified_copied_and_collected_once(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    engine.put("docs", "k", b"first")
    engine.put("docs", "k", b"second")  # the first version's one blob is collected
    for level in ("quick", "full", "deep"):
        report = engine.verify(level)
        assert report.ok and report.copies == 2
    holder = engine.where("docs", "k")[0].site_id
    spy = engine.context.sites[holder] = FaultySite(engine.context.sites[holder])
    assert engine.verify("full").ok
    assert spy.calls["head"] == 1  # the segment is the manifest: one look, not two
    spy.calls.clear()
    assert engine.verify("quick").ok
    assert (spy.calls["head"], spy.calls["list"]) == (0, 1)  # a quick verify lists
    for blob in blob_files(tmp_path, holder):
        blob.unlink()
    assert [p.kind for p in engine.verify("quick").problems] == ["missing"]
    spy.calls.clear()
    assert [a.site_id for a in engine.repair().added] == [holder]
    assert spy.calls["put"] == 1  # copied once, hash-checked, not again as a manifest
    assert engine.verify("full").ok
    assert engine.delete("docs", "k")
    assert engine.context.catalog.garbage() == []
    for site in ("fr", "de", "us"):
        assert blob_files(tmp_path, site) == []


def test_apply_moves_an_inline_blob_once(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    body = os.urandom(100_000)
    with domicile.open(path) as engine:
        info = engine.put("docs", "k", body)  # on fr and de, the only EU sites
        drained = engine.where("docs", "k")[0].site_id
    LocalSite.create("pl", tmp_path / "sites" / "pl")  # a third EU site joins
    pl = '[sites.pl]\ntemplate = "scaleway:pl-waw"\nbackend = { type = "local", path = "sites/pl" }'
    path.write_text(path.read_text() + "\n" + pl + "\n")
    set_site_status(path, drained, "draining")
    with domicile.open(path) as engine:
        spy = engine.context.sites["pl"] = FaultySite(engine.context.sites["pl"])
        engine.apply()
        assert spy.calls["put"] == 1  # the blob is the manifest: not copied a second time
        assert {c.site_id for c in engine.where("docs", "k")} == {"fr", "de", "pl"} - {drained}
        assert engine.get("docs", "k").read() == body
        assert engine.verify("full").ok
    assert [p.name for p in blob_files(tmp_path, "pl")] == ["m" + info.version_id]


def test_a_deleted_inline_object_queues_its_blob_once_per_site(
    engine: domicile.Domicile, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domicile.engine import versions

    info = engine.put("docs", "k", b"body")
    # keep the queue to look at
    monkeypatch.setattr(versions, "collect_garbage", lambda ctx, **_: 0)
    assert engine.delete("docs", "k")
    queued = sorted((g.site_id, g.blob_id) for g in engine.context.catalog.garbage())
    assert queued == sorted((c, "m" + info.version_id) for c in ("fr", "de"))


def test_rebuild_restores_inline_objects_exactly(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    bodies = {"empty": b"", "line": b"one\ntwo\n", "chunky": os.urandom(3 * CHUNK + 7)}
    with domicile.open(path) as engine:
        for key, body in bodies.items():
            engine.put("docs", key, body, metadata={"key": key})
        before = {k: engine.context.catalog.lookup("docs", k).segments for k in bodies}
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
        assert report.versions == 3 and not report.problems
        for key, body in bodies.items():
            assert engine.get("docs", key).read() == body
            assert dict(engine.head("docs", key).meta.user) == {"key": key}
            after = engine.context.catalog.lookup("docs", key).segments
            assert after == before[key]  # the same blob, length, header and SHA-256
        assert engine.verify("full").ok
