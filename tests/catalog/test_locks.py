"""Object Lock in the catalog: bucket defaults, version locks, the guard on forgetting."""

from __future__ import annotations

import time

import pytest

from domicile.catalog import BucketLock, Placement, SqlCatalog, VersionLock
from domicile.errors import BucketNotFound, InvalidRetention, ObjectLocked, ObjectNotFound
from tests.catalog.records import commit

DAY = 86_400.0


def _locked(catalog: SqlCatalog, mode: str | None = "COMPLIANCE", hold: bool = False) -> str:
    catalog.create_bucket("vault", "p")
    catalog.set_bucket_lock(BucketLock("vault"))
    v = commit(catalog, "vault", "k")
    until = time.time() + DAY if mode else None
    catalog.set_version_lock(VersionLock(v.version_id, mode, until, hold))
    return v.version_id


def test_bucket_lock_round_trip_and_default_checks(catalog: SqlCatalog) -> None:
    catalog.create_bucket("plain", "p")
    assert catalog.bucket_lock("plain") is None
    catalog.set_bucket_lock(BucketLock("plain", "GOVERNANCE", days=3))
    assert catalog.bucket_lock("plain") == BucketLock("plain", "GOVERNANCE", 3, None)
    for bad in (
        BucketLock("plain", "GOVERNANCE", 3, 1),
        BucketLock("plain", "GOVERNANCE"),
        BucketLock("plain", "FOREVER", days=1),
        BucketLock("plain", "COMPLIANCE", days=0),
        BucketLock("plain", None, days=2),
    ):
        with pytest.raises(InvalidRetention):
            catalog.set_bucket_lock(bad)
    with pytest.raises(BucketNotFound):
        catalog.bucket_lock("nope")


def test_compliance_version_cannot_be_deleted_nor_shortened(catalog: SqlCatalog) -> None:
    vid = _locked(catalog)
    lock = catalog.version_lock(vid)
    assert lock is not None and lock.mode == "COMPLIANCE" and lock.copies == 2
    with pytest.raises(ObjectLocked):
        catalog.delete_object("vault", "k")
    with pytest.raises(ObjectLocked):
        catalog.delete_object("vault", "k", bypass_governance=True)
    with pytest.raises(ObjectLocked):  # shortening, even with the bypass
        catalog.set_version_lock(
            VersionLock(vid, "COMPLIANCE", time.time() + 60), bypass_governance=True
        )
    with pytest.raises(ObjectLocked):  # to GOVERNANCE is weaker
        catalog.set_version_lock(VersionLock(vid, "GOVERNANCE", time.time() + 9 * DAY))
    with pytest.raises(ObjectLocked):  # a version replaced in an unversioned key is forgotten
        commit(catalog, "vault", "k")
    longer = time.time() + 2 * DAY
    catalog.set_version_lock(VersionLock(vid, "COMPLIANCE", longer))  # extending is fine
    assert catalog.current_version("vault", "k").version_id == vid
    assert catalog.garbage() == []


def test_governance_needs_the_bypass(catalog: SqlCatalog) -> None:
    vid = _locked(catalog, "GOVERNANCE")
    with pytest.raises(ObjectLocked):
        catalog.delete_object("vault", "k")
    with pytest.raises(ObjectLocked):
        catalog.set_version_lock(VersionLock(vid, None, None))
    catalog.set_version_lock(
        VersionLock(vid, "GOVERNANCE", time.time() + 60), bypass_governance=True
    )
    assert catalog.delete_object("vault", "k", bypass_governance=True) is not None
    assert catalog.version_lock(vid) is None  # forgotten with its version


def test_legal_hold_blocks_even_the_bypass_and_then_lifts(catalog: SqlCatalog) -> None:
    vid = _locked(catalog, None, hold=True)
    with pytest.raises(ObjectLocked):
        catalog.delete_object("vault", "k", bypass_governance=True)
    catalog.set_version_lock(VersionLock(vid, None, None, legal_hold=False))
    assert catalog.delete_object("vault", "k") is not None


def test_an_ended_retention_no_longer_guards(catalog: SqlCatalog) -> None:
    catalog.create_bucket("vault", "p")
    v = commit(catalog, "vault", "k")
    catalog.set_version_lock(VersionLock(v.version_id, "COMPLIANCE", time.time() - 1))
    assert catalog.delete_object("vault", "k") is not None


def test_a_locked_version_keeps_its_copy_count(catalog: SqlCatalog) -> None:
    vid = _locked(catalog)  # on s1 and s2, both ok: the lock keeps 2
    with pytest.raises(ObjectLocked) as refused:
        catalog.remove_placement(vid, "s1")
    assert refused.value.context["sites"] == ["s1"]
    catalog.add_placement(Placement(vid, "s3", "ok", time.time(), None))
    catalog.remove_placement(vid, "s1")  # moved: s2 and s3 remain
    assert [p.site_id for p in catalog.placements(vid)] == ["s2", "s3"]
    catalog.set_placement_state(vid, "s3", "corrupt")
    with pytest.raises(ObjectLocked):  # s2 would be the only good copy left
        catalog.remove_placement(vid, "s2")
    catalog.add_placement(Placement(vid, "s4", "ok", time.time(), None))
    catalog.remove_placement(vid, "s3")  # a bad copy goes: the good ones are untouched
    assert [p.site_id for p in catalog.placements(vid)] == ["s2", "s4"]


def test_set_version_lock_on_a_gone_version(catalog: SqlCatalog) -> None:
    with pytest.raises(ObjectNotFound):
        catalog.set_version_lock(VersionLock("f" * 32, "GOVERNANCE", time.time() + 5))
    catalog.create_bucket("b", "p")
    v = commit(catalog, "b", "k")
    with pytest.raises(InvalidRetention):
        catalog.set_version_lock(VersionLock(v.version_id, "GOVERNANCE", None))


def test_lifecycle_rules_and_bucket_removal(catalog: SqlCatalog) -> None:
    catalog.create_bucket("b", "p")
    catalog.set_bucket_lock(BucketLock("b"))
    catalog.set_lifecycle("b", '{"rules": []}')
    assert catalog.lifecycle("b") == '{"rules": []}'
    catalog.delete_bucket("b")
    catalog.create_bucket("b", "p")
    assert catalog.lifecycle("b") is None and catalog.bucket_lock("b") is None
    catalog.set_lifecycle("b", None)
    assert catalog.lifecycle("b") is None


def test_a_bucket_created_with_object_lock_is_versioned_in_the_same_transaction(
    catalog: SqlCatalog,
) -> None:
    made = catalog.create_bucket("vault", "p", "acme", object_lock=True)
    assert (made.versioning, made.object_lock) == ("Enabled", True)
    got = catalog.get_bucket("vault")
    assert (got.versioning, got.object_lock) == ("Enabled", True)
    assert catalog.bucket_lock("vault") == BucketLock("vault")
    plain = catalog.create_bucket("plain", "p")
    assert (plain.versioning, plain.object_lock) == (None, False)
    assert catalog.get_bucket("plain").object_lock is False
