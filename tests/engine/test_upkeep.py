"""Verify, repair and rebuild-catalog on real local-folder sites."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

import domicile
from domicile.errors import CatalogError
from domicile.sites import FaultySite, LocalSite
from tests.engine.conftest import (
    blob_files,
    drop_catalog,
    first_reader,
    make_deployment,
    segment_files,
)

MiB = 1024 * 1024
# A fourth EU site at a fourth provider, so a lost copy has somewhere new to go.
PL_SITE = """
[sites.pl]
template = "scaleway:pl-waw"
backend = { type = "local", path = "sites/pl" }
"""


def _flip_last_byte(blob: Path) -> None:
    data = bytearray(blob.read_bytes())
    data[-1] ^= 0x80
    blob.write_bytes(bytes(data))


def test_verify_levels_find_missing_and_corrupt_copies(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    engine.put("docs", "a", os.urandom(100_000))
    engine.put("docs", "b", os.urandom(100_000))
    report = engine.verify("deep")
    assert report.ok and report.versions == 2 and report.copies == 4
    holder = engine.where("docs", "a")[0].site_id
    victim = next(p for p in segment_files(engine, tmp_path, holder))
    _flip_last_byte(victim)  # same size: only hashing or decrypting can tell
    assert engine.verify("quick").ok
    full = engine.verify("full")
    assert not full.ok
    assert [(p.site_id, p.kind) for p in full.problems] == [(holder, "corrupt")]
    victim.unlink()
    quick = engine.verify("quick")
    assert [(p.site_id, p.kind) for p in quick.problems] == [(holder, "missing")]
    states = {c.site_id: c.state for c in engine.where("docs", quick.problems[0].key)}
    assert states[holder] == "missing"


def test_verify_marks_good_copies_in_batches_and_never_over_a_fault_found_meanwhile(
    engine: domicile.Domicile, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domicile.engine import verify as verify_module

    monkeypatch.setattr(verify_module, "BATCH", 3)  # 3 marks per transaction: 2 and a bit
    for i in range(4):
        engine.put("docs", f"k{i}", os.urandom(1000))
    catalog = engine.context.catalog
    checked: list[tuple[str, str]] = []
    check = verify_module.verify_copy

    def spy(ctx: Any, level: Any, version: Any, segments: Any, site_id: str, **kw: Any) -> None:
        check(ctx, level, version, segments, site_id, **kw)
        checked.append((version.version_id, site_id))

    monkeypatch.setattr(verify_module, "verify_copy", spy)
    faulted: list[tuple[str, str]] = []

    def progress(_: int) -> None:  # a reader faults the first copy checked, after its check
        if not faulted:
            faulted.append(checked[0])
            catalog.set_placement_state(*checked[0], "corrupt")

    before = time.time()
    assert engine.verify("full", progress=progress).ok  # quick lists: see test_listverify
    after = time.time()
    assert len(checked) == 8
    for vid, site in checked:
        [p] = [p for p in catalog.placements(vid) if p.site_id == site]
        if (vid, site) in faulted:
            assert p.state == "corrupt"  # found good before the fault: the fault stands
        else:
            assert p.state == "ok" and p.verified_at is not None
            assert before - 0.01 <= p.verified_at <= after + 0.01


def test_deep_verify_decrypts(engine: domicile.Domicile, tmp_path: Path) -> None:
    engine.put("docs", "a", os.urandom(200_000))
    site = engine.where("docs", "a")[0].site_id
    [blob] = segment_files(engine, tmp_path, site)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 1
    blob.write_bytes(bytes(data))
    assert engine.verify("deep").problems[0].kind == "corrupt"


def test_repair_rewrites_a_lost_copy_in_place(engine: domicile.Domicile, tmp_path: Path) -> None:
    body = os.urandom(2 * MiB + 5)
    engine.put("docs", "k", body)
    holder = engine.where("docs", "k")[0].site_id
    for blob in blob_files(tmp_path, holder):
        blob.unlink()
    engine.verify("quick")
    report = engine.repair()
    assert [(a.key, a.site_id) for a in report.added] == [("k", holder)]
    assert engine.verify("full").ok
    assert {c.state for c in engine.where("docs", "k")} == {"ok"}
    shutil.rmtree(tmp_path / "sites" / ({"fr", "de"} - {holder}).pop())
    assert engine.get("docs", "k").read() == body  # served by the repaired copy alone


def test_repair_follows_read_faults(engine: domicile.Domicile, tmp_path: Path) -> None:
    body = os.urandom(150_000)
    engine.put("docs", "k", body)
    holder = first_reader(engine, "docs", "k")
    [blob] = segment_files(engine, tmp_path, holder)
    _flip_last_byte(blob)
    for _ in range(2):
        assert engine.get("docs", "k").read() == body  # fails over, records the fault
    report = engine.repair()
    assert [a.site_id for a in report.added] == [holder]
    assert engine.context.catalog.open_faults() == []
    assert engine.verify("deep").ok


def test_repair_moves_off_a_suspended_site_within_the_policy(tmp_path: Path) -> None:
    path = make_deployment(tmp_path, extra=PL_SITE)
    LocalSite.create("pl", tmp_path / "sites" / "pl")
    with domicile.open(path) as engine:
        engine.put("docs", "k", b"payload")
        holders = sorted(c.site_id for c in engine.where("docs", "k"))
    banned = holders[0]
    marker = f'path = "sites/{banned}" }}'
    path.write_text(path.read_text().replace(marker, marker + '\nstatus = "suspended"', 1))
    with domicile.open(path) as engine:
        assert engine.get("docs", "k").read() == b"payload"
        report = engine.repair()
        assert len(report.added) == 1 and report.added[0].site_id not in (banned, "us")
        copies = {c.site_id: c for c in engine.where("docs", "k")}
        # Residency was never broken there: compliant, with the status reason to move it.
        assert copies[banned].compliant and "suspended" in " ".join(copies[banned].reasons)
        assert sum(c.compliant and not c.reasons for c in copies.values()) == 2
    assert blob_files(tmp_path, "us") == []


def test_repair_reports_what_cannot_be_met(engine: domicile.Domicile, tmp_path: Path) -> None:
    engine.put("docs", "k", b"x")
    holder = engine.where("docs", "k")[0].site_id
    other = ({"fr", "de"} - {holder}).pop()
    for blob in blob_files(tmp_path, other):
        blob.unlink()
    engine.verify("quick")
    engine.context.sites[holder].close()
    shutil.rmtree(tmp_path / "sites" / holder)
    report = engine.repair()
    assert report.added == []
    assert len(report.unrepairable) == 1
    assert blob_files(tmp_path, "us") == []  # never the refused site


def test_rebuild_catalog_from_the_sites(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    bodies = {f"dir/{i}": os.urandom(i * 300_001) for i in range(5)}
    with domicile.open(path) as engine:
        engine.create_bucket("archive", "eu-only", tenant="acme")
        for key, body in bodies.items():
            engine.put("docs", key, body, content_type="text/x-test", metadata={"n": key})
        engine.put("archive", "old", b"first")
        engine.put("archive", "old", b"second")  # the replaced version's blobs are collected
        with pytest.raises(CatalogError):
            engine.rebuild_catalog()  # refuses to mix histories
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
        assert report.versions == 6 and report.placements == 12 and not report.problems
        assert report.buckets_created == ["archive"]
        assert engine.bucket("archive").tenant == "acme"
        for key, body in bodies.items():
            assert engine.get("docs", key).read() == body
            info = engine.head("docs", key)
            assert info.meta.content_type == "text/x-test"
            assert dict(info.meta.user) == {"n": key}
        assert engine.get("archive", "old").read() == b"second"
        assert engine.verify("deep").ok


def test_sweep_removes_only_old_unreferenced_blobs(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    engine.put("docs", "kept", b"referenced")
    holder = engine.where("docs", "kept")[0].site_id
    site = engine.context.sites[holder]
    site.put("b" + "0" * 32, [b"orphan from a crashed write"])
    site.put("b" + "1" * 32, [b"an upload still in flight"])
    old = tmp_path / "sites" / holder
    [orphan] = list(old.rglob("b" + "0" * 32))
    os.utime(orphan, (1, 1))  # written long ago
    dry = engine.sweep(grace=3600, dry_run=True)
    assert dry.removed == 1 and orphan.exists()
    report = engine.sweep(grace=3600)
    assert [s.removed for s in report.sites if s.site_id == holder] == [["b" + "0" * 32]]
    assert {s.young for s in report.sites if s.site_id == holder} == {1}
    assert not orphan.exists()
    assert engine.get("docs", "kept").read() == b"referenced"
    assert engine.verify("full").ok


def test_a_copy_that_does_not_read_back_is_not_recorded(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    engine.put("docs", "k", os.urandom(70_000))
    holder = engine.where("docs", "k")[0].site_id
    for blob in blob_files(tmp_path, holder):
        blob.unlink()
    engine.verify("quick")
    liar = FaultySite(engine.context.sites[holder])
    liar.flip_byte(100)  # the site alters what it returns
    engine.context.sites[holder] = liar
    report = engine.repair()
    assert report.added == []
    assert "does not read back" in report.unrepairable[0].reason
    states = {c.site_id: c.state for c in engine.where("docs", "k")}
    assert states[holder] == "missing"
