"""``policy explain`` tells a script when it is REFUSED and takes the sites' health into
account; ``rm`` says where copies it could not delete yet are queued."""

from __future__ import annotations

from pathlib import Path

from domicile.cli.exitcodes import RESIDENCY_REFUSED
from tests.cli.conftest import Run


def flat(text: str) -> str:
    return " ".join(text.split())


def add_frankfurt(cfg: tuple[str, str], run: Run) -> None:
    added = run(
        *cfg, "sites", "add", "aws-fra", "--template", "aws:eu-central-1",
        "--backend", "local:sites/aws-fra",
    )  # fmt: skip
    assert added.code == 0, added.err


def test_explain_exits_5_when_refused(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "sites", "set-status", "hetzner-fsn", "suspended").code == 0
    refused = run(*cfg, "policy", "explain", "reports")
    assert refused.code == RESIDENCY_REFUSED == 5
    assert "REFUSED: 1 copy short (only ovh-gra possible)" in refused.out
    assert "site is suspended" in refused.out
    data = run(*cfg, "--json", "policy", "explain", "reports")
    assert data.code == 5 and data.json()["ok"] is False


def test_a_down_site_is_passed_over_and_says_why(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    add_frankfurt(cfg, run)
    folder = deployment.parent / "sites" / "hetzner-fsn"
    folder.rename(folder.with_name("hetzner-fsn.unmounted"))
    explain = run(*cfg, "policy", "explain", "reports")
    assert explain.code == 0, explain.err
    assert "-> placed on " in explain.out
    chosen = explain.out.split("-> placed on ")[1].splitlines()[0]
    assert "hetzner-fsn" not in chosen and set(chosen.split(", ")) == {"ovh-gra", "aws-fra"}
    said = flat(explain.out)
    assert "refused hetzner-fsn" in said
    assert (
        "site is unhealthy (observed failing): SiteUnavailable: site hetzner-fsn: "
        f"the site folder {folder} is missing"
    ) in said
    site = next(s for s in run(*cfg, "--json", "policy", "explain", "reports").json()["sites"]
                if s["site"] == "hetzner-fsn")  # fmt: skip
    assert site["chosen"] is False and "is missing" in site["failure"]
    assert [r["code"] for r in site["reasons"]] == ["unhealthy"]
    # A draining site is not chosen either, and says so.
    assert run(*cfg, "sites", "set-status", "aws-fra", "draining").code == 0
    drained = run(*cfg, "policy", "explain", "reports")
    assert drained.code == 5
    assert "site is draining" in drained.out and "REFUSED" in drained.out


def test_rm_says_where_copies_wait_for_deletion(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "put", str(deployment), "reports/a").code == 0
    assert run(*cfg, "rm", "reports/a").out.strip() == "removed reports/a"
    assert run(*cfg, "put", str(deployment), "reports/b").code == 0
    assert run(*cfg, "put", str(deployment), "reports/c").code == 0
    folder = deployment.parent / "sites" / "hetzner-fsn"
    blobs = [  # the bucket identity's bkey- copy is no object's blob
        p
        for p in folder.glob("*/*")
        if p.name[0] in "bm" and not p.name.startswith("bkey-") and p.is_file()
    ]
    assert blobs  # the object's manifest (and segments) on that site
    away = folder.with_name("hetzner-fsn.unmounted")
    folder.rename(away)
    removed = run(*cfg, "rm", "reports/b")
    assert removed.code == 0, removed.err
    said = flat(removed.out)
    assert said.startswith("removed reports/b from the catalog; its copies on hetzner-fsn (")
    assert f"the site folder {folder} is missing" in said
    assert "queued for deletion: 'domicile sweep'" in said
    assert "ovh-gra" not in said
    data = run(*cfg, "--json", "rm", "reports/c").json()
    assert data["removed"] is True and list(data["queued"]) == ["hetzner-fsn"]
    assert "is missing" in data["why"]["hetzner-fsn"]
    gone = run(*cfg, "--json", "rm", "reports/c").json()
    assert gone == {
        "bucket": "reports",
        "key": "c",
        "removed": False,
        "version_id": None,
        "delete_marker": False,
        "queued": {},
        "why": {},
    }
    away.rename(folder)
    assert all(p.exists() for p in blobs)
    assert run(*cfg, "sweep", "--grace", "0").code == 0
    assert all(not p.exists() for p in blobs)
