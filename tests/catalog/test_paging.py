"""The catalog's paged walks (issue #22): every version with its placements and segments,
two or three queries per page."""

from __future__ import annotations

import pytest

from domicile.catalog import sql
from domicile.catalog.sql import SqlCatalog

from .records import parts, version


@pytest.fixture
def filled(catalog: SqlCatalog) -> SqlCatalog:
    for bucket in ("a", "b"):
        catalog.create_bucket(bucket, "p")
    for i in range(2 * sql.PAGE + 8):
        v = version("ab"[i % 3 == 0], f"k{i}")
        catalog.commit_version(v, *parts(v, ("s1", "s2")[: 1 + i % 2], n=1 + i % 2))
    return catalog


def test_walks_give_what_one_query_per_version_gives(filled: SqlCatalog) -> None:
    for bucket in (None, "a", "b"):
        want = [
            (v, filled.segments(v.version_id), filled.placements(v.version_id))
            for v in filled.iter_versions(bucket)
        ]
        assert list(filled.iter_copies(bucket)) == want
        assert list(filled.iter_placed(bucket)) == [(v, p) for v, _, p in want]
    assert len(list(filled.iter_copies())) == 2 * sql.PAGE + 8  # pages end mid-bucket


def test_many_versions_commit_in_one_transaction_in_order(catalog: SqlCatalog) -> None:
    catalog.create_bucket("a", "p")
    first, second, other = version("a", "k"), version("a", "k"), version("a", "other")
    catalog.commit_versions([(v, *parts(v)) for v in (first, second, other)])
    assert catalog.current_version("a", "k").version_id == second.version_id
    assert catalog.current_version("a", "other").version_id == other.version_id
    catalog.commit_versions([])  # nothing to do
