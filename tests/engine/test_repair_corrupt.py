"""Repair of a corrupt copy: rewritten in place or removed, never kept beside a new one."""

from __future__ import annotations

import os
from pathlib import Path

import domicile
from domicile.catalog import Placement
from domicile.engine import ObjectMeta
from domicile.engine.repair import _copy_version
from domicile.policy import decide
from domicile.sites import LocalSite
from tests.engine.conftest import blob_files, make_deployment

PL_SITE = """
[sites.pl]
template = "scaleway:pl-waw"
backend = { type = "local", path = "sites/pl" }
"""


def _four_sites(root: Path) -> Path:
    path = make_deployment(root, extra=PL_SITE)
    LocalSite.create("pl", root / "sites" / "pl")
    return path


def _put_multipart(engine: domicile.Domicile, key: str, body: bytes) -> None:
    upload = engine.create_multipart("docs", key, meta=ObjectMeta())
    part = engine.upload_part("docs", key, upload.upload_id, 1, body)
    engine.complete_multipart("docs", key, upload.upload_id, [(1, f'"{part.etag}"')])


def _corrupt_copy(engine: domicile.Domicile, root: Path, key: str, site: str) -> list[Path]:
    """Flip the last byte of every blob of bucket docs/key on ``site``; return the files."""
    catalog = engine.context.catalog
    [version] = [v for v in catalog.versions_on_site(site) if v.key == key]
    ids = {s.blob_id for s in catalog.segments(version.version_id)}
    files = [p for p in blob_files(root, site) if p.name in ids]
    for blob in files:
        data = bytearray(blob.read_bytes())
        data[-1] ^= 0x80
        blob.write_bytes(bytes(data))
    return files


def _elsewhere(engine: domicile.Domicile, key: str, victim: str) -> bool:
    """Whether the placement decision seeded by the version id, holding only the good
    copy, picks a site other than ``victim`` (the case where the old repair added a third
    copy and kept the corrupt one)."""
    ctx = engine.context
    [good] = [c.site_id for c in engine.where("docs", key) if c.site_id != victim]
    version = ctx.catalog.current_version("docs", key)
    policy = ctx.policy("eu-only")
    chosen = decide(policy, ctx.world, None, held=[good], spread=version.version_id).chosen
    return victim not in chosen


def test_repair_rewrites_corrupt_copies_in_place_and_verify_passes(tmp_path: Path) -> None:
    """Multipart objects are ranked by their upload id when placed and by their version id
    when repaired: the repair must still rewrite the corrupt copy where it is."""
    with domicile.open(_four_sites(tmp_path)) as engine:
        bodies: dict[str, bytes] = {}
        victims: dict[str, str] = {}
        for i in range(200):
            key = f"k{i}"
            bodies[key] = os.urandom(3000 + i)
            _put_multipart(engine, key, bodies[key])
            victims[key] = sorted(c.site_id for c in engine.where("docs", key))[i % 2]
            if _elsewhere(engine, key, victims[key]) and i >= 5:
                break
        assert any(_elsewhere(engine, k, v) for k, v in victims.items())
        bad_files = {k: _corrupt_copy(engine, tmp_path, k, v) for k, v in victims.items()}
        assert len(engine.verify("full").problems) == len(victims)
        report = engine.repair()
        assert sorted((a.key, a.site_id) for a in report.added) == sorted(victims.items())
        assert report.removed == [] and report.unrepairable == []
        for key, victim in victims.items():
            copies = engine.where("docs", key)
            assert sorted(c.site_id for c in copies) == sorted(
                c.site_id for c in copies if c.state == "ok"
            )
            assert len(copies) == 2 and victim in {c.site_id for c in copies}
            for blob in bad_files[key]:  # the rewritten files hold the good bytes again
                assert blob.read_bytes() == next(
                    p.read_bytes()
                    for p in blob_files(tmp_path, ({c.site_id for c in copies} - {victim}).pop())
                    if p.name == blob.name
                )
            assert engine.get("docs", key).read() == bodies[key]
        assert engine.verify("full").ok
        assert engine.repair().added == []


def test_repair_removes_a_corrupt_copy_once_good_copies_are_enough(tmp_path: Path) -> None:
    """The state the old repair left (two good copies and the corrupt one) heals: the
    corrupt placement goes, its blobs are deleted, verify passes."""
    with domicile.open(_four_sites(tmp_path)) as engine:
        body = os.urandom(5000)
        engine.put("docs", "k", body)
        holders = sorted(c.site_id for c in engine.where("docs", "k"))
        victim, good = holders
        files = _corrupt_copy(engine, tmp_path, "k", victim)
        assert not engine.verify("full").ok
        ctx = engine.context
        version = ctx.catalog.current_version("docs", "k")
        third = ({"fr", "de", "pl"} - set(holders)).pop()
        _copy_version(ctx, version, ctx.catalog.segments(version.version_id), [good], third)
        ctx.catalog.add_placement(Placement(version.version_id, third, "ok", 1.0, 1.0))
        assert not engine.verify("full").ok  # the corrupt copy is still counted
        report = engine.repair()
        assert [(r.site_id, r.state) for r in report.removed] == [(victim, "corrupt")]
        assert report.added == []
        copies = engine.where("docs", "k")
        assert sorted(c.site_id for c in copies) == sorted([good, third])
        assert {c.state for c in copies} == {"ok"}
        assert not any(f.exists() for f in files)  # the bad blobs were collected
        assert engine.verify("full").ok
        assert engine.get("docs", "k").read() == body
        actions = [r.action for r in engine.audit.records()]
        assert actions[-1] == "placement_removed" or "placement_removed" in actions


def test_repair_replaces_a_corrupt_copy_on_a_draining_site_and_drops_it(
    tmp_path: Path,
) -> None:
    """A corrupt copy whose site may no longer take writes is replaced on another site,
    then removed: the object ends with exactly its two good copies."""
    path = _four_sites(tmp_path)
    with domicile.open(path) as engine:
        body = os.urandom(4000)
        engine.put("docs", "k", body)
        victim = sorted(c.site_id for c in engine.where("docs", "k"))[0]
        files = _corrupt_copy(engine, tmp_path, "k", victim)
        assert not engine.verify("full").ok
    marker = f'path = "sites/{victim}" }}'
    path.write_text(path.read_text().replace(marker, marker + '\nstatus = "draining"', 1))
    with domicile.open(path) as engine:
        report = engine.repair()
        assert len(report.added) == 1 and report.added[0].site_id not in (victim, "us")
        assert [(r.site_id, r.state) for r in report.removed] == [(victim, "corrupt")]
        copies = engine.where("docs", "k")
        assert len(copies) == 2 and {c.state for c in copies} == {"ok"}
        assert victim not in {c.site_id for c in copies}
        assert not any(f.exists() for f in files)
        assert engine.verify("full").ok
        assert engine.get("docs", "k").read() == body
