"""Leases: one holder per scope, overlapping scopes refused, expired leases taken over;
garbage items claimed by a collector; queued deletions cancelled by a re-add."""

from __future__ import annotations

import threading
import time

import pytest

from domicile.catalog import Holder, Placement, SqlCatalog, Version
from domicile.errors import LeaseHeld, ObjectNotFound
from tests.catalog.records import parts, version


def commit(catalog: SqlCatalog, bucket: str, key: str, sites: tuple[str, ...]) -> Version:
    v = version(bucket, key)
    segs, places = parts(v, sites)
    catalog.commit_version(v, segs, places)
    return v


ME = Holder("host-a", 101, "run-a")
YOU = Holder("host-b", 202, "run-b")


def test_a_second_holder_of_an_overlapping_scope_is_refused_with_the_holder_named(
    catalog: SqlCatalog,
) -> None:
    assert catalog.acquire_lease("apply", None, ME, 60) == []
    with pytest.raises(LeaseHeld) as refused:
        catalog.acquire_lease("apply", "docs", YOU, 60)
    error = refused.value
    assert "process 101 on host-a" in error.message and "since" in error.message
    assert error.context["holder"] == "host-a:101" and "expires at" in (error.hint or "")
    assert catalog.acquire_lease("repair", None, YOU, 60) == []  # another kind: no overlap
    catalog.release_lease("apply", None, "run-a")
    catalog.acquire_lease("apply", "docs", YOU, 60)
    catalog.acquire_lease("apply", "photos", ME, 60)  # other buckets do not overlap
    with pytest.raises(LeaseHeld):
        catalog.acquire_lease("apply", None, ME, 60)
    assert [x.scope for x in catalog.leases()] == ["apply:docs", "apply:photos", "repair"]


def test_an_expired_lease_is_taken_over_and_its_pending_jobs_interrupted(
    catalog: SqlCatalog,
) -> None:
    catalog.acquire_lease("apply", None, ME, 0.001)
    step = {"action": "add", "version_id": "v", "site_id": "s", "bytes": 1}
    catalog.add_jobs("run-a", [step, step])
    claimed = catalog.claim_jobs("run-a", str(ME), versions=1, seconds=60)
    catalog.finish_job(claimed[0].id, "done")
    time.sleep(0.01)
    assert not catalog.renew_lease("apply", "docs", "run-a", 60)  # not its scope
    taken = catalog.acquire_lease("apply", "docs", YOU, 60)
    assert [(x.run_id, x.host, x.pid) for x in taken] == [("run-a", "host-a", 101)]
    assert sorted(j.state for j in catalog.jobs(run_id="run-a")) == ["done", "interrupted"]
    assert not catalog.renew_lease("apply", None, "run-a", 60)  # lost
    assert catalog.renew_lease("apply", "docs", "run-b", 60)


def test_garbage_claims_and_reclaims(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = commit(catalog, "docs", "k", sites=("s1", "s2"))
    catalog.remove_placement(v.version_id, "s1")
    catalog.remove_placement(v.version_id, "s2")
    queued = catalog.garbage()
    assert {g.site_id for g in queued} == {"s1", "s2"}
    claimed = catalog.claim_garbage("gc", limit=1000, seconds=60)
    on_s2 = [g.id for g in claimed if g.site_id == "s2"]
    catalog.release_garbage(on_s2)
    assert catalog.claim_garbage("gc2", limit=1000, seconds=60) != []  # s2's again
    catalog.release_garbage([g.id for g in catalog.garbage()])
    # s1's items claimed by a live collector are not cancelled: the re-adder must wait
    s1 = [g for g in catalog.claim_garbage("gc", limit=1000, seconds=60) if g.site_id == "s1"]
    catalog.release_garbage([g.id for g in catalog.garbage() if g.site_id == "s2"])
    assert catalog.reclaim_blobs(v.version_id, "s1") == len(s1)
    assert catalog.reclaim_blobs(v.version_id, "s2") == 0
    assert {g.site_id for g in catalog.garbage()} == {"s1"}
    catalog.garbage_done([g.id for g in s1])
    assert catalog.reclaim_blobs(v.version_id, "s1") == 0
    catalog.delete_object("docs", "k")
    with pytest.raises(ObjectNotFound):
        catalog.reclaim_blobs(v.version_id, "s1")


def test_a_guarded_removal_keeps_the_copy_count(catalog: SqlCatalog) -> None:
    catalog.create_bucket("docs", "p")
    v = commit(catalog, "docs", "k", sites=("s1", "s2", "s3"))
    catalog.set_placement_state(v.version_id, "s3", "corrupt")
    counted = ("s1", "s2", "s3")
    assert catalog.remove_placement(v.version_id, "s1", counted=counted, at_least=2) == "short"
    assert catalog.remove_placement(v.version_id, "s3", counted=counted, at_least=2) == "removed"
    assert catalog.remove_placement(v.version_id, "s3", counted=counted, at_least=2) == "absent"
    catalog.add_placement(Placement(v.version_id, "s4", "ok", 1.0, 1.0))
    assert catalog.remove_placement(v.version_id, "s1", counted=("s2",), at_least=2) == "short"
    assert catalog.remove_placement(v.version_id, "s1", counted=(*counted, "s4"), at_least=2) == (
        "removed"
    )


def test_concurrent_claims_never_share_a_job(catalog: SqlCatalog) -> None:
    steps = [
        {"action": "add", "version_id": f"v{i:03d}", "site_id": site, "bytes": 1}
        for i in range(60)
        for site in ("a", "b")
    ]
    catalog.add_jobs("run", steps)
    claimed: list[list[int]] = []
    start = threading.Barrier(4)

    def worker(name: str) -> None:
        start.wait()
        mine: list[int] = []
        while batch := catalog.claim_jobs("run", name, versions=3, seconds=60):
            assert len({j.version_id for j in batch}) <= 3
            mine += [j.id for j in batch]
            for job in batch:
                catalog.finish_job(job.id, "done")
        claimed.append(mine)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for mine in claimed for i in mine]
    assert len(every) == len(set(every)) == 120
    assert {j.state for j in catalog.jobs(run_id="run", limit=200)} == {"done"}


def test_concurrent_guarded_removals_leave_the_count(catalog: SqlCatalog) -> None:
    """Two removals of different copies of one version, each leaving enough copies on its
    own but not together: exactly one happens (no write skew on PostgreSQL)."""
    catalog.create_bucket("docs", "p")
    for round_ in range(5):
        v = commit(catalog, "docs", f"k{round_}", sites=("s1", "s2", "s3"))
        assert sorted(_race_removals(catalog, v.version_id)) == ["removed", "short"]
        assert len(catalog.placements(v.version_id)) == 2


def _race_removals(catalog: SqlCatalog, vid: str) -> list[str]:
    """Remove s1's and s2's copies of ``vid`` at once, each keeping 2 of s1-s3."""
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def remove(site: str) -> None:
        start.wait()
        counted = ("s1", "s2", "s3")
        outcomes.append(catalog.remove_placement(vid, site, counted=counted, at_least=2))

    threads = [threading.Thread(target=remove, args=(s,)) for s in ("s1", "s2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
