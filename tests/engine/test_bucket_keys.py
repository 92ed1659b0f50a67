"""Bucket data identities: each bucket's blobs are wrapped to its own identity, which is
kept wrapped to the root identities in the catalog and on the sites."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import domicile
from domicile.crypto import Keyring, decrypt_bytes, parse_header
from domicile.engine.bucketkeys import BucketKeyring, key_blob_id, parse_key_blob_id
from domicile.engine.keys import add_identity
from domicile.errors import CryptoError
from tests.engine.conftest import blob_files, drop_catalog, make_deployment

PQ = """
[policies.eu-pq]
allow = ["EU"]
copies = 2
pq = true

[buckets.secret]
policy = "eu-pq"

[buckets.other]
policy = "eu-only"
"""


def _key_files(root: Path, bucket: str) -> list[Path]:
    return sorted(
        p for s in ("fr", "de", "us") for p in (root / "sites" / s).rglob(f"bkey-{bucket}-*")
    )


def test_blobs_go_to_the_bucket_identity_not_to_the_root(tmp_path: Path) -> None:
    with domicile.open(make_deployment(tmp_path, PQ)) as engine:
        engine.put("docs", "a.txt", b"alpha" * 1000)
        [key] = engine.context.catalog.bucket_keys("docs")
        assert (key.version, key.kind, sorted(key.sites)) == (1, "x25519", ["de", "fr"])
        root = Keyring.load(tmp_path / "keyring.txt")
        assert key.recipient not in {str(r) for r in root.recipients}
        for site in ("fr", "de"):
            [blob] = blob_files(tmp_path, site)
            header = parse_header(blob.read_bytes(), complete=False)
            assert header is not None and len(header.stanzas) == 1
            with pytest.raises(CryptoError):  # the root identities alone do not open it
                decrypt_bytes(blob.read_bytes(), root.identities)
        # the site copy is the catalog's wrapped identity, byte for byte
        assert [p.read_bytes() for p in _key_files(tmp_path, "docs")] == [key.wrapped] * 2
        assert engine.get("docs", "a.txt").read() == b"alpha" * 1000
        [made] = [r for r in engine.audit.records() if r.action == "bucket_key_created"]
        assert made.bucket == "docs" and sorted(made.sites) == ["de", "fr"]
        assert made.detail == {"version": 1, "kind": "x25519", "recipient": key.recipient}
        engine.put("other", "b.txt", b"beta")
        assert engine.context.catalog.bucket_keys("other")[0].recipient != key.recipient


def test_a_pq_bucket_gets_a_post_quantum_identity(tmp_path: Path) -> None:
    with domicile.open(make_deployment(tmp_path, PQ)) as engine:
        add_identity(engine, post_quantum=True)
        engine.put("secret", "s.txt", b"harvest now")
        [key] = engine.context.catalog.bucket_keys("secret")
        assert key.kind == "mlkem768x25519" and key.recipient.startswith("age1pq1")
        wrapped = parse_header(key.wrapped, complete=False)
        assert wrapped is not None and {s.type for s in wrapped.stanzas} == {"mlkem768x25519"}
        assert engine.get("secret", "s.txt").read() == b"harvest now"


def test_blobs_wrapped_to_the_root_before_stay_readable(tmp_path: Path) -> None:
    with domicile.open(make_deployment(tmp_path)) as engine:
        keys = engine.context.bucket_keys
        engine.context.bucket_keys = None  # as a domicile before bucket identities wrote
        engine.put("docs", "old.txt", b"written before")
        engine.context.bucket_keys = keys
        engine.put("docs", "new.txt", b"written after")
        assert engine.get("docs", "old.txt").read() == b"written before"
        assert engine.get("docs", "new.txt").read() == b"written after"
        assert engine.verify().ok


def test_unwrapped_identities_are_cached_for_a_bounded_time(tmp_path: Path) -> None:
    now = [0.0]
    with domicile.open(make_deployment(tmp_path)) as engine:
        ctx = engine.context
        ctx.bucket_keys = BucketKeyring(ctx.catalog, ctx.keyring, seconds=60, clock=lambda: now[0])
        engine.put("docs", "a.txt", b"x")
        for _ in range(5):
            assert engine.get("docs", "a.txt").read() == b"x"
        assert ctx.bucket_keys.unwraps == 1
        now[0] = 61.0
        assert engine.get("docs", "a.txt").read() == b"x"
        assert ctx.bucket_keys.unwraps == 2
        ctx.bucket_keys.forget("docs")
        assert engine.get("docs", "a.txt").read() == b"x"
        assert ctx.bucket_keys.unwraps == 3


def test_rebuild_catalog_recovers_the_bucket_identities(tmp_path: Path) -> None:
    config = make_deployment(tmp_path, PQ)
    with domicile.open(config) as engine:
        engine.put("docs", "a.txt", b"alpha")
        engine.put("other", "b.txt", b"beta")
        before = {b: engine.context.catalog.bucket_keys(b) for b in ("docs", "other")}
    drop_catalog(tmp_path)
    with domicile.open(config) as engine:
        report = engine.rebuild_catalog()
        assert report.bucket_keys == 2 and report.versions == 2, report.problems
        for bucket, keys in before.items():
            again = engine.context.catalog.bucket_keys(bucket)
            assert [(k.version, k.recipient, k.wrapped) for k in again] == [
                (k.version, k.recipient, k.wrapped) for k in keys
            ]
        assert engine.get("docs", "a.txt").read() == b"alpha"
        assert engine.get("other", "b.txt").read() == b"beta"


def test_key_blob_ids_round_trip_dotted_bucket_names() -> None:
    assert key_blob_id("my.bucket", 3) == "bkey-my_bucket-00000003"
    assert parse_key_blob_id("bkey-my_bucket-00000003") == ("my.bucket", 3)
    assert parse_key_blob_id("m0123") is None


@pytest.mark.age_cli
def test_stock_age_reads_a_bucket_with_the_keyring_in_two_steps(tmp_path: Path) -> None:
    age = shutil.which("age")
    if age is None:
        pytest.fail("the stock age tool is missing: apt-get install age")
    with domicile.open(make_deployment(tmp_path)) as engine:
        engine.put("docs", "a.txt", b"readable without domicile")
    keyring = tmp_path / "keyring.txt"
    key_file = _key_files(tmp_path, "docs")[0]
    identity = tmp_path / "docs.key"
    identity.write_bytes(
        subprocess.run(
            [age, "-d", "-i", str(keyring), str(key_file)], check=True, capture_output=True
        ).stdout
    )
    [blob] = blob_files(tmp_path, "fr")
    plain = subprocess.run(
        [age, "-d", "-i", str(identity), str(blob)], check=True, capture_output=True
    ).stdout
    assert plain.startswith(b"readable without domicile")


def test_a_copy_left_by_another_writer_is_not_counted_as_ours(tmp_path: Path) -> None:
    with domicile.open(make_deployment(tmp_path)) as engine:
        engine.context.sites["de"].put_once(key_blob_id("docs", 1), b"another writer's")
        engine.put("docs", "a.txt", b"x")
        [key] = engine.context.catalog.bucket_keys("docs")
        assert key.sites == ("fr",)
        assert b"".join(engine.context.sites["de"].get(key_blob_id("docs", 1))) == (
            b"another writer's"
        )


def test_losing_the_race_for_a_version_uses_the_winner_and_takes_back_our_copies(
    tmp_path: Path,
) -> None:
    with domicile.open(make_deployment(tmp_path)) as engine:
        ctx = engine.context
        winner = BucketKeyring(ctx.catalog, ctx.keyring)
        ours = BucketKeyring(ctx.catalog, ctx.keyring)
        placed: dict[str, bytes] = {}
        taken: list[tuple[str, list[str]]] = []

        def place(bucket: str, blob_id: str, data: bytes) -> list[str]:
            placed[blob_id] = data  # meanwhile another host stores its own version 1
            winner.recipient(bucket, post_quantum=False, place=lambda *_: ["de"])
            return ["fr"]

        got = ours.recipient(
            "docs",
            post_quantum=False,
            place=place,
            unplace=lambda blob_id, sites: taken.append((blob_id, sites)),
        )
        [stored] = ctx.catalog.bucket_keys("docs")
        assert str(got) == stored.recipient and stored.sites == ("de",)
        assert taken == [(key_blob_id("docs", 1), ["fr"])]


def test_a_version_made_by_another_host_is_found_despite_the_cache(tmp_path: Path) -> None:
    with domicile.open(make_deployment(tmp_path)) as engine:
        ctx = engine.context
        other = BucketKeyring(ctx.catalog, ctx.keyring)  # another host's engine
        assert len(other.identities("docs")) == 2  # the root one and the refresh
        engine.put("docs", "a.txt", b"made elsewhere")
        [blob] = blob_files(tmp_path, "fr")
        plain = decrypt_bytes(blob.read_bytes(), other.identities("docs"))
        assert plain.startswith(b"made elsewhere") and other.unwraps == 1
        assert decrypt_bytes(blob.read_bytes(), other.identities("docs")) == plain
        assert other.unwraps == 1  # cached now
