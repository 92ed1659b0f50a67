"""The Object Lock and lifecycle commands: mb --object-lock, lock, retention, legal-hold,
lifecycle, rm --bypass-governance, sweep enforcing lifecycle rules; JSON and exit codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.conftest import Run


def _date(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_lock_retention_legal_hold_and_refusals(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "mb", "vault", "--policy", "eu-only", "--object-lock").code == 0
    shown = run(*cfg, "--json", "lock", "vault").json()
    assert shown == {"bucket": "vault", "object_lock": True, "mode": None, "days": None,
                     "years": None}  # fmt: skip
    set_ = run(*cfg, "--json", "lock", "vault", "--mode", "governance", "--days", "2").json()
    assert set_["mode"] == "GOVERNANCE" and set_["days"] == 2
    assert "default GOVERNANCE for 2 days" in run(*cfg, "lock", "vault").out
    bad = run(*cfg, "lock", "vault", "--mode", "COMPLIANCE")
    assert bad.code == 2
    plain = run(*cfg, "lock", "reports", "--mode", "COMPLIANCE", "--days", "1")
    assert plain.code == 15 and "created without Object Lock" in plain.err

    src = tmp_path / "doc.txt"
    src.write_text("minutes")
    assert run(*cfg, "put", str(src), "vault/doc").code == 0
    got = run(*cfg, "--json", "retention", "vault/doc").json()
    assert got["mode"] == "GOVERNANCE" and got["legal_hold"] is False and got["copies"] == 2
    removed = run(*cfg, "rm", "vault/doc")  # a versioned bucket: a delete marker, allowed
    assert removed.code == 0
    vid = got["version"]
    locked = run(*cfg, "rm", "vault/doc", "--version-id", vid)
    assert locked.code == 15 and "GOVERNANCE retention" in locked.err
    assert "--bypass-governance" in locked.err
    later = _date(days=30)
    done = run(*cfg, "--json", "retention", "vault/doc", "--version-id", vid,
               "--mode", "COMPLIANCE", "--until", later).json()  # fmt: skip
    assert done["mode"] == "COMPLIANCE" and done["retain_until"] == later
    shorter = run(*cfg, "retention", "vault/doc", "--version-id", vid, "--mode", "COMPLIANCE",
                  "--until", _date(days=1), "--bypass-governance")  # fmt: skip
    assert shorter.code == 15 and "never shortened" in shorter.err
    past = run(*cfg, "retention", "vault/doc", "--version-id", vid, "--mode", "COMPLIANCE",
               "--until", "2001-01-01")  # fmt: skip
    assert past.code == 8
    hold = run(*cfg, "--json", "legal-hold", "vault/doc", "on", "--version-id", vid).json()
    assert hold["legal_hold"] is True
    assert "legal hold" in run(*cfg, "legal-hold", "vault/doc", "--version-id", vid).out
    still = run(*cfg, "rm", "vault/doc", "--version-id", vid, "--bypass-governance")
    assert still.code == 15 and "legal hold" in still.err
    tail = run(*cfg, "--json", "audit", "tail", "-n", "50").json()
    refused = [r["action"] for r in tail if r["result"] == "refused"]
    assert refused == ["version_delete", "retention", "version_delete"]
    assert run(*cfg, "rb", "vault").code == 9  # not empty


def test_lifecycle_command_and_sweep(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    assert "no lifecycle rules" in run(*cfg, "lifecycle", "reports").out
    rules = run(*cfg, "--json", "lifecycle", "reports", "--prefix", "logs/",
                "--noncurrent-days", "30", "--abort-uploads-days", "7").json()  # fmt: skip
    assert rules["rules"][0]["noncurrent_days"] == 30
    assert "abort uploads after 7 d" in run(*cfg, "lifecycle", "reports").out
    swept = run(*cfg, "--json", "sweep").json()
    assert swept["lifecycle"]["kept_locked"] == []
    assert run(*cfg, "--json", "lifecycle", "reports", "--clear").json()["rules"] == []


def test_put_with_a_lock(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    src = tmp_path / "f.txt"
    src.write_text("held")
    assert run(*cfg, "mb", "vault", "--policy", "eu-only", "--object-lock").code == 0
    until = _date(days=3)
    done = run(*cfg, "put", str(src), "vault/f", "--lock-mode", "compliance", "--until", until,
               "--legal-hold")  # fmt: skip
    assert done.code == 0, done.err
    got = run(*cfg, "--json", "retention", "vault/f").json()
    assert (got["mode"], got["retain_until"], got["legal_hold"]) == ("COMPLIANCE", until, True)
    assert run(*cfg, "put", str(src), "vault/g", "--lock-mode", "GOVERNANCE").code == 2
    assert run(*cfg, "put", str(src), "vault/g", "--lock-mode", "GOVERNANCE",
               "--until", "2001-01-01").code == 8  # fmt: skip
    assert run(*cfg, "put", str(src), "reports/g", "--legal-hold").code == 15
