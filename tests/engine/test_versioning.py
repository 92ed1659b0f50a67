"""Versioning through the engine: versions kept with their copies, delete markers written
to the sites, one version removed for good, suspended buckets' null versions, audit
records, residency upkeep (plan/apply, verify, report) and rebuild-catalog."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import domicile
from domicile.engine import Domicile, set_site_status
from domicile.errors import InvalidName, ObjectNotFound, VersionIsDeleteMarker, VersionNotFound
from tests.engine.conftest import blob_files, drop_catalog, make_deployment
from tests.engine.plans import planned
from tests.engine.test_scenarios import deployment, on_disk, referenced

#: Each test runs on a SQLite and on a PostgreSQL catalog (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]


def _names(root: Path, site: str) -> set[str]:
    return {p.name for p in blob_files(root, site)}


def _actions(engine: Domicile) -> list[str]:
    return [r.action for r in engine.audit.records()]


def test_an_unversioned_bucket_keeps_one_version(engine: Domicile, tmp_path: Path) -> None:
    assert engine.versioning("docs") is None
    first = engine.put("docs", "k", b"one")
    second = engine.put("docs", "k", b"two")
    assert first.null_version and second.s3_version_id == "null"
    assert "m" + first.version_id not in _names(tmp_path, "fr")  # replaced: collected
    assert [v.s3_version_id for v in engine.list_versions("docs").versions] == ["null"]
    gone = engine.remove("docs", "k")
    assert (gone.version_id, gone.delete_marker) == ("null", False)
    assert engine.list_versions("docs").versions == []


def test_versions_are_kept_with_their_blobs(engine: Domicile, tmp_path: Path) -> None:
    bucket = engine.set_versioning("docs", "Enabled")
    assert bucket.versioning == engine.versioning("docs") == "Enabled"
    first = engine.put("docs", "k", b"one")
    second = engine.put("docs", "k", b"two" * 1000)
    assert not first.null_version and first.s3_version_id == first.version_id
    assert engine.get("docs", "k").read() == b"two" * 1000
    assert engine.get("docs", "k", version_id=first.version_id).read() == b"one"
    assert engine.head("docs", "k", version_id=first.version_id).is_latest is False
    assert engine.get("docs", "k", 1, 2, version_id=first.version_id).read() == b"n"
    for site in ("fr", "de"):
        assert {"m" + first.version_id, "m" + second.version_id} <= _names(tmp_path, site)
    listed = engine.list_versions("docs").versions
    assert [(v.version_id, v.is_latest) for v in listed] == [
        (second.version_id, True),
        (first.version_id, False),
    ]
    assert engine.where("docs", "k", version_id=first.version_id)
    with pytest.raises(VersionNotFound):
        engine.head("docs", "k", version_id="0" * 32)
    with pytest.raises(InvalidName):
        engine.head("docs", "k", version_id="not-an-id")


def test_a_delete_writes_a_marker_to_the_sites(engine: Domicile, tmp_path: Path) -> None:
    engine.set_versioning("docs", "Enabled")
    kept = engine.put("docs", "k", b"kept")
    marker = engine.remove("docs", "k")
    assert marker.delete_marker and marker.version_id not in (None, "null")
    assert marker.version_id is not None
    for site in ("fr", "de"):  # the marker's durable record, where the policy allows
        assert "m" + marker.version_id in _names(tmp_path, site)
    assert "m" + marker.version_id not in _names(tmp_path, "us")
    with pytest.raises(ObjectNotFound) as err:
        engine.get("docs", "k")
    assert err.value.context["delete_marker"] is True
    assert err.value.context["version"] == marker.version_id
    with pytest.raises(VersionIsDeleteMarker):
        engine.get("docs", "k", version_id=marker.version_id)
    assert engine.head("docs", "k", version_id=marker.version_id).delete_marker
    assert engine.list("docs").objects == []
    assert engine.get("docs", "k", version_id=kept.version_id).read() == b"kept"
    # deleting the marker by id brings the object back, its blob removed from the sites
    undone = engine.remove("docs", "k", version_id=marker.version_id)
    assert (undone.version_id, undone.delete_marker) == (marker.version_id, True)
    assert engine.get("docs", "k").read() == b"kept"
    assert "m" + marker.version_id not in _names(tmp_path, "fr")
    assert [r.action for r in engine.audit.records()][-3:] == [
        "put",
        "delete_marker",
        "version_delete",
    ]


def test_a_version_deleted_by_id_leaves_the_sites(engine: Domicile, tmp_path: Path) -> None:
    engine.set_versioning("docs", "Enabled")
    old = engine.put("docs", "k", os.urandom(3 * 1024 * 1024))  # segments and a manifest
    engine.put("docs", "k", b"new")
    blobs = {s.blob_id for s in engine.context.catalog.segments(old.version_id)}
    assert blobs <= _names(tmp_path, "fr")
    done = engine.remove("docs", "k", version_id=old.version_id)
    assert (done.version_id, done.delete_marker) == (old.version_id, False)
    assert not (blobs | {"m" + old.version_id}) & _names(tmp_path, "fr")
    assert engine.get("docs", "k").read() == b"new"
    again = engine.remove("docs", "k", version_id=old.version_id)  # idempotent
    assert again.version_id is None
    record = list(engine.audit.records())[-1]
    assert (record.action, record.version) == ("version_delete", old.version_id)
    assert record.detail["latest"] is False


def test_suspended_buckets_write_null_versions(engine: Domicile, tmp_path: Path) -> None:
    unversioned = engine.put("docs", "k", b"from before")
    engine.set_versioning("docs", "Enabled")
    real = engine.put("docs", "k", b"versioned")
    engine.set_versioning("docs", "Suspended")
    null = engine.put("docs", "k", b"suspended")
    assert null.null_version
    assert "m" + unversioned.version_id not in _names(tmp_path, "fr")  # the null one replaced
    assert engine.get("docs", "k", version_id=real.version_id).read() == b"versioned"
    marker = engine.remove("docs", "k")  # a null marker replaces the null version
    assert (marker.version_id, marker.delete_marker) == ("null", True)
    assert "m" + null.version_id not in _names(tmp_path, "fr")
    listed = engine.list_versions("docs").versions
    assert [(v.s3_version_id, v.delete_marker) for v in listed] == [
        ("null", True),
        (real.version_id, False),
    ]
    records = [r for r in engine.audit.records() if r.action == "bucket_versioning"]
    assert [(r.detail["previous"], r.detail["status"]) for r in records] == [
        ("Unversioned", "Enabled"),
        ("Enabled", "Suspended"),
    ]


def test_copies_and_multipart_make_versions(engine: Domicile) -> None:
    from domicile.engine import ObjectMeta

    engine.set_versioning("docs", "Enabled")
    first = engine.put("docs", "src", b"first")
    engine.put("docs", "src", b"second")
    copied = engine.copy("docs", "src", "docs", "dst", src_version_id=first.version_id)
    assert engine.get("docs", "dst").read() == b"first" and not copied.null_version
    upload = engine.create_multipart("docs", "dst", meta=ObjectMeta())
    part = engine.upload_part("docs", "dst", upload.upload_id, 1, b"multi")
    done = engine.complete_multipart("docs", "dst", upload.upload_id, [(1, part.etag)])
    assert not done.null_version
    versions = [v.version_id for v in engine.list_versions("docs", prefix="dst").versions]
    assert versions == [done.version_id, copied.version_id]


def test_noncurrent_versions_and_markers_move_off_a_draining_site(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    with domicile.open(path) as engine:
        engine.set_versioning("records", "Enabled")
        for i in range(6):
            for _ in range(2):
                engine.put("records", f"k{i}", os.urandom(5_000))
            engine.remove("records", f"k{i}")
        assert engine.count_versions("records") == 18
        assert referenced(engine, "gra")
    set_site_status(path, "gra", "draining")
    with domicile.open(path) as engine:
        plan = planned(engine)
        moved = {s.version_id for s in plan.steps}
        catalog = engine.context.catalog
        kinds = {
            (v.is_latest, v.delete_marker) for v in catalog.iter_versions() if v.version_id in moved
        }
        assert (False, False) in kinds  # noncurrent versions move too
        engine.apply()
        assert referenced(engine, "gra") == set()
        assert engine.plan().empty
        assert engine.verify("full").ok
        report = engine.report(bucket="records")
        assert report.objects == 18  # every version and marker counts
        for v in engine.list_versions("records").versions:
            if not v.delete_marker:
                assert engine.get("records", v.key, version_id=v.version_id).read()
    assert on_disk(tmp_path, "gra") == set()


def test_rebuild_restores_versions_markers_and_status(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        engine.put("docs", "old", b"null version")  # before versioning: replaced below
        engine.put("docs", "old", b"null version 2")
        engine.set_versioning("docs", "Enabled")
        engine.put("docs", "k", b"one")
        engine.put("docs", "k", b"two")
        engine.remove("docs", "k")
        engine.put("docs", "old", b"versioned")
        before = [
            (v.key, v.s3_version_id, v.is_latest, v.delete_marker)
            for v in engine.list_versions("docs").versions
        ]
    assert len(before) == 5
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
        assert report.versions == 5 and not report.problems
        after = [
            (v.key, v.s3_version_id, v.is_latest, v.delete_marker)
            for v in engine.list_versions("docs").versions
        ]
        assert after == before
        assert engine.versioning("docs") == "Enabled"
        with pytest.raises(ObjectNotFound):
            engine.get("docs", "k")
        assert engine.get("docs", "old").read() == b"versioned"
        assert engine.get("docs", "old", version_id="null").read() == b"null version 2"


def test_the_history_replays_versioned_records(engine: Domicile) -> None:
    import time

    start = time.time() - 1
    engine.set_versioning("docs", "Enabled")
    first = engine.put("docs", "k", b"one")
    engine.put("docs", "k", b"two")
    engine.remove("docs", "k")
    engine.remove("docs", "k", version_id=first.version_id)
    history = engine.history_report(start, time.time() + 1, bucket="docs")
    assert history.versions == 3  # two versions and a marker, each with its copies
    assert history.copies == 6 and history.compliant


def test_repair_restores_a_lost_copy_of_a_noncurrent_version(
    engine: Domicile, tmp_path: Path
) -> None:
    engine.set_versioning("docs", "Enabled")
    old = engine.put("docs", "k", b"old version")
    engine.put("docs", "k", b"new version")
    marker = engine.remove("docs", "k")
    lost = {f"m{old.version_id}", f"m{marker.version_id}"}
    for path in blob_files(tmp_path, "fr"):
        if path.name in lost:
            path.unlink()
    report = engine.verify("quick")
    assert {p.version_id for p in report.problems if p.kind == "missing"} == {
        old.version_id,
        marker.version_id,
    }
    repaired = engine.repair()
    assert lost <= _names(tmp_path, "fr")  # the only other EU provider: copied back there
    assert engine.verify("full").ok, repaired
    assert engine.get("docs", "k", version_id=old.version_id).read() == b"old version"
