"""plan, apply and sites set-status: a summary that fits 80 columns, reason codes with a
legend, every step under --details, JSON Lines under --json."""

from __future__ import annotations

from pathlib import Path

import pytest

from domicile.catalog import Holder, open_catalog
from domicile.sites import LocalSite
from tests.cli.conftest import Run

WAW = """
[sites.scw-waw]
template = "scaleway:pl-waw"
backend = { type = "local", path = "sites/scw-waw" }
"""
KEYS = [f"quarterly/{'very-long-directory-name/' * 3}report-{i:03d}.pdf" for i in range(12)]


@pytest.fixture
def draining(deployment: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> tuple[str, ...]:
    """Twelve objects with long keys; a third EU site; hetzner-fsn set draining."""
    cfg = ("--config", str(deployment))
    for key in KEYS:
        assert run(*cfg, "put", str(deployment), f"reports/{key}").code == 0
    deployment.write_text(deployment.read_text() + WAW)
    LocalSite.create("scw-waw", deployment.parent / "sites" / "scw-waw")
    changed = run(*cfg, "sites", "set-status", "hetzner-fsn", "draining")
    assert changed.code == 0, changed.err
    monkeypatch.setenv("COLUMNS", "80")
    return cfg


def test_the_plan_is_a_summary_in_80_columns_with_a_legend(
    draining: tuple[str, ...], run: Run
) -> None:
    out = run(*draining, "plan").out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80, out
    assert lines[0] == "plan: 12 of 12 objects to change"
    assert "+ 12 copies to add" in out and "- 12 copies to remove" in out
    assert any(line.split()[:4] == ["add", "ovh-gra", "->", "scw-waw"] for line in lines)
    row = next(line for line in lines if line.split()[:2] == ["remove", "hetzner-fsn"])
    assert row.split()[2:4] == ["STATUS", "12"]
    at = lines.index("  remove hetzner-fsn (STATUS):")
    examples = lines[at + 1 : at + 4]
    assert all(e.startswith("    reports/quarterly/") and e.endswith("…") for e in examples)
    assert lines[at + 4] == ""  # three examples, each cut to fit
    assert "  STATUS   the site is draining, suspended or retired" in lines
    assert "  COUNT    the policy needs more compliant copies than are held" in lines
    assert KEYS[5] not in out  # one row per route and reason, not per object


def test_details_streams_every_step_with_the_full_reason(
    draining: tuple[str, ...], run: Run
) -> None:
    out = run(*draining, "plan", "--details").out
    removals = [line for line in out.splitlines() if line.startswith("- reports/")]
    assert len(removals) == 12
    assert all("hetzner-fsn  STATUS: " in line for line in removals)
    assert all("draining" in line for line in removals)  # the sentence, in full
    assert out.count("+ reports/") == 12


def test_json_streams_json_lines_and_the_summary_last(draining: tuple[str, ...], run: Run) -> None:
    lines = run(*draining, "--json", "plan").lines()
    steps, summary = lines[:-1], lines[-1]
    assert len(steps) == 24 and {s["type"] for s in steps} == {"step"}
    remove = next(s for s in steps if s["action"] == "remove")
    assert remove["reason"] == "STATUS" and "draining" in remove["why"]
    assert remove["key"] in KEYS and remove["site_id"] == "hetzner-fsn"
    assert summary["type"] == "summary" and summary["adds"] == 12
    assert summary["legend"]["STATUS"] == "the site is draining, suspended or retired"
    assert {(g["action"], g["route"], g["count"]) for g in summary["groups"]} == {
        ("add", "ovh-gra -> scw-waw", 12),
        ("remove", "hetzner-fsn", 12),
    }


def test_apply_shows_the_summary_then_reports(draining: tuple[str, ...], run: Run) -> None:
    done = run(*draining, "apply", "--yes")
    assert done.code == 0, done.err
    assert done.out.startswith("plan: 12 of 12 objects to change")
    assert "added 12 copies" in done.out and "removed 12; skipped: stale 0; failed 0" in done.out
    assert "nothing to do: all 12 objects comply" in run(*draining, "plan").out


def test_apply_json_lines_name_each_result(draining: tuple[str, ...], run: Run) -> None:
    lines = run(*draining, "--json", "apply", "--yes").lines()
    kinds = [line["type"] for line in lines]
    assert kinds == ["step"] * 24 + ["summary"] + ["result"] * 24 + ["report"]
    assert {line["state"] for line in lines if line["type"] == "result"} == {"done"}
    report = lines[-1]
    assert report["added"] == report["removed"] == 12 and report["skipped"] == 0


def test_set_status_prints_the_plan_summary(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "put", str(deployment), "reports/a").code == 0
    out = run(*cfg, "sites", "set-status", "hetzner-fsn", "draining").out
    assert "active -> draining" in out
    assert "! 1 objects cannot comply" in out and "NOSITES" in out
    assert "  NOSITES  too few compliant, healthy sites" in out
    doc = run(*cfg, "--json", "sites", "set-status", "hetzner-fsn", "suspended").json()
    assert doc["plan"]["blocked"] == 1 and doc["plan"]["cannot_comply"][0]["reason"] == "NOSITES"


def test_apply_is_refused_while_another_holds_the_scope(
    draining: tuple[str, ...], run: Run, deployment: Path
) -> None:
    catalog = open_catalog(f"sqlite:///{deployment.parent / 'catalog.db'}")
    try:
        catalog.acquire_lease("apply", None, Holder("other-host", 4242, "r1"), 600)
        refused = run(*draining, "apply", "--yes", "reports")
        assert refused.code == 9
        assert "run r1 of process 4242 on other-host, since" in refused.err
        assert "what to do: wait for it to finish; if that process is gone" in refused.err
        assert "lease expires at" in refused.err
        catalog.release_lease("apply", None, "r1")
        assert run(*draining, "apply", "--yes", "reports").code == 0
    finally:
        catalog.close()
