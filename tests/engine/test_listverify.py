"""A quick verify compares each site's listing with the catalog (issue #22): no HEAD per
blob, the same findings and marks as a copy-by-copy check."""

from __future__ import annotations

import os
from pathlib import Path

import domicile
from domicile.engine import set_site_status
from domicile.sites import FaultySite
from tests.engine.conftest import blob_files


def sites_of(engine: domicile.Domicile, key: str) -> set[str]:
    return {c.site_id for c in engine.where("docs", key)}


def test_a_quick_verify_lists_each_site_once_and_finds_what_heads_would(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    for i in range(6):
        engine.put("docs", f"k{i}", os.urandom(1000 + i))
    engine.put("docs", "big", os.urandom(3 * 1024 * 1024))  # a manifest of its own
    spies = {sid: FaultySite(site) for sid, site in engine.context.sites.items()}
    engine.context.sites.update(spies)
    report = engine.verify("quick")
    assert report.ok and report.versions == 7 and report.copies == 14
    for spy in spies.values():
        assert spy.calls["head"] == 0 and spy.calls["list"] <= 1

    holder = engine.where("docs", "k1")[0].site_id
    catalog = engine.context.catalog

    def blob_of(key: str) -> Path:  # the one blob of a small object on ``holder``
        (segment,) = catalog.segments(catalog.current_version("docs", key).version_id)
        (file,) = [f for f in blob_files(tmp_path, holder) if f.name == segment.blob_id]
        return file

    both = [k for k in ("k0", "k1", "k2", "k3", "k4", "k5") if holder in sites_of(engine, k)]
    lost, shrunk = blob_of(both[0]), blob_of(both[1])
    lost.unlink()
    shrunk.write_bytes(shrunk.read_bytes()[:-1])
    report = engine.verify("quick")
    found = sorted((p.site_id, p.kind) for p in report.problems)
    assert found == sorted([(holder, "missing"), (holder, "corrupt")])
    for p in report.problems:
        (copy,) = [c for c in engine.where("docs", p.key) if c.site_id == holder]
        assert copy.state == p.kind
    assert any("bytes, the catalog says" in p.detail for p in report.problems)
    assert any("not found on site" in p.detail for p in report.problems)
    # Every other copy is marked good; the bad ones are the faults repair works from.
    bad = {(p.key, p.site_id) for p in report.problems}
    for key in [f"k{i}" for i in range(6)] + ["big"]:
        for copy in engine.where("docs", key):
            assert (copy.state == "ok") == ((key, copy.site_id) not in bad), (key, copy)


def test_copies_on_sites_not_read_are_skipped_as_before(tmp_path: Path) -> None:
    from tests.engine.conftest import make_deployment

    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        engine.put("docs", "a", b"x" * 100)
        holders = [c.site_id for c in engine.where("docs", "a")]
    set_site_status(path, holders[0], "suspended")
    with domicile.open(path) as engine:
        report = engine.verify("quick")
        assert [(p.site_id, p.kind) for p in report.problems] == [(holders[0], "skipped")]
        assert report.copies == 2 and report.ok
