"""``plan`` and ``apply``'s planning walk the catalog in bounded memory (issue #22).

The catalog is filled directly (plan reads only metadata: no blob is needed) with objects
that all need a change: each has a copy on a site its policy refuses. The Python heap's
peak while planning (tracemalloc) must not grow with the number of objects.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

import domicile
from domicile.catalog import schema
from domicile.engine import ApplyReport

MiB = 1024 * 1024


def _fill(url: str, start: int, stop: int) -> None:
    """Objects ``start`` to ``stop`` of bucket docs, each on fr and us (us is refused),
    inserted in one transaction (as a PUT would record them, faster)."""
    ids = [f"{i:032x}" for i in range(start, stop)]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(schema.versions),
                [
                    {
                        "version_id": vid,
                        "bucket": "docs",
                        "key": f"objects/{int(vid, 16):08d}",
                        "state": "current",
                        "size": 100,
                        "etag": "0" * 32,
                        "content_type": "application/octet-stream",
                        "user_metadata": "{}",
                        "created_at": 1_700_000_000_000_000,
                        "manifest_blob_id": f"m{vid}",
                    }
                    for vid in ids
                ],
            )
            conn.execute(
                sa.insert(schema.segments),
                [
                    {
                        "version_id": vid,
                        "idx": 0,
                        "blob_id": f"b{vid}",
                        "plaintext_size": 100,
                        "header_length": 32,
                        "ciphertext_length": 137,
                        "ciphertext_sha256": "0" * 64,
                    }
                    for vid in ids
                ],
            )
            conn.execute(
                sa.insert(schema.placements),
                [
                    {"version_id": vid, "site_id": site, "state": "ok", "created_at": 1}
                    for vid in ids
                    for site in ("fr", "us")
                ],
            )
    finally:
        engine.dispose()


def _peak(work: Callable[[], ApplyReport]) -> tuple[int, ApplyReport]:
    """The heap's peak growth while ``work`` runs, in bytes, and what it returned."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = work()
        return tracemalloc.get_traced_memory()[1] - base, result
    finally:
        tracemalloc.stop()


def test_plan_and_apply_planning_peak_does_not_grow_with_objects(config_path: Path) -> None:
    """``apply`` cancelled at the confirmation runs ``plan``'s walk and writes every step
    as a job: its peak covers both."""
    peaks: dict[int, int] = {}
    done = 0
    with domicile.open(config_path) as engine:
        engine.plan()  # the bucket made, caches warm
        for size in (2_000, 20_000):
            _fill(engine.config.catalog_url, done, size)
            done = size
            peaks[size], report = _peak(lambda: engine.apply(confirm=lambda summary: False))
            plan = report.plan
            assert report.cancelled and plan.adds == plan.removes == plan.violations == size
            assert len(plan.groups) == 2 and all(len(g.examples) == 3 for g in plan.groups.values())
            jobs = engine.context.catalog.jobs(run_id=report.run_id, limit=1)
            assert [(j.state, j.detail) for j in jobs] == [("interrupted", "not confirmed")]
    assert peaks[20_000] - peaks[2_000] < 10 * MiB, peaks
