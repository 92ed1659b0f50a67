"""The CLI end to end: every command, its JSON, its errors and exit codes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

import domicile
from domicile.cli.setup import _demo_body
from domicile.engine import ObjectMeta
from tests.cli.conftest import Run
from tests.engine.conftest import drop_catalog


def test_init_refuses_to_overwrite(deployment: Path, run: Run) -> None:
    again = run("--config", str(deployment), "init")
    assert again.code == 3
    assert "exists already" in again.err


def test_put_get_stat_where_ls_rm(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    src = tmp_path / "in.bin"
    body = os.urandom(200_000)
    src.write_bytes(body)
    put = run(*cfg, "put", str(src), "reports/q3/in.bin", "--meta", "owner=cfo")
    assert put.code == 0, put.err
    assert "stored reports/q3/in.bin" in put.out

    dest = tmp_path / "out.bin"
    assert run(*cfg, "get", "reports/q3/in.bin", str(dest)).code == 0
    assert dest.read_bytes() == body
    part = tmp_path / "part.bin"
    assert run(*cfg, "get", "reports/q3/in.bin", str(part), "--range", "10-19").code == 0
    assert part.read_bytes() == body[10:20]

    stat = run(*cfg, "--json", "stat", "reports/q3/in.bin").json()
    assert stat["size"] == 200_000
    assert stat["meta"]["user"] == {"owner": "cfo"}

    where = run(*cfg, "--json", "where", "reports/q3/in.bin").json()
    assert len(where) == 2
    assert all(c["compliant"] for c in where)
    assert {c["country"] for c in where} <= {"FR", "DE"}

    ls = run(*cfg, "--json", "ls", "reports/")
    assert ls.json()["common_prefixes"] == ["q3/"]
    assert "q3/in.bin" in run(*cfg, "ls", "reports/q3/").out
    assert "reports" in run(*cfg, "ls").out

    assert run(*cfg, "rm", "reports/q3/in.bin").code == 0
    gone = run(*cfg, "stat", "reports/q3/in.bin")
    assert gone.code == 4
    assert "error:" in gone.err


def test_conditional_put(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    src = tmp_path / "in.txt"
    src.write_bytes(b"first")
    made = run(*cfg, "--json", "put", str(src), "reports/once.txt", "--if-none-match")
    assert made.code == 0, made.err
    etag = made.json()["etag"]
    src.write_bytes(b"second")
    again = run(*cfg, "put", str(src), "reports/once.txt", "--if-none-match")
    assert again.code == 9 and "exists already" in again.err
    stale = run(*cfg, "put", str(src), "reports/once.txt", "--if-match", "0" * 32)
    assert stale.code == 9
    missing = run(*cfg, "put", str(src), "reports/absent.txt", "--if-match", etag)
    assert missing.code == 4
    assert run(*cfg, "put", str(src), "reports/once.txt", "--if-match", etag).code == 0
    out = tmp_path / "out.txt"
    assert run(*cfg, "get", "reports/once.txt", str(out)).code == 0
    assert out.read_bytes() == b"second"


def test_sites_and_policy_explain(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    sites = run(*cfg, "--json", "sites").json()
    assert {s["site_id"] for s in sites} == {"ovh-gra", "hetzner-fsn", "alibaba-sv"}
    explain = run(*cfg, "policy", "explain", "reports")
    assert explain.code == 0
    assert "alibaba-sv" in explain.out
    data = run(*cfg, "--json", "policy", "explain", "reports").json()
    assert data["ok"] is True


def test_keys(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    first = run(*cfg, "keys", "recipient").out.strip()
    assert first.startswith("age1")
    new = run(*cfg, "--json", "keys", "new").json()["recipient"]
    listed = run(*cfg, "--json", "keys", "list").json()["recipients"]
    assert listed == [first, new]
    text = (deployment.parent / "keyring.txt").read_text()
    assert "AGE-SECRET-KEY-1" in text
    assert "AGE-SECRET-KEY" not in run(*cfg, "keys", "list").out
    assert run(*cfg, "keys", "recipient", "--pq").code != 0  # no post-quantum identity yet
    pq = run(*cfg, "--json", "keys", "new", "--pq").json()
    assert pq["post_quantum"] is True and pq["recipient"].startswith("age1pq1")
    assert run(*cfg, "keys", "recipient", "--pq").out.strip() == pq["recipient"]
    assert run(*cfg, "keys", "recipient").out.strip() == first
    listed = run(*cfg, "--json", "keys", "list").json()
    assert listed["recipients"] == [first, new, pq["recipient"]]
    assert listed["post_quantum"] == [pq["recipient"]]
    shown = run(*cfg, "keys", "list").out
    assert "post-quantum" in shown and "AGE-SECRET-KEY" not in shown
    assert "AGE-SECRET-KEY-PQ-1" in (deployment.parent / "keyring.txt").read_text()


def test_errors_have_hints_and_exit_codes(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    missing = run("--config", str(tmp_path / "nope.toml"), "ls")
    assert missing.code == 3
    assert "domicile init" in missing.err
    unknown = run(*cfg, "--json", "stat", "nobucket/k")
    assert unknown.code == 4
    assert '"error": "BucketNotFound"' in unknown.err
    bad = run(*cfg, "put", str(deployment), "reports/../etc/passwd")
    assert bad.code == 8
    usage = run(*cfg, "get", "no-slash")
    assert usage.code == 2


def test_refusal_explains_every_site(deployment: Path, run: Run) -> None:
    text = deployment.read_text().replace(
        'template = "hetzner:fsn1"', 'template = "hetzner:fsn1"\nstatus = "suspended"'
    )
    deployment.write_text(text)
    refused = run("--config", str(deployment), "put", str(deployment), "reports/x")
    assert refused.code == 5
    for site in ("ovh-gra", "hetzner-fsn", "alibaba-sv"):
        assert site in refused.err


def test_demo(tmp_path: Path, run: Run) -> None:
    config = tmp_path / "demo" / "domicile.toml"
    first = run("--config", str(config), "demo")
    assert first.code == 0, first.err
    assert "identical" in first.out
    assert "alibaba-sv" in first.out
    again = run("--config", str(config), "demo")  # re-running reuses the deployment
    assert again.code == 0, again.err
    assert "using the demo deployment" in again.out


@pytest.mark.age_cli
def test_demo_prints_a_one_liner_that_recovers_exactly_the_object(tmp_path: Path, run: Run) -> None:
    config = tmp_path / "demo" / "domicile.toml"
    demo = run("--config", str(config), "demo")
    assert demo.code == 0, demo.err
    lines = [line.strip() for line in demo.out.splitlines() if line.strip().startswith("age -d")]
    assert len(lines) == 1, demo.out
    assert "| head -c " in lines[0]
    recovered = subprocess.run(
        lines[0], shell=True, capture_output=True, check=False, cwd=tmp_path, timeout=60
    )
    assert recovered.returncode == 0, recovered.stderr
    assert recovered.stdout == _demo_body()


def test_verify_repair_rebuild(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "put", str(deployment), "reports/conf.toml").code == 0
    assert run(*cfg, "--json", "verify", "--level", "deep").json()["ok"] is True
    holder = run(*cfg, "--json", "where", "reports/conf.toml").json()[0]["site_id"]
    site_dir = deployment.parent / "sites" / holder
    for blob in [p for p in site_dir.rglob("*") if p.is_file() and p.name[0] in "bm"]:
        blob.unlink()  # the file's one blob (inline: data and manifest), or its two
    bad = run(*cfg, "verify")
    assert bad.code == 11
    assert "missing" in bad.out
    fixed = run(*cfg, "--json", "repair").json()
    assert [a["site_id"] for a in fixed["added"]] == [holder]
    assert run(*cfg, "verify", "--level", "full").code == 0
    drop_catalog(deployment.parent)
    rebuilt = run(*cfg, "--json", "rebuild-catalog").json()
    assert rebuilt["versions"] == 1 and rebuilt["placements"] == 2
    assert run(*cfg, "get", "reports/conf.toml", "-").out == deployment.read_text()


def test_set_status_plan_apply(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "put", str(deployment), "reports/a").code == 0
    holders = {c["site_id"] for c in run(*cfg, "--json", "where", "reports/a").json()}
    assert holders == {"ovh-gra", "hetzner-fsn"}
    assert "nothing to do" in run(*cfg, "plan").out
    changed = run(*cfg, "sites", "set-status", "hetzner-fsn", "suspended")
    assert changed.code == 0, changed.err
    assert "active -> suspended" in changed.out
    assert "cannot comply" in changed.out  # only two EU providers: nowhere to move it
    # The copy there broke no residency rule: compliant, with the reason it must move.
    copies = {c["site_id"]: c for c in run(*cfg, "--json", "where", "reports/a").json()}
    assert copies["hetzner-fsn"]["compliant"] is True
    assert "suspended" in " ".join(copies["hetzner-fsn"]["reasons"])
    assert copies["ovh-gra"]["compliant"] is True and copies["ovh-gra"]["reasons"] == []
    table = run(*cfg, "where", "reports/a").out
    assert "to move" in table and "suspended" in table
    plan = run(*cfg, "--json", "plan").lines()
    assert [line["type"] for line in plan] == ["blocked", "summary"]
    assert plan[0]["reason"] == "NOSITES" and plan[-1]["blocked"] == 1
    assert run(*cfg, "apply", "--yes").code == 11
    assert run(*cfg, "sites", "set-status", "hetzner-fsn", "active").code == 0
    assert run(*cfg, "--json", "plan").lines()[-1]["empty"] is True
    bad = run(*cfg, "sites", "set-status", "nowhere", "active")
    assert bad.code == 3 and "the sites are" in bad.err


def test_audit_commands(deployment: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "put", str(deployment), "reports/a").code == 0
    assert "audit chain intact" in run(*cfg, "audit", "verify").out
    tail = run(*cfg, "--json", "audit", "tail", "-n", "5").json()
    assert tail[-1]["action"] == "put" and tail[-1]["key"] == "a"
    export = tmp_path / "audit.jsonl"
    assert run(*cfg, "audit", "export", "-o", str(export)).code == 0
    key = tmp_path / "audit.pub"
    key.write_text(run(*cfg, "audit", "public-key").out)
    offline = run("audit", "verify", "--export", str(export), "--public-key", str(key))
    assert offline.code == 0, offline.err
    export.write_text(export.read_text().replace('"bucket_create"', '"bucket_delete"', 1))
    bad = run("audit", "verify", "--export", str(export), "--public-key", str(key))
    assert bad.code == 12


def test_sweep_aborts_expired_multipart_uploads(deployment: Path, run: Run) -> None:
    text = deployment.read_text()
    deployment.write_text(
        text.replace("[deployment]\n", "[deployment]\nmultipart_expiry_hours = 0\n", 1)
    )
    with domicile.open(deployment) as engine:
        for key in ("a", "b"):
            upload = engine.create_multipart("reports", key, meta=ObjectMeta())
            engine.upload_part("reports", key, upload.upload_id, 1, b"abandoned")
    cfg = ("--config", str(deployment))
    assert run(*cfg, "sweep", "--dry-run").code == 0
    swept = run(*cfg, "--json", "sweep")
    assert swept.code == 0, swept.err
    assert swept.json()["uploads_aborted"] == 2
    again = run(*cfg, "sweep")
    assert "aborted 0 multipart uploads older than 0 h" in again.out
    with domicile.open(deployment) as engine:
        assert engine.list_uploads("reports").uploads == []
