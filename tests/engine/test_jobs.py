"""Jobs that coordinate: one apply per scope, steps re-checked when they run, queued
garbage never deleting a copy re-added since. (A second apply against a running one in
another process, killed with ``kill -9`` and taken over once its lease expired, is in
``test_scenarios.py``.)"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

import domicile
from domicile.catalog import Holder
from domicile.engine import PlanSummary, set_site_status
from domicile.errors import LeaseHeld
from domicile.sites import FaultySite, LocalSite
from tests.engine.conftest import blob_files
from tests.engine.plans import planned

#: Each test runs on a SQLite and on a PostgreSQL catalog (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]

# A third EU site at a third provider, so copies have somewhere to move.
PL_SITE = """
[sites.pl]
template = "scaleway:pl-waw"
backend = { type = "local", path = "sites/pl" }
"""


def _with_pl(path: Path) -> Path:
    """The deployment at ``path`` (``config_path``: on each catalog of CATALOGS) with pl."""
    path.write_text(path.read_text() + PL_SITE)
    LocalSite.create("pl", path.parent / "sites" / "pl")
    return path


def _holders(engine: domicile.Domicile, key: str) -> dict[str, str]:
    return {c.site_id: c.state for c in engine.where("docs", key)}


def test_a_second_apply_is_refused_while_the_first_waits_for_confirmation(
    config_path: Path, tmp_path: Path
) -> None:
    path = _with_pl(config_path)
    with domicile.open(path) as engine:
        engine.put("docs", "k", os.urandom(1000))
        drained = sorted(_holders(engine, "k"))[0]
    set_site_status(path, drained, "draining")
    refusals: list[LeaseHeld] = []

    def confirm(plan: PlanSummary) -> bool:
        with domicile.open(path) as other, pytest.raises(LeaseHeld) as refused:
            other.apply(bucket="docs")  # overlaps "every bucket"
        refusals.append(refused.value)
        return True

    with domicile.open(path) as engine:
        report = engine.apply(confirm=confirm)
        assert report.added == 1 and report.removed == 1
        error = refusals[0]
        assert f"process {os.getpid()} on {socket.gethostname()}" in error.message
        assert error.context["since"] and "expires at" in (error.hint or "")
        assert engine.context.catalog.leases() == []  # released at the end
        engine.apply()  # and free again


def test_a_plan_gone_stale_during_confirmation_is_skipped_not_aborted(
    config_path: Path, tmp_path: Path
) -> None:
    path = config_path
    keys = [f"k{i}" for i in range(5)]
    with domicile.open(path) as engine:
        for key in keys:
            engine.put("docs", key, os.urandom(2000))  # on fr and de, the only EU sites
    path.write_text(path.read_text() + PL_SITE)
    LocalSite.create("pl", tmp_path / "sites" / "pl")
    set_site_status(path, "fr", "draining")
    fresh = os.urandom(3000)

    def confirm(plan: PlanSummary) -> bool:
        assert plan.adds == 5 and plan.removes == 5
        engine.delete("docs", "k0")  # while the operator reads the plan
        engine.put("docs", "k1", fresh)  # a new version: the planned one is gone
        return True

    with domicile.open(path) as engine:
        report = engine.apply(confirm=confirm)
        assert report.skipped == 4 and not report.failed
        assert report.added == 3 and report.removed == 3
        assert all("stale: the object was replaced or deleted" in s for s in report.skips)
        assert {j.state for j in engine.context.catalog.jobs(run_id=report.run_id)} == {
            "done",
            "skipped",
        }
        assert planned(engine).empty
        assert engine.get("docs", "k1").read() == fresh
        assert engine.verify("full").ok


def test_a_removal_is_kept_when_a_copy_went_bad_during_confirmation(
    config_path: Path, tmp_path: Path
) -> None:
    path = config_path
    with domicile.open(path) as engine:
        engine.put("docs", "k", os.urandom(5000))
        vid = engine.head("docs", "k").version_id
    path.write_text(path.read_text() + PL_SITE)
    LocalSite.create("pl", tmp_path / "sites" / "pl")
    set_site_status(path, "fr", "draining")

    with domicile.open(path) as engine:
        plan = planned(engine)
        assert [(s.action, s.site_id, s.reason) for s in plan.steps] == [
            ("add", "pl", "COUNT"),
            ("remove", "fr", "STATUS"),
        ]

        def confirm(summary: PlanSummary) -> bool:  # verify finds de's copy bad meanwhile
            engine.context.catalog.set_placement_state(vid, "de", "corrupt")
            return True

        report = engine.apply(confirm=confirm)
        assert report.added == 1 and report.removed == 0 and report.skipped == 1
        assert "kept: removing it would leave fewer than 2 verified-good" in report.skips[0]
        # fr's copy is one of the two good ones left: it stays until de's is rewritten
        assert _holders(engine, "k") == {"fr": "ok", "de": "corrupt", "pl": "ok"}
        report = engine.apply()
        assert report.added == 1 and report.removed == 1 and not report.skipped
        assert _holders(engine, "k") == {"de": "ok", "pl": "ok"}
        assert engine.verify("full").ok


def test_a_removal_waits_for_the_copy_that_replaces_it(config_path: Path, tmp_path: Path) -> None:
    path = _with_pl(config_path)
    with domicile.open(path) as engine:
        engine.put("docs", "k", os.urandom(5000))
        drained, kept = sorted(_holders(engine, "k"))
    set_site_status(path, drained, "draining")
    with domicile.open(path) as engine:
        target = next(s for s in ("fr", "de", "pl") if s not in (drained, kept))
        faulty = FaultySite(engine.context.sites[target])
        faulty.fail_next("put", 100)  # the copy there fails
        engine.context.sites[target] = faulty  # type: ignore[assignment]
        report = engine.apply()
        engine.context.sites[target] = faulty.inner
        assert report.failed == 1 and report.removed == 0 and report.skipped == 1
        assert set(_holders(engine, "k")) == {drained, kept}
        assert engine.apply().removed == 1
        assert set(_holders(engine, "k")) == {kept, target}


def test_a_copy_re_added_where_its_blobs_are_queued_for_deletion_survives(
    config_path: Path, tmp_path: Path
) -> None:
    """The data loss of issue #18: a copy removed while its site was down leaves its
    blobs queued for deletion; the site comes back, a later apply copies the object there
    again (same blob ids), and the queued deletion then removed the new copy."""
    path = _with_pl(config_path)
    body = os.urandom(200_000)
    with domicile.open(path) as engine:
        engine.put("docs", "k", body)
        first, second = sorted(_holders(engine, "k"))
    third = next(s for s in ("fr", "de", "pl") if s not in (first, second))
    set_site_status(path, first, "draining")
    with domicile.open(path) as engine:
        away = engine.context.sites.pop(first)  # unreachable while this apply runs
        report = engine.apply()
        engine.context.sites[first] = away
        assert report.added == 1 and report.removed == 1
        assert {g.site_id for g in engine.context.catalog.garbage()} == {first}
    set_site_status(path, first, "active")
    set_site_status(path, third, "draining")  # the object goes back to the first site
    with domicile.open(path) as engine:
        report = engine.apply()  # ... and collects the garbage queue as it ends
        assert report.added == 1 and report.removed == 1 and not report.failed
        assert set(_holders(engine, "k")) == {first, second}
        assert engine.verify("full").ok  # the first site's copy is whole
        assert engine.context.catalog.garbage() == []
        assert len(blob_files(tmp_path, first)) == len(blob_files(tmp_path, second)) > 0
        assert engine.get("docs", "k").read() == body


def test_a_repair_is_refused_while_another_repair_holds_the_scope(
    config_path: Path, tmp_path: Path
) -> None:
    path = _with_pl(config_path)
    with domicile.open(path) as engine:
        engine.put("docs", "k", os.urandom(100))
        catalog = engine.context.catalog
        catalog.acquire_lease("repair", "docs", Holder("elsewhere", 7, "r"), 600)
        with pytest.raises(LeaseHeld, match="process 7 on elsewhere"):
            engine.repair()
        engine.apply()  # another kind of job: not refused
        catalog.release_lease("repair", "docs", "r")
        assert engine.repair().versions == 1


def test_an_apply_that_loses_its_lease_stops_before_changing_anything(
    config_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _with_pl(config_path)
    with domicile.open(path) as engine:
        engine.put("docs", "k", os.urandom(1000))
        drained = sorted(_holders(engine, "k"))[0]
    set_site_status(path, drained, "draining")
    with domicile.open(path) as engine:
        before = _holders(engine, "k")
        engine.context.lease_seconds = 0.3
        catalog = engine.context.catalog
        # another run took the scope over while this one was stalled
        monkeypatch.setattr(catalog, "renew_lease", lambda *args: False)

        def confirm(plan: PlanSummary) -> bool:
            time.sleep(0.5)  # the renewal thread finds the lease lost meanwhile
            return True

        with pytest.raises(LeaseHeld, match="lost its lease"):
            engine.apply(confirm=confirm)
        assert {j.state for j in catalog.jobs()} == {"interrupted"}
        assert _holders(engine, "k") == before  # nothing copied, nothing removed
