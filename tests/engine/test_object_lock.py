"""Object Lock in the engine: locks on write, changes, refusals audited, rebuild restores."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import domicile
from domicile.engine import Domicile
from domicile.engine.records import ObjectMeta
from domicile.errors import (
    BucketNotEmpty,
    InvalidRetention,
    LockNotEnabled,
    ObjectLocked,
    VersioningLocked,
    VersionIsDeleteMarker,
)
from tests.conftest import deployment_catalog
from tests.engine.conftest import drop_catalog

DAY = 86_400.0
#: Every test on SQLite and PostgreSQL (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]


def _actions(engine: Domicile, action: str) -> list[domicile.audit.Record]:
    return [r for r in engine.audit.records() if r.action == action]


def test_a_bucket_without_lock_refuses_locks(engine: Domicile) -> None:
    with pytest.raises(LockNotEnabled):
        engine.put("docs", "k", b"x", meta=ObjectMeta(legal_hold=True))
    engine.put("docs", "k", b"x")
    with pytest.raises(LockNotEnabled):
        engine.set_legal_hold("docs", "k", True)
    with pytest.raises(LockNotEnabled):
        engine.set_bucket_lock("docs", "GOVERNANCE", days=1)


def test_default_retention_and_compliance_refusals_are_audited(engine: Domicile) -> None:
    engine.create_bucket("vault", "eu-only", object_lock=True)
    engine.set_bucket_lock("vault", "COMPLIANCE", days=1)
    info = engine.put("vault", "k", b"kept")  # small, but not inline: its manifest is its own
    lock = engine.lock_of(info)
    assert lock is not None and lock.mode == "COMPLIANCE" and lock.copies == 2
    assert lock.retain_until == pytest.approx(time.time() + DAY, abs=30)
    vid = info.s3_version_id
    with pytest.raises(ObjectLocked):
        engine.remove("vault", "k", version_id=vid, bypass_governance=True)
    with pytest.raises(ObjectLocked):
        engine.set_retention("vault", "k", "COMPLIANCE", time.time() + 60, bypass_governance=True)
    refusals = [r for r in engine.audit.records() if r.result == "refused"]
    assert [r.action for r in refusals] == ["version_delete", "retention"]
    assert refusals[0].key == "k" and refusals[0].version == info.version_id
    assert engine.get("vault", "k").read() == b"kept"
    marker = engine.remove("vault", "k")  # a delete marker: the locked version stays
    assert marker.delete_marker and engine.get("vault", "k", version_id=vid).read() == b"kept"
    assert marker.version_id is not None
    with pytest.raises(VersionIsDeleteMarker):  # a marker has no lock to set
        engine.set_legal_hold("vault", "k", True, version_id=marker.version_id)
    with pytest.raises(VersioningLocked):
        engine.set_versioning("vault", "Suspended")
    assert engine.versioning("vault") == "Enabled"
    with pytest.raises(BucketNotEmpty):
        engine.delete_bucket("vault")
    assert _actions(engine, "bucket_lock")[0].detail["mode"] == "COMPLIANCE"


def test_governance_bypass_and_legal_hold(engine: Domicile) -> None:
    engine.create_bucket("vault", "eu-only", object_lock=True)
    until = time.time() + DAY
    meta = ObjectMeta(lock_mode="GOVERNANCE", lock_until=until)
    vid = engine.put("vault", "g", b"x", meta=meta).s3_version_id
    with pytest.raises(ObjectLocked):
        engine.remove("vault", "g", version_id=vid)
    engine.set_legal_hold("vault", "g", True)
    with pytest.raises(ObjectLocked):
        engine.remove("vault", "g", version_id=vid, bypass_governance=True)
    engine.set_legal_hold("vault", "g", False)
    assert [r.detail["legal_hold"] for r in _actions(engine, "legal_hold")] == [True, False]
    assert engine.remove("vault", "g", version_id=vid, bypass_governance=True).version_id == vid


def test_retention_dates_are_checked(engine: Domicile) -> None:
    engine.create_bucket("vault", "eu-only", object_lock=True)
    past = time.time() - 5
    with pytest.raises(InvalidRetention):
        engine.put("vault", "k", b"x", meta=ObjectMeta(lock_mode="GOVERNANCE", lock_until=past))
    with pytest.raises(InvalidRetention):
        engine.put("vault", "k", b"x", meta=ObjectMeta(lock_mode="GOVERNANCE"))
    engine.put("vault", "k", b"x")
    assert engine.object_lock("vault", "k") is None  # no default: not locked
    with pytest.raises(InvalidRetention):
        engine.set_retention("vault", "k", "GOVERNANCE", past)


def _lose_catalog(root: Path, config: Path, kind: str, request: pytest.FixtureRequest) -> None:
    """The catalog lost: SQLite's files deleted, or (PostgreSQL) a new, empty database."""
    if kind == "sqlite":
        drop_catalog(root)
        return
    text = config.read_text()
    old = next(line for line in text.splitlines() if line.startswith("catalog = "))
    fresh = deployment_catalog(kind, request)
    config.write_text(text.replace(old, f'catalog = "{fresh}"'))


def test_rebuild_restores_locks_and_holds(
    tmp_path: Path, config_path: Path, catalog_kind: str, request: pytest.FixtureRequest
) -> None:
    until = time.time() + 3 * DAY
    with domicile.open(config_path) as engine:
        engine.create_bucket("vault", "eu-only", object_lock=True)
        engine.set_bucket_lock("vault", "GOVERNANCE", years=1)
        engine.put(
            "vault", "c", b"c" * 10, meta=ObjectMeta(lock_mode="COMPLIANCE", lock_until=until)
        )
        engine.put("vault", "h", b"h" * (3 << 20))  # segmented, default retention
        engine.set_legal_hold("vault", "h", True)  # rewrites its manifests
        engine.set_retention("vault", "c", "COMPLIANCE", until + DAY)
        older = engine.put("vault", "two", b"1", meta=ObjectMeta(legal_hold=True))
        engine.put("vault", "two", b"2", meta=ObjectMeta(legal_hold=True))
    _lose_catalog(tmp_path, config_path, catalog_kind, request)
    with domicile.open(config_path) as engine:
        engine.rebuild_catalog()
        config = engine.bucket_lock("vault")
        assert config is not None and config.mode == "GOVERNANCE" and config.years == 1
        c = engine.object_lock("vault", "c")
        assert c is not None and c.mode == "COMPLIANCE"
        assert c.retain_until == pytest.approx(until + DAY, abs=0.01)
        h = engine.object_lock("vault", "h")
        assert h is not None and h.legal_hold and h.mode == "GOVERNANCE"
        with pytest.raises(ObjectLocked):
            engine.remove("vault", "c", version_id=engine.head("vault", "c").s3_version_id)
        with pytest.raises(ObjectLocked):
            h_id = engine.head("vault", "h").s3_version_id
            engine.remove("vault", "h", version_id=h_id, bypass_governance=True)
        assert engine.versioning("vault") == "Enabled"
        kept = engine.object_lock("vault", "two", version_id=older.s3_version_id)
        assert kept is not None and kept.legal_hold  # a noncurrent version's hold, too
        assert len(engine.list_versions("vault", prefix="two").versions) == 2
        assert engine.get("vault", "h").read() == b"h" * (3 << 20)


def test_multipart_and_copy_take_their_lock(engine: Domicile) -> None:
    engine.create_bucket("vault", "eu-only", object_lock=True)
    engine.put("docs", "src", b"s" * 100)
    until = time.time() + DAY
    meta = ObjectMeta(lock_mode="COMPLIANCE", lock_until=until)
    engine.copy("docs", "src", "vault", "copied", meta=meta)
    assert engine.object_lock("vault", "copied") is not None
    up = engine.create_multipart("vault", "mp", meta=ObjectMeta(legal_hold=True))
    part = engine.upload_part("vault", "mp", up.upload_id, 1, b"p" * 10)
    engine.complete_multipart("vault", "mp", up.upload_id, [(1, part.etag)])
    lock = engine.object_lock("vault", "mp")
    assert lock is not None and lock.legal_hold
    with pytest.raises(LockNotEnabled):
        engine.create_multipart("docs", "mp", meta=meta)
