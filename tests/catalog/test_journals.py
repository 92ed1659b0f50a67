"""The jobs of plan/apply runs and the audit chain's rows and checkpoints."""

from __future__ import annotations

from collections.abc import Sequence

from domicile.catalog import SqlCatalog


def _step(site: str) -> dict[str, object]:
    return {"action": "add", "version_id": "v1", "site_id": site, "source": "s0", "bytes": 7}


def test_jobs_lifecycle(catalog: SqlCatalog) -> None:
    ids, interrupted = catalog.start_jobs("run1", [_step("a"), _step("b")])
    assert interrupted == 0 and len(ids) == 2
    catalog.finish_job(ids[0], "done")
    catalog.finish_job(ids[1], "failed", "x" * 5000)
    failed = catalog.jobs(state="failed")
    assert [j.id for j in failed] == [ids[1]] and len(failed[0].detail) == 2000
    more, interrupted = catalog.start_jobs("run2", [_step("c")])
    assert interrupted == 0
    _, interrupted = catalog.start_jobs("run3", [])
    assert interrupted == 1
    assert [j.state for j in catalog.jobs(state="interrupted")] == ["interrupted"]
    everything = catalog.jobs()
    assert [j.id for j in everything] == sorted([*ids, *more], reverse=True)
    assert {j.run_id for j in everything} == {"run1", "run2"}
    assert all(j.bytes == 7 and j.source == "s0" for j in everything)


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
