"""Audit history on the sites: shipped encrypted with each checkpoint, readable with the
stock age tool, restored by rebuild-catalog to the same verified history, and a forged
segment refused."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import domicile
from domicile.audit import export_lines, parse_lines, verify_chain
from domicile.cli.main import cli
from domicile.crypto import Keyring, decrypt_bytes, encrypt_bytes
from domicile.engine.audithistory import SEGMENT_PREFIX, segment_range, ship
from domicile.errors import AuditAltered
from domicile.sites import FaultySite
from tests.engine.conftest import drop_catalog, make_deployment

FEW = "checkpoint_every = 4\n"


def deployment(tmp_path: Path, extra: str = FEW) -> Path:
    path = make_deployment(tmp_path)
    path.write_text(path.read_text().replace("[deployment]\n", "[deployment]\n" + extra, 1))
    return path


def populate(path: Path, n: int = 9) -> None:
    with domicile.open(path) as engine:
        for i in range(n):
            engine.put("docs", f"k{i}", f"body {i}".encode())
        engine.delete("docs", "k0")


def segments(root: Path, site: str) -> list[Path]:
    return sorted((root / "sites" / site).rglob(f"{SEGMENT_PREFIX}*"), key=lambda p: p.name)


def history(path: Path) -> tuple[list[str], list[int], bool]:
    with domicile.open(path) as engine:
        lines = list(export_lines(engine.audit.records(), []))
        report = engine.audit.verify()
        return lines, [c.seq for c in engine.audit.checkpoints()], report.ok


def test_segments_cover_the_signed_history_on_every_evidence_site(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    with domicile.open(path) as engine:
        head = engine.audit.checkpoints()[-1]
        count = len(list(engine.audit.records()))
    assert head.seq == count  # closing sealed the head
    for site in ("fr", "de"):
        spans = [segment_range(p.name) for p in segments(tmp_path, site)]
        assert spans and spans[0] is not None and spans[0][0] == 1
        covered = [seq for s in spans if s for seq in range(s[0], s[1] + 1)]
        assert covered == list(range(1, head.seq + 1))  # contiguous, no overlap, to the head
    assert not segments(tmp_path, "us")  # a site no policy allows gets nothing of ours
    for blob in segments(tmp_path, "fr"):  # ciphertext: no bucket or key name in clear
        assert b"docs" not in blob.read_bytes() and blob.read_bytes().startswith(b"age-encryp")


@pytest.mark.age_cli
def test_a_segment_is_an_export_the_stock_age_tool_decrypts(tmp_path: Path) -> None:
    if shutil.which("age") is None:
        pytest.fail("the stock age tool is needed (.ci/run installs it)")
    path = deployment(tmp_path)
    populate(path)
    lines: list[str] = []
    for blob in segments(tmp_path, "de"):
        out = subprocess.run(
            ["age", "-d", "-i", str(tmp_path / "keyring.txt"), str(blob)],
            check=True, capture_output=True,
        )  # fmt: skip
        lines += out.stdout.decode().splitlines()
    records, checkpoints = parse_lines(lines)
    with domicile.open(path) as engine:
        public = engine.audit.public_key
        assert [r.hash for r in records] == [r.hash for r in engine.audit.records()]
    report = verify_chain(records, checkpoints, public)
    assert report.ok and report.unsigned == 0 and checkpoints


def test_rebuild_restores_the_same_verified_history(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    before, cps_before, ok = history(path)
    assert ok
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
        restored = len(before) - 1  # the export's header line is not a record
        assert report.audit_records == restored and not report.problems
        assert report.versions == 8
    after, cps_after, ok = history(path)
    assert ok  # audit verify passes after the loss
    assert after[: len(before)] == before  # the same records, byte for byte, then the reopen's
    assert set(cps_before) <= set(cps_after)


def test_a_lost_catalog_without_history_cannot_verify(tmp_path: Path) -> None:
    path = deployment(tmp_path, FEW + "audit_history = false\n")
    populate(path)
    assert not segments(tmp_path, "fr")
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        assert engine.rebuild_catalog().audit_records == 0
        assert not engine.audit.verify().ok  # records 1..S are gone: reported as removed


def test_a_forged_segment_is_refused_and_nothing_is_restored(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    # Someone without the keys can still encrypt to the public recipient: rewrite a record
    # of the first segment on both sites (keeping the format) and plant it back.
    keyring = Keyring.load(tmp_path / "keyring.txt")
    for site in ("fr", "de"):
        for blob in segments(tmp_path, site):
            text = decrypt_bytes(blob.read_bytes(), keyring.identities).decode()
            forged = text.replace('"key":"k1"', '"key":"k-innocent"')
            if forged != text:
                blob.chmod(0o644)
                blob.write_bytes(encrypt_bytes(forged.encode(), keyring.recipients))
                break
        else:
            pytest.fail(f"no segment on {site} holds the put of k1")
    drop_catalog(tmp_path)
    engine = domicile.open(path)
    try:
        with pytest.raises(AuditAltered, match="breaks at record"):
            engine.rebuild_catalog()
        # Nothing of the forged history was inserted: only the reopen's own records, which
        # continue the signed head, are in the catalog.
        assert all(r.action != "put" for r in engine.audit.records())
    finally:
        with contextlib.suppress(AuditAltered):  # closing may find the reopen's records alone
            engine.close()


def covered(root: Path, site: str) -> list[int]:
    spans = sorted(s for p in segments(root, site) if (s := segment_range(p.name)))
    return [seq for a, b in spans for seq in range(a, b + 1)]


def test_a_site_that_missed_segments_gets_the_gap_with_the_next_checkpoint(
    tmp_path: Path,
) -> None:
    path = deployment(tmp_path)
    populate(path, n=3)
    for blob in segments(tmp_path, "de"):  # a site that was away (or added later)
        blob.unlink()
    with domicile.open(path) as engine:
        for i in range(4):
            engine.put("docs", f"more{i}", b"x")
        head = engine.audit.checkpoints()[-1].seq
    assert covered(tmp_path, "de") == list(range(1, head + 1))
    assert covered(tmp_path, "fr") == covered(tmp_path, "de")


def test_shipping_skips_a_failing_site_and_catches_up(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path, n=2)
    with domicile.open(path) as engine:
        catalog, keyring = engine.context.catalog, engine.context.keyring
        flaky = FaultySite(engine.context.sites["de"])
        for blob in segments(tmp_path, "de"):
            blob.unlink()
        cp = engine.audit.checkpoints()[-1]
        flaky.fail_next("put_once", 1)
        report = ship(catalog, {"de": flaky}, keyring.recipients, cp)
        assert report.skipped_sites == ["de"] and covered(tmp_path, "de") == []
        report = ship(catalog, {"de": flaky}, keyring.recipients, cp)
        assert report.skipped_sites == [] and covered(tmp_path, "de") == list(range(1, cp.seq + 1))
        assert ship(catalog, {"de": flaky}, keyring.recipients, cp).segments == 0  # idempotent


def test_a_catalog_edited_after_sealing_is_not_shipped(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path, n=2)
    with domicile.open(path) as engine:
        catalog, keyring = engine.context.catalog, engine.context.keyring
        cp = engine.audit.checkpoints()[-1]
        for blob in segments(tmp_path, "de"):
            blob.unlink()
        with sqlite3.connect(tmp_path / "catalog.db") as db:
            (body,) = db.execute("SELECT body FROM audit_records WHERE seq = 2").fetchone()
            db.execute(
                "UPDATE audit_records SET body = ? WHERE seq = 2",
                (body.replace('"cli:', '"cli:x'),),
            )
        with pytest.raises(AuditAltered):
            ship(catalog, {"de": engine.context.sites["de"]}, keyring.recipients, cp)
        assert covered(tmp_path, "de") == []


def test_sweep_keeps_the_history(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    kept = segments(tmp_path, "fr")
    with domicile.open(path) as engine:
        engine.sweep(grace=0)
    assert segments(tmp_path, "fr") == kept


def test_an_auditor_exports_the_history_from_a_copy_of_one_site(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    populate(path)
    with domicile.open(path) as engine:
        records = [r.hash for r in engine.audit.records()]
    copy = tmp_path / "handed-over"
    shutil.copytree(tmp_path / "sites" / "de", copy)  # what the auditor receives
    runner = CliRunner()
    out = tmp_path / "audit.jsonl"
    done = runner.invoke(
        cli,
        ["audit", "export", "--from-site", str(copy), "--keyring", str(tmp_path / "keyring.txt"),
         "-o", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    got, checkpoints = parse_lines(out.read_text().splitlines())
    assert [r.hash for r in got] == records and checkpoints
    with domicile.open(path) as engine:
        assert verify_chain(got, checkpoints, engine.audit.public_key).ok
    empty = tmp_path / "empty"
    empty.mkdir()
    refused = runner.invoke(
        cli,
        ["audit", "export", "--from-site", str(empty), "--keyring", str(tmp_path / "keyring.txt")],
    )
    assert refused.exit_code != 0
