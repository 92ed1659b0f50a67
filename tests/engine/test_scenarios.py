"""The seeds' stories end to end: a handover, a provider ban, an apply killed mid-way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import domicile
from domicile.crypto import Keyring
from domicile.engine import set_site_status
from domicile.errors import LeaseHeld
from domicile.sites import LocalSite
from tests.engine.conftest import blob_files, put_until_on
from tests.engine.plans import planned

MiB = 1024 * 1024

WORLD = """
[deployment]
segment_size_mib = 1
lease_seconds = 2

[entities.acme-de]
name = "ACME Cloud GmbH"
country = "DE"

[entities.acme-cn]
name = "ACME Beijing Operations Co., Ltd."
country = "CN"

[sites.fra]
country = "DE"
operator = "acme-de"
provider = "acme"
backend = { type = "local", path = "sites/fra" }

[sites.gra]
template = "ovhcloud:gra"
backend = { type = "local", path = "sites/gra" }

[sites.fsn]
template = "hetzner:fsn1"
backend = { type = "local", path = "sites/fsn" }

[sites.waw]
template = "scaleway:pl-waw"
backend = { type = "local", path = "sites/waw" }

[policies.sovereign]
allow = ["EU"]
deny_subject_to = ["CN", "US"]
copies = 2
distinct = "provider"

[buckets.records]
policy = "sovereign"
"""


def deployment(root: Path) -> Path:
    for site in ("fra", "gra", "fsn", "waw"):
        LocalSite.create(site, root / "sites" / site)
    Keyring.create(root / "keyring.txt")
    path = root / "domicile.toml"
    path.write_text(WORLD)
    return path


def referenced(engine: domicile.Domicile, site: str) -> set[str]:
    catalog = engine.context.catalog
    ids: set[str] = set()
    for version in catalog.versions_on_site(site):
        ids.add(version.manifest_blob_id)
        ids.update(s.blob_id for s in catalog.segments(version.version_id))
    return ids


def on_disk(root: Path, site: str) -> set[str]:
    return {p.name for p in blob_files(root, site)}


def test_beijing_handover_evacuates_the_site(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    bodies = {f"r{i}": os.urandom(50_000 + i) for i in range(12)}
    with domicile.open(path) as engine:
        for key, body in bodies.items():
            engine.put("records", key, body)
        assert engine.plan().empty
        held_on_fra = len(referenced(engine, "fra"))
    assert held_on_fra > 0
    # The operator of the Frankfurt site is handed to a local partner under Chinese law.
    path.write_text(path.read_text().replace('operator = "acme-de"', 'operator = "acme-cn"'))
    with domicile.open(path) as engine:
        plan = planned(engine)
        assert plan.violations and all(s.site_id == "fra" for s in plan.violations)
        assert all("CN" in s.why and s.reason == "SUBJECT" for s in plan.violations)
        assert all(s.site_id != "fra" for s in plan.adds)
        report = engine.apply()
        assert not report.failed and not report.blocked
        assert engine.plan().empty
        for key, body in bodies.items():
            copies = engine.where("records", key)
            assert len(copies) == 2 and all(c.compliant for c in copies)
            assert "fra" not in {c.site_id for c in copies}
            assert engine.get("records", key).read() == body
    assert on_disk(tmp_path, "fra") == set()  # no copy left there


def test_provider_ban_reads_keep_working_and_apply_restores_copies(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    body = os.urandom(3 * MiB)
    with domicile.open(path) as engine:
        engine.put("records", "ledger", body)
        banned = engine.where("records", "ledger")[0].site_id
    set_site_status(path, banned, "suspended")
    assert 'status = "suspended"' in path.read_text()
    with domicile.open(path) as engine:
        assert engine.get("records", "ledger").read() == body  # from the other copy
        plan = planned(engine)
        assert [s.site_id for s in plan.removes] == [banned]
        assert len(plan.adds) == 1 and plan.adds[0].site_id != banned
        engine.apply()
        copies = engine.where("records", "ledger")
        assert len(copies) == 2 and all(c.compliant for c in copies)
        assert banned not in {c.site_id for c in copies}
        assert engine.verify("deep").ok


def test_draining_site_ends_empty(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    with domicile.open(path) as engine:
        for i in range(10):
            engine.put("records", f"k{i}", os.urandom(10_000))
        put_until_on(
            engine, "records", [f"k{i}" for i in range(10)], "gra", lambda: os.urandom(10_000)
        )
        assert referenced(engine, "gra")  # something to drain
    set_site_status(path, "gra", "draining")
    with domicile.open(path) as engine:
        engine.apply()
        assert referenced(engine, "gra") == set()
        assert engine.plan().empty
    assert on_disk(tmp_path, "gra") == set()


APPLY = """
import sys, domicile
with domicile.open(sys.argv[1]) as engine:
    print("start", flush=True)
    engine.apply(progress=lambda n: print("copied", n, flush=True))
"""


def test_kill_during_apply_then_rerun(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    bodies = {f"big{i}": os.urandom(2 * MiB + i) for i in range(30)}
    with domicile.open(path) as engine:
        for key, body in bodies.items():
            engine.put("records", key, body)
    set_site_status(path, "fsn", "draining")  # move out of two providers at once
    set_site_status(path, "gra", "draining")
    proc = subprocess.Popen(
        [sys.executable, "-c", APPLY, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "start"
    assert proc.stdout.readline().startswith("copied")  # one copy done, dozens to go
    with domicile.open(path) as engine, pytest.raises(LeaseHeld) as refused:
        engine.apply()  # a second apply while the first runs: refused, the holder named
    assert f"process {proc.pid} on {socket.gethostname()}" in refused.value.message
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL  # killed mid-way, not finished
    with domicile.open(path) as engine:
        deadline = time.monotonic() + 10
        while True:  # its lease expires within lease_seconds (2 s) of its last renewal
            try:
                report = engine.apply(concurrency=2)
                break
            except LeaseHeld:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert len(report.taken_over) == 1 and f"process {proc.pid}" in report.taken_over[0]
        assert report.added > 0 and not report.failed
        assert engine.plan().empty
        jobs = engine.context.catalog.jobs(limit=10_000)
        assert {j.state for j in jobs} <= {"done", "interrupted", "skipped"}
        assert "interrupted" in {j.state for j in jobs}  # the killed run's, re-planned
        for key, body in bodies.items():
            copies = engine.where("records", key)
            assert sorted(c.site_id for c in copies) == ["fra", "waw"]
            assert engine.get("records", key).read() == body
        engine.sweep(grace=0)  # the killed run's temp files, if it died mid-copy
        for site in ("fra", "waw"):
            assert not any((tmp_path / "sites" / site / ".tmp").iterdir())
            assert on_disk(tmp_path, site) == referenced(engine, site)  # nothing duplicated
        assert engine.verify("full").ok


def test_new_region_opens_and_the_policy_requires_germany(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    # Before: no German site in service yet.
    text = path.read_text()
    for site in ("fra", "fsn"):
        marker = f'path = "sites/{site}" }}'
        text = text.replace(marker, marker + '\nstatus = "retired"')
    path.write_text(text)
    bodies = {f"k{i}": os.urandom(30_000 + i) for i in range(8)}
    with domicile.open(path) as engine:
        for key, body in bodies.items():
            engine.put("records", key, body)
    # A new region opens in Germany, and the policy now requires a copy there.
    set_site_status(path, "fsn", "active")
    path.write_text(path.read_text().replace("copies = 2\n", 'copies = 2\nrequire = ["DE"]\n', 1))
    with domicile.open(path) as engine:
        plan = planned(engine)
        assert {s.site_id for s in plan.adds} == {"fsn"} and len(plan.adds) == len(bodies)
        assert not plan.violations
        engine.apply()
        assert engine.plan().empty
        assert engine.verify("full").ok
        for key, body in bodies.items():
            copies = engine.where("records", key)
            assert "DE" in {c.country for c in copies} and len(copies) == 2
            assert engine.get("records", key).read() == body
