"""The audit log through the engine: events recorded, checkpoints on the sites, tampering
with the catalog detected and located, truncation caught against the sites."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import domicile
from domicile.audit import export_lines, parse_lines, verify_chain
from domicile.errors import AuditAltered
from tests.engine.conftest import make_deployment

FEW = "checkpoint_every = 3\n"


def deployment(tmp_path: Path) -> Path:
    path = make_deployment(tmp_path)
    path.write_text(path.read_text().replace("[deployment]\n", "[deployment]\n" + FEW, 1))
    return path


def populate(path: Path) -> None:
    with domicile.open(path) as engine:
        for i in range(5):
            engine.put("docs", f"k{i}", b"x" * (i + 1))
        engine.delete("docs", "k0")


def test_events_are_recorded_and_verify(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    with domicile.open(path) as engine:
        records = list(engine.audit.records())
        actions = [r.action for r in records]
        assert actions[0] == "audit_key_created"
        assert actions.count("put") == 5 and actions[-1] == "delete"
        put = next(r for r in records if r.action == "put")
        assert put.bucket == "docs" and put.policy == "eu-only" and len(put.sites) == 2
        assert put.actor.startswith("cli:")
        report = engine.audit.verify()
        assert report.ok and report.records == len(records)
        assert report.latest_checkpoint is not None
    checkpoints = list((tmp_path / "sites" / "fr").rglob("ckpt-*"))
    assert checkpoints and not list((tmp_path / "sites" / "us").rglob("*ckpt-*"))


def _tamper(tmp_path: Path, sql: str) -> None:
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        db.execute(sql)


def test_a_changed_record_is_located(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        (body,) = db.execute("SELECT body FROM audit_records WHERE seq = 3").fetchone()
        doc = json.loads(body)
        doc["key"] = "innocent"
        db.execute("UPDATE audit_records SET body = ? WHERE seq = 3", (json.dumps(doc),))
    with domicile.open(path) as engine:  # the head is signed already: nothing to seal
        report = engine.audit.verify()
    assert not report.ok and report.first_problem is not None
    assert report.first_problem.seq == 3 and report.first_problem.kind == "changed"


def test_a_removed_record_is_located(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    _tamper(tmp_path, "DELETE FROM audit_records WHERE seq = 2")
    with domicile.open(path) as engine:
        problem = engine.audit.verify().first_problem
    assert problem is not None and problem.seq == 2 and problem.kind == "removed"


def test_truncation_is_caught_against_the_sites(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    # Rewrite history in the catalog: drop the tail and its checkpoints.
    _tamper(tmp_path, "DELETE FROM audit_records WHERE seq > 2")
    _tamper(tmp_path, "DELETE FROM audit_checkpoints WHERE seq > 2")
    # Opening appends records (bucket, policy events): refused before any is added.
    with pytest.raises(AuditAltered, match="truncated"):
        domicile.open(path)


def test_offline_verification_from_an_export(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    with domicile.open(path) as engine:
        lines = list(export_lines(engine.audit.records(), engine.audit.checkpoints()))
        public = engine.audit.public_key
    records, checkpoints = parse_lines(lines)
    assert verify_chain(records, checkpoints, public).ok
    tampered = [line.replace('"k3"', '"k9"') for line in lines]
    assert not verify_chain(*parse_lines(tampered), public).ok


def test_reads_are_recorded_when_the_policy_asks(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    with domicile.open(path) as engine:
        engine.put("docs", "k", b"quiet")
        engine.get("docs", "k").read()
        assert "get" not in [r.action for r in engine.audit.records()]
    path.write_text(path.read_text().replace("copies = 2\n", "copies = 2\naudit_reads = true\n", 1))
    with domicile.open(path) as engine:
        engine.get("docs", "k", 1, 3).read()
        last = list(engine.audit.records())[-1]
        assert (last.action, last.key, dict(last.detail)) == ("get", "k", {"start": 1, "end": 3})
