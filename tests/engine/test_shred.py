"""Crypto-shredding: after ``shred``, no remaining key opens any remaining blob of the
bucket (neither domicile nor the stock age with every keyring identity), while the other
buckets read as before; the receipt lists what could not be deleted."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import domicile
from domicile.audit.checkpoint import verify_checkpoint
from domicile.crypto import Keyring, decrypt_bytes
from domicile.engine.records import ObjectMeta
from domicile.errors import CryptoError, ObjectLocked, SiteUnavailable
from domicile.sites.faulty import FaultySite
from tests.engine.conftest import blob_files, make_deployment

WIDE = """
[policies.wide]
allow = ["EU", "US"]
copies = 3

[buckets.gone]
policy = "wide"
"""


def _files(root: Path) -> dict[str, list[Path]]:
    return {s: blob_files(root, s) for s in ("fr", "de", "us")}


@pytest.mark.age_cli
def test_shredded_blobs_left_on_an_unreachable_site_open_with_no_remaining_key(
    tmp_path: Path,
) -> None:
    age = shutil.which("age")
    if age is None:
        pytest.fail("the stock age tool is missing: apt-get install age")
    config = make_deployment(tmp_path, WIDE)
    with domicile.open(config) as engine:
        for i in range(3):
            engine.put("gone", f"k{i}", b"secret %d " % i * 5000)
        engine.put("docs", "kept.txt", b"other buckets read as before")
        [key] = engine.context.catalog.bucket_keys("gone")
        assert sorted(key.sites) == ["de", "fr"]  # the key copies; us holds data only
        before = {p.name for p in blob_files(tmp_path, "us")}
        assert len(before) == 3
        down = engine.context.sites["us"] = FaultySite(engine.context.sites["us"])
        down.go_down()
        plan = engine.plan_shred("gone")
        assert (plan.versions, plan.blobs, plan.key_sites) == (
            3,
            {"de": 3, "fr": 3, "us": 3},
            ("de", "fr"),
        )
        receipt = engine.shred("gone")
        assert receipt.key_copies == 2 and receipt.blobs_deleted == 6
        assert receipt.unreadable == sorted(f"us/{b}" for b in before)
        assert engine.context.catalog.bucket_keys("gone") == []
        record = [r for r in engine.audit.records() if r.action == "bucket_shred"][-1]
        assert record.seq == receipt.record_seq and record.bucket == "gone"
        assert record.detail["blobs_unreadable"] == 3 and record.sites == ("us",)
        assert receipt.checkpoint is not None and receipt.checkpoint.seq >= record.seq
        assert verify_checkpoint(engine.audit.public_key, receipt.checkpoint)
        assert engine.get("docs", "kept.txt").read() == b"other buckets read as before"
    # what is left: the three blobs on us, and no key copy anywhere
    left = _files(tmp_path)
    assert {p.name for p in left["us"]} == before
    assert not before & {p.name for p in left["fr"] + left["de"]}  # deleted where it could
    left["us"] = [p for p in left["us"] if p.name in before]
    assert not list((tmp_path / "sites").rglob("bkey-gone-*"))
    keyring = tmp_path / "keyring.txt"
    everything = tmp_path / "every-key.txt"  # every remaining identity: root and buckets'
    lines = [keyring.read_bytes()]
    for copy in (tmp_path / "sites").rglob("bkey-*"):
        lines.append(
            subprocess.run(
                [age, "-d", "-i", str(keyring), str(copy)], check=True, capture_output=True
            ).stdout
        )
    everything.write_bytes(b"\n".join(lines))
    identities = Keyring.load(keyring).identities
    for blob in left["us"]:
        with pytest.raises(CryptoError):
            decrypt_bytes(blob.read_bytes(), identities)
        done = subprocess.run(
            [age, "-d", "-i", str(everything), str(blob)], capture_output=True, check=False
        )
        assert done.returncode != 0 and b"no identity matched" in done.stderr
    with domicile.open(config) as engine:  # the site is back: other buckets unchanged
        assert engine.get("docs", "kept.txt").read() == b"other buckets read as before"
        with pytest.raises(CryptoError):
            decrypt_bytes(left["us"][0].read_bytes(), engine.context.identities_for("gone"))


def test_a_key_copy_on_an_unreachable_site_stops_the_shred_before_anything(
    tmp_path: Path,
) -> None:
    with domicile.open(make_deployment(tmp_path, WIDE)) as engine:
        engine.put("gone", "k", b"still here")
        down = engine.context.sites["fr"] = FaultySite(engine.context.sites["fr"])
        down.go_down()
        with pytest.raises(SiteUnavailable, match="nothing was made unreadable"):
            engine.shred("gone")
        down.heal()
        assert engine.get("gone", "k").read() == b"still here"
        assert len(engine.context.catalog.bucket_keys("gone")) == 1
        engine.shred("gone")
        assert engine.context.catalog.bucket_keys("gone") == []


def test_a_legal_hold_or_compliance_retention_refuses_the_shred(tmp_path: Path) -> None:
    with domicile.open(make_deployment(tmp_path)) as engine:
        engine.create_bucket("vault", "eu-only", object_lock=True)
        engine.put("vault", "held", b"x", meta=ObjectMeta(legal_hold=True))
        with pytest.raises(ObjectLocked, match="legal hold"):
            engine.plan_shred("vault")
        engine.set_legal_hold("vault", "held", False)
        engine.put("vault", "c", b"y", meta=ObjectMeta(lock_mode="COMPLIANCE", lock_until=9e9))
        with pytest.raises(ObjectLocked) as err:
            engine.shred("vault")
        assert err.value.hint and "cannot be ended early" in err.value.hint
        assert engine.get("vault", "c").read() == b"y"
