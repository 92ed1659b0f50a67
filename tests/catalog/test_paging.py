"""The catalog's paged walks (issue #22): every version with its placements and segments,
two or three queries per page, and the batch a rebuild writes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from domicile.catalog import sql
from domicile.catalog.sql import SqlCatalog

from .records import commit, parts, version


@pytest.fixture
def filled(catalog: SqlCatalog) -> SqlCatalog:
    for bucket in ("a", "b"):
        catalog.create_bucket(bucket, "p")
    many = [version("ab"[i % 3 == 0], f"k{i}") for i in range(2 * sql.PAGE + 7)]
    catalog.restore_versions(
        [(v, *parts(v, ("s1", "s2")[: 1 + i % 2])) for i, v in enumerate(many)]
    )
    commit(catalog, "a", "committed")  # and one written as a PUT writes it
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


def test_a_rebuild_batch_keeps_the_newest_version_of_a_key(catalog: SqlCatalog) -> None:
    catalog.create_bucket("a", "p")
    old = version("a", "k")
    new = replace(version("a", "k"), created_at=old.created_at + 1)
    other = version("a", "other")
    found = [(v, *parts(v, ("s1",))) for v in (old, new, other)]
    superseded = catalog.restore_versions(found)
    assert superseded == [(old.version_id, 1)]  # restored, then replaced: 1 placement
    assert catalog.current_version("a", "k").version_id == new.version_id
    # Found again (another site, a resumed run): placements added, never a second row.
    again = [(v, *parts(v, ("s2",))) for v in (new, old)]
    assert catalog.restore_versions(again) == [(old.version_id, 0)]
    assert [p.site_id for p in catalog.placements(new.version_id)] == ["s1", "s2"]
    assert catalog.placed_sites([new.version_id, old.version_id, other.version_id]) == {
        new.version_id: ["s1", "s2"],
        other.version_id: ["s1"],
    }
