"""The issue's end-to-end test: a COMPLIANCE-locked object in a bucket whose site is set
draining, then apply, sweep --grace 0, repair, rm, rb and tenant removal: its bytes are
readable after every step, its copies end on compliant sites, and every refused deletion
is in the audit log. Then a tightened policy that leaves it nowhere to go: it stays, and
apply reports it."""

from __future__ import annotations

import os
from pathlib import Path

import domicile
from tests.cli.conftest import Run
from tests.engine.conftest import make_deployment

NL = """
[sites.nl]
template = "scaleway:nl-ams"
backend = { type = "local", path = "sites/nl" }
"""


def _read(config: Path, version: str) -> bytes:
    with domicile.open(config) as engine:
        return engine.get("vault", "rec", version_id=version).read()


def test_a_compliance_locked_object_survives_everything(tmp_path: Path, run: Run) -> None:
    from domicile.sites import LocalSite

    LocalSite.create("nl", tmp_path / "sites" / "nl")
    config = make_deployment(tmp_path, extra=NL)
    cfg = ("--config", str(config))
    body = os.urandom(300_000)
    src = tmp_path / "rec.bin"
    src.write_bytes(body)
    assert run(*cfg, "mb", "vault", "--policy", "eu-only", "--tenant", "acme",
               "--object-lock").code == 0  # fmt: skip
    assert run(*cfg, "lock", "vault", "--mode", "COMPLIANCE", "--days", "1").code == 0
    assert run(*cfg, "put", str(src), "vault/rec").code == 0
    version = run(*cfg, "--json", "retention", "vault/rec").json()["version"]
    before = {c["site_id"] for c in run(*cfg, "--json", "where", "vault/rec").json()}
    assert len(before) == 2
    leaving = sorted(before)[0]

    moved = run(*cfg, "sites", "set-status", leaving, "draining")
    assert moved.code == 0, moved.err
    applied = run(*cfg, "apply", "--yes")
    assert applied.code == 0, applied.out + applied.err
    after = run(*cfg, "--json", "where", "vault/rec").json()
    assert leaving not in {c["site_id"] for c in after} and len(after) == 2
    assert all(c["compliant"] for c in after)
    assert _read(config, version) == body

    assert run(*cfg, "sweep", "--grace", "0").code == 0
    assert _read(config, version) == body
    assert run(*cfg, "repair").code == 0
    assert _read(config, version) == body

    assert run(*cfg, "rm", "vault/rec").code == 0  # versioned: a delete marker only
    assert _read(config, version) == body
    refused = run(*cfg, "rm", "vault/rec", "--version-id", version, "--bypass-governance")
    assert refused.code == 15 and "COMPLIANCE retention" in refused.err
    assert _read(config, version) == body
    assert run(*cfg, "rb", "vault").code == 9
    removal = run(*cfg, "--json", "tenant", "remove", "acme", "--yes")
    assert removal.code == 15
    assert removal.json()["buckets_kept"] == ["vault"]
    assert list(removal.json()["kept"]) == [f"vault/rec@{version}"]
    assert _read(config, version) == body
    assert run(*cfg, "--json", "verify", "--level", "deep").code == 0

    tail = run(*cfg, "--json", "audit", "tail", "-n", "200").json()
    refusals = [(r["action"], r["version"]) for r in tail if r["result"] == "refused"]
    assert refusals == [
        ("version_delete", version),  # rm --version-id
        ("bucket_delete", None),  # rb
        ("version_delete", version),  # tenant remove
    ]


def test_a_locked_version_with_nowhere_to_go_stays_and_is_reported(
    tmp_path: Path, run: Run
) -> None:
    config = make_deployment(tmp_path)  # eu-only: fr and de, two copies; us not allowed
    cfg = ("--config", str(config))
    src = tmp_path / "rec.bin"
    src.write_bytes(b"kept where it is")
    assert run(*cfg, "mb", "vault", "--policy", "eu-only", "--object-lock").code == 0
    assert run(*cfg, "lock", "vault", "--mode", "COMPLIANCE", "--days", "1").code == 0
    assert run(*cfg, "put", str(src), "vault/rec").code == 0
    version = run(*cfg, "--json", "retention", "vault/rec").json()["version"]
    text = config.read_text().replace('allow = ["EU"]', 'allow = ["EU"]\ndeny = ["DE"]', 1)
    # the policy tightened: DE is out, one copy is enough, and no other site can take the
    # copy on de: the lock keeps the two copies the version had, so de's stays
    config.write_text(text.replace("copies = 2", "copies = 1", 1))
    applied = run(*cfg, "apply", "--yes")
    assert applied.code == 11
    assert "failed: vault/rec remove de: kept on de by Object Lock" in applied.out
    copies = {c["site_id"] for c in run(*cfg, "--json", "where", "vault/rec").json()}
    assert copies == {"fr", "de"}
    assert (tmp_path / "sites" / "de").exists()
    with domicile.open(config) as engine:
        assert engine.get("vault", "rec", version_id=version).read() == b"kept where it is"
        kept = [r for r in engine.audit.records() if r.action == "placement_kept"]
        assert kept and kept[0].result == "refused" and kept[0].sites == ("de",)
