"""Server-side copy: streamed, placed and encrypted under the destination's policy."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import domicile
from domicile.crypto import X25519Identity, decrypt_bytes
from domicile.engine import ObjectMeta
from domicile.errors import NoIdentityMatch, ObjectNotFound
from tests.engine.conftest import blob_files, make_deployment

MiB = 1024 * 1024


def test_a_copy_into_another_policy_lands_only_on_its_sites(tmp_path: Path) -> None:
    outsider = X25519Identity.generate()
    extra = f"""
[policies.us-only]
allow = ["US"]
copies = 1
recipients = ["{outsider.recipient}"]
"""
    path = make_deployment(tmp_path, extra)
    body = os.urandom(3 * MiB + 5)
    with domicile.open(path) as engine:
        engine.create_bucket("west", "us-only")
        source = engine.put("docs", "src", body, content_type="text/x-src")
        eu_blobs = {s: blob_files(tmp_path, s) for s in ("fr", "de")}
        info = engine.copy("docs", "src", "west", "dst")
        assert engine.get("west", "dst").read() == body
        assert info.etag == source.etag and info.size == len(body)
        assert info.meta == source.meta
        assert [c.site_id for c in engine.where("west", "dst")] == ["us"]
        assert {s: blob_files(tmp_path, s) for s in ("fr", "de")} == eu_blobs
        # Re-encrypted to the target policy's recipients: the outsider reads the copy...
        version = engine.context.catalog.current_version("west", "dst")
        first = engine.context.catalog.segments(version.version_id)[0].blob_id
        blob = b"".join(engine.context.sites["us"].get(first))
        assert decrypt_bytes(blob, [outsider]) == body[:MiB]
        # ...but not the source, which its policy never named it for.
        src_version = engine.context.catalog.current_version("docs", "src")
        src_first = engine.context.catalog.segments(src_version.version_id)[0].blob_id
        with pytest.raises(NoIdentityMatch):
            decrypt_bytes(b"".join(engine.context.sites["fr"].get(src_first)), [outsider])
        record = [r for r in engine.audit.records() if r.action == "copy"][-1]
        assert (record.bucket, record.key, record.version) == ("west", "dst", info.version_id)
        assert dict(record.detail)["source_version"] == source.version_id
        assert dict(record.detail)["source_bucket"] == "docs"
        assert dict(record.detail)["source_key"] == "src"
        assert record.sites == ("us",)


def test_copy_keeps_or_replaces_the_metadata(engine: domicile.Domicile) -> None:
    engine.put("docs", "a", b"data", content_type="text/plain", metadata={"k": "v"})
    kept = engine.copy("docs", "a", "docs", "b")
    assert kept.meta.content_type == "text/plain" and dict(kept.meta.user) == {"k": "v"}
    new = ObjectMeta(content_type="application/json", cache_control="no-cache", user={"n": "1"})
    replaced = engine.copy("docs", "a", "docs", "c", meta=new)
    assert engine.head("docs", "c").meta == new == replaced.meta
    onto_itself = engine.copy("docs", "a", "docs", "a", meta=new)
    assert engine.get("docs", "a").read() == b"data"
    assert engine.head("docs", "a").version_id == onto_itself.version_id


def test_copying_a_missing_object_writes_nothing(engine: domicile.Domicile, tmp_path: Path) -> None:
    with pytest.raises(ObjectNotFound):
        engine.copy("docs", "nope", "docs", "dst")
    with pytest.raises(ObjectNotFound):
        engine.head("docs", "dst")
    assert all(blob_files(tmp_path, s) == [] for s in ("fr", "de", "us"))
