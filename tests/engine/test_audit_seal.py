"""Sealing through the library: only a verified head is signed, incrementally on the hot
path; a log found altered refuses every later record; a checkpoint another process signed
for the same head is reused; a lost catalog continues the history signed on the sites."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import domicile
from domicile.audit import Record, load_private_key, sign_checkpoint
from domicile.audit.evidence import checkpoint_file
from domicile.errors import AuditAltered
from tests.engine.conftest import drop_catalog, make_deployment

EVERY = 5


def deployment(tmp_path: Path, extra: str = "") -> Path:
    path = make_deployment(tmp_path)
    text = path.read_text().replace(
        "[deployment]\n", f"[deployment]\ncheckpoint_every = {EVERY}\n{extra}"
    )
    path.write_text(text)
    return path


def site_files(root: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted((root / "sites").rglob("ckpt-*"))}


def relink_from(root: Path, seq: int) -> None:
    """Change record ``seq`` and re-link every later one, as a forger without the key would."""
    with sqlite3.connect(root / "catalog.db") as db:
        rows = db.execute(
            "SELECT seq, body FROM audit_records WHERE seq >= ? ORDER BY seq", (seq,)
        ).fetchall()
        prev = None
        for s, body in rows:
            doc = json.loads(body)
            if s == seq:
                doc["key"] = "innocent"
            else:
                doc["prev"] = prev
            record = Record.from_body(doc)
            db.execute(
                "UPDATE audit_records SET body = ?, hash = ? WHERE seq = ?",
                (record.canonical.decode("utf-8"), record.hash, s),
            )
            prev = record.hash


def test_tampering_found_on_the_hot_path_latches(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    engine = domicile.open(path)
    for i in range(12):
        engine.put("docs", f"k{i}", b"x")
    relink_from(tmp_path, 3)  # behind this process's last signed checkpoint
    files = site_files(tmp_path)
    with pytest.raises(AuditAltered) as caught:
        for i in range(EVERY):
            engine.put("docs", f"late{i}", b"y")
    assert caught.value.context["seq"] >= 3
    records = len(list(engine.audit.records()))
    with pytest.raises(AuditAltered):  # latched: refused before anything is stored
        engine.put("docs", "after", b"z")
    assert len(list(engine.audit.records())) == records
    with pytest.raises(AuditAltered):
        engine.close()
    assert site_files(tmp_path) == files


def test_the_hot_path_reads_only_the_records_since_its_last_checkpoint(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    with domicile.open(path) as engine:
        for i in range(30):
            engine.put("docs", f"k{i}", b"x")
        catalog = engine.context.catalog
        real = catalog.audit_records
        read: list[tuple[int, int]] = []
        start = len(list(engine.audit.records()))

        def counting(since: int = 0, limit: int = 10_000) -> list[tuple[int, str, str]]:
            rows = real(since, limit)
            read.append((since, len(rows)))
            return rows

        catalog.audit_records = counting  # type: ignore[method-assign]
        for i in range(3 * EVERY):
            engine.put("docs", f"more{i}", b"x")
        catalog.audit_records = real  # type: ignore[method-assign]
        total = len(list(engine.audit.records()))
    assert total > 45 and read
    # Three checkpoints; at each, the sealer (EVERY records and the anchor's), the history
    # shipping and the tree each read that checkpoint's EVERY records, never the chain from
    # its start.
    assert all(since >= start - EVERY - 1 for since, _ in read)
    assert sum(n for _, n in read) <= 3 * (3 * EVERY + 1)


def test_a_checkpoint_signed_elsewhere_for_the_same_head_is_reused(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    with domicile.open(path) as engine:
        engine.put("docs", "a", b"1")
        while engine.audit.checkpoints()[-1].seq == len(list(engine.audit.records())):
            engine.put("docs", "b", b"2")
        rows = engine.context.catalog.audit_records(0, 10**6)
        seq, digest = rows[-1][0], rows[-1][1]
        key = load_private_key(tmp_path / "audit-key.pem")  # as another process holds it
        other = sign_checkpoint(key, seq, digest, 42)
        for site_id in ("fr", "de"):
            engine.context.sites[site_id].put_once(checkpoint_file(seq), other.to_bytes())
        files = site_files(tmp_path)
        cp = engine.audit.checkpoint()
        assert cp == other
    assert {p: b for p, b in site_files(tmp_path).items() if p in files} == files


def test_a_lost_catalog_continues_the_signed_history(tmp_path: Path) -> None:
    # Without the history on the sites (with it, rebuild-catalog restores records 1..S:
    # tests/engine/test_audit_history.py).
    path = deployment(tmp_path, "audit_history = false\n")
    with domicile.open(path) as engine:
        for i in range(8):
            engine.put("docs", f"k{i}", b"x" * (i + 1))
    files = site_files(tmp_path)
    signed = max(int(p.name[5:]) for p in files)
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        engine.rebuild_catalog()
        engine.put("docs", "new", b"after the loss")
        first = next(engine.audit.records())
        assert first.seq == signed + 1
        report = engine.audit.verify()
    assert {p: b for p, b in site_files(tmp_path).items() if p in files} == files
    assert max(int(p.name[5:]) for p in site_files(tmp_path)) > signed
    assert [(p.seq, str(p.kind)) for p in report.problems] == [(1, "removed")]
