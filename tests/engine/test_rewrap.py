"""Root rotation with bucket identities: only the bkey- blobs are wrapped again."""

from __future__ import annotations

from pathlib import Path

import pytest

import domicile
from domicile.crypto import Keyring, decrypt_bytes
from domicile.engine.keys import add_identity
from domicile.errors import CryptoError, KeyringError
from tests.engine.conftest import blob_files, make_deployment


def test_rotating_the_root_rewraps_bucket_identities_not_data(tmp_path: Path) -> None:
    config = make_deployment(tmp_path)
    with domicile.open(config) as engine:
        engine.put("docs", "a.txt", b"alpha" * 1000)
        data = {p: p.read_bytes() for s in ("fr", "de") for p in blob_files(tmp_path, s)}
        old = str(Keyring.load(tmp_path / "keyring.txt").recipients[0])
        with pytest.raises(KeyringError, match="nothing was changed"):
            engine.rewrap_bucket_keys(drop=[old])
        new = add_identity(engine)
        report = engine.rewrap_bucket_keys(drop=[old])
        assert (report.keys, report.buckets, report.left) == (1, ["docs"], [])
        [key] = engine.context.catalog.bucket_keys("docs")
        assert key.version == 2 and sorted(key.sites) == ["de", "fr"]
        assert engine.get("docs", "a.txt").read() == b"alpha" * 1000
        [record] = [r for r in engine.audit.records() if r.action == "bucket_key_rewrapped"]
        assert record.detail == {"version": 2, "replaces": 1, "kind": "x25519"}
    # the data blobs are untouched; the old root opens no bucket identity any more
    assert {p: p.read_bytes() for p in data} == data
    ring = Keyring.load(tmp_path / "keyring.txt")
    old_id = [e for e in ring.identities if str(e.recipient) == old]
    new_id = [e for e in ring.identities if str(e.recipient) == new]
    copies = sorted((tmp_path / "sites").rglob("bkey-*"))
    assert [c.name for c in copies] == ["bkey-docs-00000002"] * 2
    for copy in copies:
        with pytest.raises(CryptoError):
            decrypt_bytes(copy.read_bytes(), old_id)
        assert decrypt_bytes(copy.read_bytes(), new_id).startswith(b"AGE-SECRET-KEY-1")
    with domicile.open(config) as engine:  # a fresh engine reads through the new root
        assert engine.get("docs", "a.txt").read() == b"alpha" * 1000
