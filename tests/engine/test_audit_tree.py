"""The audit log as a transparency log: tree checkpoints beside the chain's, checked
against the records, cosigned by a real witness over HTTP that refuses a fork, and proofs
an auditor verifies offline with the CLI."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import domicile
from domicile.audit.merkle import CompactRange, leaf_hash
from domicile.audit.note import NoteSigner, parse_note
from domicile.audit.tlog import cosignatures, parse_tree_head
from domicile.cli.main import cli
from domicile.engine.tlog import TREE_PREFIX
from domicile.errors import AuditAltered
from domicile.witness import WitnessFolder
from domicile.witness.http import WitnessServer
from tests.engine.conftest import drop_catalog, make_deployment

FEW = "checkpoint_every = 4\n"


def deployment(tmp_path: Path, audit: str = "") -> Path:
    path = make_deployment(tmp_path)
    text = path.read_text().replace("[deployment]\n", "[deployment]\n" + FEW, 1)
    path.write_text(text + audit)
    return path


def put_some(path: Path, prefix: str, n: int) -> None:
    with domicile.open(path) as engine:
        for i in range(n):
            engine.put("docs", f"{prefix}{i}", f"{prefix} {i}".encode())


def tree_files(root: Path, site: str) -> list[Path]:
    return sorted((root / "sites" / site).rglob(f"{TREE_PREFIX}*"), key=lambda p: p.name)


def test_tree_checkpoints_commit_to_the_records_and_go_to_the_sites(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    put_some(path, "k", 9)
    with domicile.open(path) as engine:
        tree = engine.audit.tree
        assert tree is not None
        signed = tree.checkpoints()
        chain = [c.seq for c in engine.audit.checkpoints()]
        leaves = [leaf_hash(r.canonical) for r in engine.audit.records()]
        assert engine.audit.verify().ok
    assert [c.size for c in signed] == chain  # one tree checkpoint per chain checkpoint
    for c in signed:
        assert c.head.root == CompactRange.of(leaves[: c.size]).root()
        assert c.head.origin.startswith("domicile/test/")
    on_site = tree_files(tmp_path, "fr")
    assert [int(p.name.removeprefix(TREE_PREFIX)) for p in on_site] == chain
    assert not tree_files(tmp_path, "us")
    head = parse_tree_head(parse_note(on_site[-1].read_text()).text)
    assert head.size == chain[-1] and head.root == signed[-1].head.root


def test_a_rewritten_record_or_a_planted_tree_file_is_reported(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    put_some(path, "k", 9)
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        seq, body = db.execute(
            'SELECT seq, body FROM audit_records WHERE body LIKE \'%"action":"put"%\' '
            "ORDER BY seq LIMIT 1 OFFSET 2"
        ).fetchone()
        changed = body.replace('"key":"k', '"key":"x')
        assert changed != body
        db.execute("UPDATE audit_records SET body = ? WHERE seq = ?", (changed, seq))
    forger = NoteSigner("domicile/test/forged", Ed25519PrivateKey.generate())
    body = "domicile/test/x\n1\n" + "A" * 43 + "=\n"
    with domicile.open(path) as engine:  # the head is signed already: nothing to seal
        engine.context.sites["de"].put(
            "tlog-99999999999999999999", [(body + "\n" + forger.sign(body).line()).encode()]
        )
        report = engine.audit.verify()
    kinds = {(p.kind, p.seq) for p in report.problems}
    tree_sizes = [int(p.name.removeprefix(TREE_PREFIX)) for p in tree_files(tmp_path, "fr")]
    assert any(k == "checkpoint-mismatch" and s in tree_sizes and s >= seq for k, s in kinds)
    assert any("tlog-99999999999999999999" in p.message for p in report.problems)


@pytest.fixture
def witness(tmp_path: Path) -> Iterator[WitnessServer]:
    folder = WitnessFolder.init(tmp_path / "witness", "witness.test/ch-1")
    server = WitnessServer(folder, "127.0.0.1", 0)
    server.start()
    yield server
    server.shutdown()
    server.server_close()


def witnessed(tmp_path: Path, witness: WitnessServer, name: str = "a") -> Path:
    """A deployment under tmp_path/name whose log the witness follows."""
    root = tmp_path / name
    root.mkdir()
    audit = (
        f'\n[audit]\norigin = "domicile.test/eu"\n'
        f'witnesses = [{{ url = "{witness.url}", key = "{witness.folder.cosigner.vkey()}" }}]\n'
    )
    path = deployment(root, audit)
    with domicile.open(path) as engine:
        assert engine.audit.tree is not None
        witness.folder.follow("domicile.test/eu", engine.audit.tree.signer.vkey())
    witness.folder = WitnessFolder(witness.folder.root)
    return path


def test_a_witness_cosigns_growth_and_refuses_a_forked_catalog(
    tmp_path: Path, witness: WitnessServer
) -> None:
    path = witnessed(tmp_path, witness)
    put_some(path, "k", 6)
    with domicile.open(path) as engine:
        tree = engine.audit.tree
        assert tree is not None
        newest = tree.checkpoints()[-1]
        found = cosignatures(newest.note, [w.verifier for w in tree.witnesses])
        assert [c.witness for c in found] == ["witness.test/ch-1"]
        report = engine.audit.verify()
        assert report.ok and not [n for n in report.notices if "witness" in n]
    seen = witness.folder.seen("domicile.test/eu")
    assert seen is not None and seen.size == newest.size

    # Copy the deployment (catalog, sites, keys): two catalogs under one audit key.
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    fork = tmp_path / "b" / "domicile.toml"
    put_some(path, "more", 5)  # the original grows, the witness follows it
    # The copy diverges: its first checkpoint is refused, because the witness has cosigned
    # a tree this catalog never signed (the original's).
    with pytest.raises(AuditAltered, match=r"witness .* cosigned a tree of size"):
        put_some(fork, "other", 5)
    with domicile.open(path) as engine:  # the original is untouched and still verifies
        assert engine.audit.verify().ok


def test_a_down_witness_leaves_checkpoints_unwitnessed_not_writes_refused(
    tmp_path: Path, witness: WitnessServer
) -> None:
    path = witnessed(tmp_path, witness)
    witness.shutdown()
    witness.server_close()
    put_some(path, "k", 5)
    with domicile.open(path) as engine:
        report = engine.audit.verify()
    assert report.ok
    assert any("not witnessed" in n for n in report.notices)


def test_offline_proofs_with_the_cli(tmp_path: Path, witness: WitnessServer) -> None:
    path = witnessed(tmp_path, witness)
    put_some(path, "k", 6)
    with domicile.open(path) as engine:
        engine.delete("docs", "k2")
    runner = CliRunner()
    base = ["--config", str(path)]
    log_key = runner.invoke(cli, [*base, "audit", "log-key"]).output.strip()
    wkey = witness.folder.cosigner.vkey()
    out = tmp_path / "k2.json"
    made = runner.invoke(cli, [*base, "audit", "prove", "docs/k2", "-o", str(out)])
    assert made.exit_code == 0, made.output
    ok = runner.invoke(
        cli, ["--json", "audit", "check-proof", str(out), "--log-key", log_key, "--witness", wkey]
    )
    assert ok.exit_code == 0, ok.output
    proved = json.loads(ok.output)
    assert [r["action"] for r in proved["records"]] == ["put", "delete"]
    assert proved["witnesses"] == ["witness.test/ch-1"]
    # A record changed in the bundle: exit 12.
    bundle = json.loads(out.read_text())
    bundle["entries"][0]["record"]["key"] = "k3"
    out.write_text(json.dumps(bundle))
    bad = runner.invoke(cli, ["audit", "check-proof", str(out), "--log-key", log_key])
    assert isinstance(bad.exception, AuditAltered) or bad.exit_code == 12
    # Consistency between the first and the newest tree checkpoints.
    tree = json.loads(runner.invoke(cli, [*base, "--json", "audit", "tree"]).output)
    sizes = [c["size"] for c in tree["checkpoints"]]
    cons = tmp_path / "cons.json"
    made = runner.invoke(
        cli, [*base, "audit", "consistency", str(sizes[0]), str(sizes[-1]), "-o", str(cons)]
    )
    assert made.exit_code == 0, made.output
    ok = runner.invoke(cli, ["audit", "check-proof", str(cons), "--log-key", log_key])
    assert ok.exit_code == 0 and "extends" in ok.output


def test_an_export_carries_the_tree_and_its_cosignatures_offline(
    tmp_path: Path, witness: WitnessServer
) -> None:
    path = witnessed(tmp_path, witness)
    put_some(path, "k", 6)
    runner = CliRunner()
    base = ["--config", str(path)]
    export = tmp_path / "audit.jsonl"
    assert runner.invoke(cli, [*base, "audit", "export", "-o", str(export)]).exit_code == 0
    public = tmp_path / "audit.pub"
    public.write_text(runner.invoke(cli, [*base, "audit", "public-key"]).output)
    assert '"type":"tree"' in export.read_text()
    wkey = witness.folder.cosigner.vkey()
    offline = ["audit", "verify", "--export", str(export), "--public-key", str(public)]
    ok = runner.invoke(cli, [*offline, "--witness", wkey])
    assert ok.exit_code == 0, ok.output
    # A witness the deployment never asked: its quorum is not met, exit 12.
    other = WitnessFolder.init(tmp_path / "other", "witness.test/other").cosigner.vkey()
    short = runner.invoke(cli, [*offline, "--witness", other])
    assert short.exit_code == 12 and "0 of the 1 witness cosignatures" in short.output
    # A record changed in the export: the chain and the tree both say so.
    lines = export.read_text().splitlines()
    changed = [line.replace('"key":"k2"', '"key":"k9"') for line in lines]
    export.write_text("\n".join(changed) + "\n")
    bad = runner.invoke(cli, ["--json", *offline, "--witness", wkey])
    assert bad.exit_code == 12
    problems = json.loads(bad.output)["problems"]
    assert any(
        p["kind"] == "checkpoint-mismatch" and "signed tree checkpoint" in p["message"]
        for p in problems
    )


def test_a_rebuilt_catalog_is_witnessed_again(tmp_path: Path, witness: WitnessServer) -> None:
    path = witnessed(tmp_path, witness)
    put_some(path, "k", 6)
    seen = witness.folder.seen("domicile.test/eu")
    assert seen is not None and seen.size > 0
    drop_catalog(tmp_path / "a")
    with domicile.open(path) as engine:
        assert engine.rebuild_catalog().audit_records > 0
    put_some(path, "after", 5)  # the tree is rebuilt from record 1 and proved to the witness
    with domicile.open(path) as engine:
        tree = engine.audit.tree
        assert tree is not None
        newest = tree.checkpoints()[-1]
        assert cosignatures(newest.note, [w.verifier for w in tree.witnesses])
        assert engine.audit.verify().ok
    again = witness.folder.seen("domicile.test/eu")
    assert again is not None and again.size == newest.size > seen.size
