"""Placement through the engine: copies only where the policy allows, fail closed otherwise."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import domicile
from domicile.errors import PlacementRefused
from tests.engine.conftest import blob_files, make_deployment


def test_copies_land_only_on_compliant_sites(engine: domicile.Domicile, tmp_path: Path) -> None:
    for i in range(10):
        engine.put("docs", f"k{i}", os.urandom(100))
    assert blob_files(tmp_path, "us") == []  # never the non-EU site, for any object
    copies = engine.where("docs", "k0")
    assert sorted(c.site_id for c in copies) == ["de", "fr"]
    assert all(c.compliant and c.state == "ok" for c in copies)
    assert {c.country for c in copies} == {"DE", "FR"}


def test_explain_names_the_refused_site_and_why(engine: domicile.Domicile) -> None:
    decision = engine.explain("docs")
    assert decision.ok
    refused = [v for v in decision.verdicts if not v.accepted]
    assert [v.site_id for v in refused] == ["us"]
    assert any(r.code == "country_not_allowed" for r in refused[0].reasons)


def test_unsatisfiable_policy_fails_closed(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    text = path.read_text().replace(
        'provider = "hetzner"\n', 'provider = "hetzner"\nstatus = "suspended"\n'
    )
    path.write_text(text)
    with domicile.open(path) as engine:
        with pytest.raises(PlacementRefused) as err:
            engine.put("docs", "k", b"secret")
        assert "eu-only" in str(err.value) or err.value.context.get("policy") == "eu-only"
        decision = err.value.decision
        assert decision is not None and not decision.ok
    for site in ("fr", "de", "us"):
        assert blob_files(tmp_path, site) == []


def test_sites_view(engine: domicile.Domicile) -> None:
    views = {v.site_id: v for v in engine.sites()}
    assert set(views) == {"fr", "de", "us"}
    assert "CN" in views["us"].subject_to  # Alibaba's Silicon Valley region, Chinese parent
    assert all(v.healthy for v in views.values())
