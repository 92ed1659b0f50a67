"""``plan`` and ``apply``'s planning walk the catalog in bounded memory (issue #22).

The catalog is filled directly (plan reads only metadata: no blob is needed) with objects
that all need a change: each has a copy on a site its policy refuses. The Python heap's
peak while planning (tracemalloc) must not grow with the number of objects.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from testbed.catalogfill import fill

import domicile
from domicile.engine import ApplyReport

MiB = 1024 * 1024


def _peak(work: Callable[[], ApplyReport]) -> tuple[int, ApplyReport]:
    """The heap's peak growth while ``work`` runs, in bytes, and what it returned."""
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        result = work()
        return tracemalloc.get_traced_memory()[1] - base, result
    finally:
        tracemalloc.stop()


@pytest.mark.slow  # 22,000 objects planned under tracemalloc: make test runs it
def test_plan_and_apply_planning_peak_does_not_grow_with_objects(config_path: Path) -> None:
    """``apply`` cancelled at the confirmation runs ``plan``'s walk and writes every step
    as a job: its peak covers both."""
    peaks: dict[int, int] = {}
    done = 0
    with domicile.open(config_path) as engine:
        engine.plan()  # the bucket made, caches warm
        for size in (2_000, 20_000):
            fill(engine.config.catalog_url, "docs", done, size, ("fr", "us"))
            done = size
            peaks[size], report = _peak(lambda: engine.apply(confirm=lambda summary: False))
            plan = report.plan
            assert report.cancelled and plan.adds == plan.removes == plan.violations == size
            assert len(plan.groups) == 2 and all(len(g.examples) == 3 for g in plan.groups.values())
            jobs = engine.context.catalog.jobs(run_id=report.run_id, limit=1)
            assert [(j.state, j.detail) for j in jobs] == [("interrupted", "not confirmed")]
    assert peaks[20_000] - peaks[2_000] < 10 * MiB, peaks
