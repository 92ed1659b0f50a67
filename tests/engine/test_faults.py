"""Writes under site faults: all or nothing, never on a refused site, clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import domicile
from domicile.errors import ObjectNotFound, PlacementRefused, SiteFull, SiteUnavailable
from domicile.sites import FaultySite, LocalSite
from tests.engine.conftest import blob_files, make_deployment

MiB = 1024 * 1024


def _faulty(engine: domicile.Domicile, site_id: str) -> FaultySite:
    sites = engine.context.sites
    wrapped = FaultySite(sites[site_id])
    sites[site_id] = wrapped
    return wrapped


def _assert_nothing_stored(engine: domicile.Domicile, root: Path) -> None:
    with pytest.raises(ObjectNotFound):
        engine.head("docs", "k")
    for site in ("fr", "de", "us"):
        assert blob_files(root, site) == []


def test_full_disk_mid_upload_leaves_nothing(engine: domicile.Domicile, tmp_path: Path) -> None:
    _faulty(engine, "fr").fill_after(3 * MiB)
    with pytest.raises(SiteFull) as err:
        engine.put("docs", "k", os.urandom(5 * MiB))
    assert err.value.context["site"] == "fr"
    _assert_nothing_stored(engine, tmp_path)


def test_site_dying_mid_upload_leaves_nothing(engine: domicile.Domicile, tmp_path: Path) -> None:
    _faulty(engine, "de").die_after(200_000)
    with pytest.raises(SiteUnavailable):
        engine.put("docs", "k", os.urandom(3 * MiB))
    _assert_nothing_stored(engine, tmp_path)


def test_a_down_site_makes_the_policy_unsatisfiable_and_put_fails_closed(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    _faulty(engine, "de").go_down()
    # The probe before the decision finds the outage: the decision refuses before writing
    # anything, and the non-EU site is never used as a fallback.
    with pytest.raises(PlacementRefused) as err:
        engine.put("docs", "k", b"payload")
    reasons = {v.site_id: [r.code for r in v.reasons] for v in err.value.decision.verdicts}
    assert "unhealthy" in reasons["de"]
    assert "country_not_allowed" in reasons["us"]
    _assert_nothing_stored(engine, tmp_path)


def test_reads_never_touch_a_suspended_site(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        engine.put("docs", "k", b"payload")
        holders = [c.site_id for c in engine.where("docs", "k")]
    text = path.read_text()
    suspended = holders[0]
    marker = f'backend = {{ type = "local", path = "sites/{suspended}" }}'
    path.write_text(text.replace(marker, marker + '\nstatus = "suspended"'))
    with domicile.open(path) as engine:
        spy = _faulty(engine, suspended)
        assert engine.get("docs", "k").read() == b"payload"
        assert spy.calls["get"] == 0


def test_an_outage_no_probe_saw_is_decided_again_and_fails_closed(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    engine.put("docs", "warm", b"probes are fresh now")
    before = {s: blob_files(tmp_path, s) for s in ("fr", "de", "us")}
    _faulty(engine, "de").go_down()  # after the probe, before the next write
    # The write to de fails; de is marked unhealthy and the placement decided again:
    # fr alone cannot give two providers, and us is outside the EU, so the PUT is refused
    # with the reason per site instead of landing anywhere else.
    with pytest.raises(PlacementRefused) as err:
        engine.put("docs", "k", b"payload")
    reasons = {v.site_id: [r.code for r in v.reasons] for v in err.value.decision.verdicts}
    assert "unhealthy" in reasons["de"]
    assert "country_not_allowed" in reasons["us"]
    assert not engine.context.health.healthy("de")
    with pytest.raises(ObjectNotFound):
        engine.head("docs", "k")
    assert {s: blob_files(tmp_path, s) for s in ("fr", "de", "us")} == before


def test_an_outage_no_probe_saw_moves_a_small_put_to_another_compliant_site(
    tmp_path: Path,
) -> None:
    extra = """
[sites.nl]
country = "NL"
operator = "scaleway"
provider = "scaleway"
backend = { type = "local", path = "sites/nl" }
"""
    LocalSite.create("nl", tmp_path / "sites" / "nl")
    with domicile.open(make_deployment(tmp_path, extra)) as engine:
        engine.put("docs", "warm", b"probes are fresh now")
        victim = _faulty(engine, "fr")
        victim.go_down()  # after the probe: the next decisions still count fr as healthy
        for n in range(30):  # until a placement picks fr (two of three EU sites each time)
            engine.put("docs", f"k{n}", b"payload")
            held = {c.site_id for c in engine.where("docs", f"k{n}")}
            assert held <= {"de", "nl"} and len(held) == 2, held
            assert engine.get("docs", f"k{n}").read() == b"payload"
            if victim.calls["put"]:
                break
        assert victim.calls["put"] >= 1  # chosen, failed, and the PUT went elsewhere
        assert not engine.context.health.healthy("fr")
        victim.heal()
    assert blob_files(tmp_path, "us") == []


def test_a_site_that_fails_on_the_second_try_too_is_raised_and_leaves_nothing(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    engine.put("docs", "warm", b"probes are fresh now")
    before = {s: blob_files(tmp_path, s) for s in ("fr", "de", "us")}
    _faulty(engine, "fr").fail_next("put", 1)  # fr fails once, then de fails
    _faulty(engine, "de").fail_next("put", 2)
    with pytest.raises((SiteUnavailable, PlacementRefused)):
        engine.put("docs", "k", b"payload")
    with pytest.raises(ObjectNotFound):
        engine.head("docs", "k")
    assert {s: blob_files(tmp_path, s) for s in ("fr", "de", "us")} == before


def test_probes_measure_latency_and_order_reads(engine: domicile.Domicile) -> None:
    views = {v.site_id: v for v in engine.sites()}
    assert all(v.latency_ms is not None and v.healthy for v in views.values())
    slow = _faulty(engine, "fr")
    slow.latency = 0.05
    engine.sites()  # probe again
    assert engine.context.health.latency("fr") >= 0.05
    assert engine.context.health.read_order(["fr", "de"]) == ["de", "fr"]
