"""Races between processes (hosts) and threads on one catalog, on SQLite and PostgreSQL.

Each test starts several racer processes (tests/catalog/racer.py) that each run threads
doing the same thing at the same instant: the catalog must come out as if they had taken
turns, and no raw driver exception may reach the caller.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from domicile.catalog import BucketLock, VersionLock, open_catalog
from domicile.catalog.locks import KEYS, key_name
from domicile.catalog.sql import SqlCatalog
from domicile.errors import ObjectNotFound
from tests.catalog.racer import chain_link
from tests.catalog.records import commit

PROCESSES = 3
THREADS = 8
ROOT = Path(__file__).resolve().parents[2]


def race(url: str, mode: str) -> list[dict[str, Any]]:
    """Every racer's outcome, after PROCESSES x THREADS attempts at once."""
    start = time.time() + 2.5
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.catalog.racer", url, mode, str(start), str(THREADS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [p.communicate(timeout=180) for p in procs]
    found: list[dict[str, Any]] = []
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        found.extend(json.loads(out))
    assert len(found) == PROCESSES * THREADS
    raw = [f["outcome"] for f in found if f["outcome"].startswith("RAW")]
    assert raw == [], raw
    return found


def _prepared(url: str) -> SqlCatalog:
    catalog = open_catalog(url)
    catalog.create_bucket("docs", "p")
    return catalog


def test_audited_commits_from_processes_and_threads_keep_one_chain(catalog_url: str) -> None:
    catalog = _prepared(catalog_url)
    found = race(catalog_url, "audit")
    assert {f["outcome"] for f in found} == {"won"}
    records = catalog.audit_records()
    assert [seq for seq, _, _ in records] == list(range(1, len(found) + 1))
    prev = ""
    for _, digest, body in records:
        assert digest == chain_link(prev, body)
        prev = digest
    catalog.close()


def test_same_key_commits_leave_one_current_version_and_queue_every_loser(
    catalog_url: str,
) -> None:
    catalog = _prepared(catalog_url)
    found = race(catalog_url, "samekey")
    assert {f["outcome"] for f in found} == {"won"}
    current = catalog.current_version("docs", "same")
    versions = list(catalog.iter_versions("docs"))
    assert [v.version_id for v in versions] == [current.version_id]
    # Every replaced version's blobs are queued, on both sites, exactly once; the
    # current one's never.
    queued = sorted((g.site_id, g.blob_id) for g in catalog.garbage(limit=100_000))
    replaced = [f for f in found if f["version"] != current.version_id]
    expected = sorted((site, b) for f in replaced for b in f["blobs"] for site in ("s1", "s2"))
    assert queued == expected
    catalog.close()


def test_if_none_match_across_processes_has_exactly_one_winner(catalog_url: str) -> None:
    catalog = _prepared(catalog_url)
    found = race(catalog_url, "ifnonematch")
    outcomes = sorted(f["outcome"] for f in found)
    assert outcomes == ["PreconditionFailed"] * (len(found) - 1) + ["won"]
    [winner] = [f for f in found if f["outcome"] == "won"]
    assert catalog.current_version("docs", "same").version_id == winner["version"]
    assert catalog.garbage() == []
    catalog.close()


def test_bucket_creation_across_processes_has_exactly_one_winner(catalog_url: str) -> None:
    catalog = open_catalog(catalog_url)
    found = race(catalog_url, "bucket")
    outcomes = sorted(f["outcome"] for f in found)
    assert outcomes == ["BucketAlreadyExists"] * (len(found) - 1) + ["won"]
    assert [b.name for b in catalog.list_buckets()] == ["raced"]
    catalog.close()


def test_a_retention_set_while_its_version_is_deleted_waits_for_the_delete(
    pg_catalog_url: str,
) -> None:
    """PostgreSQL: setting a version's Object Lock takes its key's lock, so a transaction
    deleting the version (holding that lock) is waited for, and its delete is seen: no
    lock is stored for a version gone meanwhile, and no retention is set on a version
    while its delete goes through unguarded."""
    catalog = open_catalog(pg_catalog_url)
    catalog.create_bucket("vault", "p")
    catalog.set_bucket_lock(BucketLock("vault"))
    v = commit(catalog, "vault", "k")
    outcome: list[str] = []

    def set_retention() -> None:
        try:
            catalog.set_version_lock(VersionLock(v.version_id, "COMPLIANCE", time.time() + 86_400))
        except ObjectNotFound:
            outcome.append("ObjectNotFound")
        else:
            outcome.append("set")

    engine = sa.create_engine(pg_catalog_url)
    try:
        with engine.begin() as deleting:  # another host deleting the version
            deleting.execute(
                sa.select(
                    sa.func.pg_advisory_xact_lock(KEYS, sa.func.hashtext(key_name("vault", "k")))
                )
            )
            setter = threading.Thread(target=set_retention)
            setter.start()
            setter.join(timeout=1.0)
            assert setter.is_alive() and outcome == []  # waits for the key
            for table in ("segments", "placements", "versions"):
                deleting.execute(
                    sa.text(f"DELETE FROM {table} WHERE version_id = :vid"),
                    {"vid": v.version_id},
                )
        setter.join(timeout=30)
    finally:
        engine.dispose()
    assert outcome == ["ObjectNotFound"]
    assert catalog.version_lock(v.version_id) is None
    catalog.close()
