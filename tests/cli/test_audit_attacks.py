"""The attacks of issue 15 on the audit log, by someone who can write to the catalog (and
to one site) but does not hold the audit key, through the real CLI: each ends in exit 12
naming what changed, nothing is ever signed, and no checkpoint file on a site changes."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

import domicile
from domicile.audit import Record, load_private_key, sign_checkpoint
from domicile.sites import LocalSite
from tests.cli.conftest import Result, Run
from tests.engine.conftest import make_deployment

EVERY = 5


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    path = make_deployment(tmp_path)
    text = path.read_text().replace("[deployment]\n", f"[deployment]\ncheckpoint_every = {EVERY}\n")
    path.write_text(text)
    return path


def populate(path: Path, count: int, tag: str = "k") -> None:
    with domicile.open(path) as engine:
        for i in range(count):
            engine.put("docs", f"{tag}{i}", f"body {i}".encode())


def site_files(root: Path) -> dict[Path, bytes]:
    """Every checkpoint file on every site, with its bytes."""
    return {p: p.read_bytes() for p in sorted((root / "sites").rglob("ckpt-*"))}


def catalog_checkpoints(root: Path) -> list[int]:
    with sqlite3.connect(root / "catalog.db") as db:
        return [s for (s,) in db.execute("SELECT seq FROM audit_checkpoints ORDER BY seq")]


def head_of(root: Path) -> tuple[int, str]:
    with sqlite3.connect(root / "catalog.db") as db:
        seq, digest = db.execute("SELECT seq, hash FROM audit_records ORDER BY seq DESC").fetchone()
    return int(seq), str(digest)


def rewrite_and_relink(root: Path, seq: int, key: str) -> None:
    """Change record ``seq``'s key and re-link every later record (new prev, new hash)."""
    with sqlite3.connect(root / "catalog.db") as db:
        rows = db.execute(
            "SELECT seq, body FROM audit_records WHERE seq >= ? ORDER BY seq", (seq,)
        ).fetchall()
        prev = None
        for s, body in rows:
            doc = json.loads(body)
            if s == seq:
                doc["key"] = key
            else:
                doc["prev"] = prev
            record = Record.from_body(doc)
            db.execute(
                "UPDATE audit_records SET body = ?, hash = ? WHERE seq = ?",
                (record.canonical.decode("utf-8"), record.hash, s),
            )
            prev = record.hash


def sql(root: Path, statement: str) -> None:
    with sqlite3.connect(root / "catalog.db") as db:
        db.execute(statement)


def test_rewrite_relink_and_delete_checkpoints(deployment: Path, run: Run) -> None:
    root = deployment.parent
    populate(deployment, 20)
    files = site_files(root)
    assert len(files) >= 8  # two EU sites, a checkpoint every 5 records
    rewrite_and_relink(root, 12, "innocent")
    sql(root, "DELETE FROM audit_checkpoints")
    cfg = ("--config", str(deployment))
    first = run(*cfg, "audit", "verify")
    assert first.code == 12
    seqs = sorted({int(p.name[5:]) for p in files})
    after, before = min(s for s in seqs if s >= 12), max(s for s in seqs if s < 12)
    # Located between the last checkpoint that matches and the first that does not.
    assert f"seq {after}: checkpoint-mismatch" in first.out and f"(seq {before})" in first.out
    assert "nothing was signed" in first.err
    assert site_files(root) == files and catalog_checkpoints(root) == []
    second = run(*cfg, "audit", "verify")
    assert second.code == 12 and "intact" not in second.out
    for result in (run(*cfg, "ls", "docs"), run_put(run, cfg, "late")):
        assert result.code == 12
        assert f"seq {after}" in result.err and "nothing was signed" in result.err
    assert site_files(root) == files and catalog_checkpoints(root) == []


def run_put(run: Run, cfg: tuple[str, ...], key: str) -> Result:
    return run(*cfg, "put", str(Path(__file__)), "docs/" + key)


def test_truncate_and_refill(deployment: Path, run: Run) -> None:
    root = deployment.parent
    populate(deployment, 20)
    files = site_files(root)
    last, _ = head_of(root)
    sql(root, f"DELETE FROM audit_records WHERE seq > {last - 5}")
    sql(root, f"DELETE FROM audit_checkpoints WHERE seq > {last - 5}")
    cfg = ("--config", str(deployment))
    for i in range(5):
        result = run_put(run, cfg, f"refill{i}")
        assert result.code == 12
        assert f"seq {last - 4}: truncated" in result.err and "nothing was signed" in result.err
    verdict = run(*cfg, "audit", "verify")
    assert verdict.code == 12 and "truncated" in verdict.out
    assert site_files(root) == files


def test_checkpoint_deleted_from_one_site_only(deployment: Path, run: Run) -> None:
    root = deployment.parent
    populate(deployment, 20)
    cfg = ("--config", str(deployment))
    lone = sorted((root / "sites" / "fr").rglob("ckpt-*"))[-1]
    lone.unlink()
    clean = run(*cfg, "audit", "verify")
    assert clean.code == 0 and "site fr lacks 1 checkpoint" in clean.out
    files = site_files(root)
    rewrite_and_relink(root, 12, "innocent")
    sql(root, "DELETE FROM audit_checkpoints")
    verdict = run(*cfg, "audit", "verify")
    assert verdict.code == 12 and "checkpoint-mismatch" in verdict.out
    listing = run(*cfg, "ls", "docs")
    assert listing.code == 12 and "checkpoint-mismatch" in listing.err
    assert site_files(root) == files


def test_catalog_restored_from_an_old_backup(deployment: Path, run: Run) -> None:
    root = deployment.parent
    populate(deployment, 8)
    with sqlite3.connect(root / "catalog.db") as live, sqlite3.connect(root / "old.db") as old:
        live.backup(old)
    populate(deployment, 12, tag="later")
    files = site_files(root)
    for stale in root.glob("catalog.db*"):
        stale.unlink()
    shutil.copy(root / "old.db", root / "catalog.db")
    cfg = ("--config", str(deployment))
    put = run_put(run, cfg, "after-restore")
    assert put.code == 12 and "truncated" in put.err
    verdict = run(*cfg, "audit", "verify")
    assert verdict.code == 12 and "truncated" in verdict.out
    assert site_files(root) == files


def test_two_sites_disagreeing_for_one_seq(deployment: Path, run: Run) -> None:
    root = deployment.parent
    populate(deployment, 20)
    # What an older domicile did: sign a forged head and overwrite one site's checkpoint.
    key = load_private_key(root / "audit-key.pem")
    victim = sorted((root / "sites" / "de").rglob("ckpt-*"))[1]
    seq = int(victim.name[5:])
    forged = sign_checkpoint(key, seq, "ab" * 32, 1)
    victim.write_bytes(forged.to_bytes())
    files = site_files(root)
    cfg = ("--config", str(deployment))
    verdict = run(*cfg, "audit", "verify")
    assert verdict.code == 12 and f"seq {seq}: forked" in verdict.out
    # Sealing reads only each site's newest checkpoint (cheap): a fork in the past is
    # audit verify's to find; a put still extends the verified chain and changes no file.
    assert run_put(run, cfg, "more").code == 0
    assert {p: b for p, b in site_files(root).items() if p in files} == files
    assert run(*cfg, "audit", "verify").code == 12


def test_planted_checkpoint_is_refused(deployment: Path, run: Run) -> None:
    root = deployment.parent
    populate(deployment, 6)
    LocalSite("fr", root / "sites" / "fr").put("ckpt-00000000000000000099", [b"{}"])
    cfg = ("--config", str(deployment))
    verdict = run(*cfg, "audit", "verify")
    assert verdict.code == 12 and "is not a checkpoint" in verdict.out
    refused = run_put(run, cfg, "after-plant")
    assert refused.code == 12 and "is not a checkpoint" in refused.err


def test_truncated_export_against_expected_head(deployment: Path, run: Run) -> None:
    root = deployment.parent
    populate(deployment, 20)
    cfg = ("--config", str(deployment))
    export = root / "audit.jsonl"
    assert run(*cfg, "audit", "export", "-o", str(export)).code == 0
    pub = root / "audit.pub"
    pub.write_text(run(*cfg, "audit", "public-key").out)
    seq, digest = head_of(root)
    lines = export.read_text().splitlines()
    kept = [ln for ln in lines if not _beyond(ln, seq - 3)]
    short = root / "short.jsonl"
    short.write_text("\n".join(kept) + "\n")
    offline = ("audit", "verify", "--public-key", str(pub), "--export")
    assert run(*offline, str(short)).code == 0  # the weakness --expect-head closes
    expect = ("--expect-head", f"{seq}:{digest}")
    assert run(*offline, str(export), *expect).code == 0
    cut = run(*offline, str(short), *expect)
    assert cut.code == 12 and f"seq {seq - 2}: truncated" in cut.out
    wrong = run(*offline, str(export), "--expect-head", f"{seq}:{'0' * 64}")
    assert wrong.code == 12 and "head-mismatch" in wrong.out
    newest = sorted((root / "sites" / "fr").rglob("ckpt-*"))[-1]
    shorter = root / "shorter.jsonl"
    shorter.write_text("\n".join(ln for ln in lines if not _beyond(ln, int(newest.name[5:]) - 1)))
    with_file = run(*offline, str(shorter), "--expect-checkpoint", str(newest))
    assert with_file.code == 12 and "truncated" in with_file.out
    assert run(*offline, str(export), "--expect-checkpoint", str(newest)).code == 0
    assert run(*cfg, "audit", "verify", *expect).code == 0


def _beyond(line: str, last: int) -> bool:
    doc = json.loads(line)
    return doc.get("type") in {"record", "checkpoint"} and doc["seq"] > last
