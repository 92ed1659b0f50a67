"""The jobs of plan/apply runs and the audit chain's rows and checkpoints."""

from __future__ import annotations

import time
from collections.abc import Sequence

from domicile.catalog import SqlCatalog


def _step(site: str, version: str = "v1") -> dict[str, object]:
    return {"action": "add", "version_id": version, "site_id": site, "source": "s0", "bytes": 7}


def test_jobs_lifecycle(catalog: SqlCatalog) -> None:
    catalog.add_jobs("run1", [_step("a"), _step("b")])
    catalog.add_jobs("run1", [])
    claimed = catalog.claim_jobs("run1", "me", versions=10, seconds=60)
    assert [j.site_id for j in claimed] == ["a", "b"]
    assert all(j.lease_holder == "me" and j.lease_expires for j in claimed)
    catalog.finish_job(claimed[0].id, "done")
    catalog.finish_job(claimed[1].id, "failed", "x" * 5000)
    failed = catalog.jobs(state="failed")
    assert [j.id for j in failed] == [claimed[1].id] and len(failed[0].detail) == 2000
    catalog.add_jobs("run2", [_step("c"), _step("d")])
    assert catalog.abandon_jobs("run2", "not confirmed") == 2
    assert [j.detail for j in catalog.jobs(state="interrupted")] == ["not confirmed"] * 2
    everything = catalog.jobs()
    assert {j.run_id for j in everything} == {"run1", "run2"}
    assert all(j.bytes == 7 and j.source == "s0" for j in everything)
    assert [j.site_id for j in catalog.jobs(run_id="run1")] == ["b", "a"]


def test_claims_take_whole_versions_and_skip_live_leases(catalog: SqlCatalog) -> None:
    catalog.add_jobs("run", [_step("a", "v1"), _step("b", "v2"), _step("c", "v1")])
    first = catalog.claim_jobs("run", "w1", versions=1, seconds=60)
    assert [(j.version_id, j.site_id) for j in first] == [("v1", "a"), ("v1", "c")]
    second = catalog.claim_jobs("run", "w2", versions=5, seconds=60)
    assert [(j.version_id, j.lease_holder) for j in second] == [("v2", "w2")]
    assert catalog.claim_jobs("run", "w3", versions=5, seconds=60) == []
    assert catalog.renew_jobs("w1", 60) == 2
    assert catalog.claim_jobs("other-run", "w3", versions=5, seconds=60) == []


def test_an_expired_claim_is_claimed_again(catalog: SqlCatalog) -> None:
    catalog.add_jobs("run", [_step("a")])
    dead = catalog.claim_jobs("run", "dead", versions=1, seconds=0.001)
    time.sleep(0.01)
    again = catalog.claim_jobs("run", "alive", versions=1, seconds=60)
    assert [j.id for j in again] == [j.id for j in dead]
    assert again[0].lease_holder == "alive"


def test_audit_chain_appends_from_the_head(catalog: SqlCatalog) -> None:
    def two(seq: int, digest: str) -> Sequence[tuple[int, str, str]]:
        return [(seq + 1, f"{digest}+", "a"), (seq + 2, f"{digest}++", "b")]

    assert catalog.append_audit(two) == [(1, "+", "a"), (2, "++", "b")]
    assert catalog.append_audit(two) == [(3, "+++", "a"), (4, "++++", "b")]
    assert [s for s, _, _ in catalog.audit_records(since=1, limit=2)] == [2, 3]
    assert catalog.append_audit(lambda seq, digest: []) == []
    catalog.add_audit_checkpoint(4, "cp4")
    catalog.add_audit_checkpoint(2, "cp2")
    catalog.add_audit_checkpoint(4, "again")
    assert catalog.audit_checkpoints() == ["cp2", "cp4"]
