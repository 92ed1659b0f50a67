"""Listing semantics against a brute-force reference model of S3 ListObjectsV2."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domicile.catalog import SqlCatalog, open_catalog
from domicile.catalog.listing import prefix_successor
from tests.catalog.records import commit


def reference(keys: list[str], prefix: str, delimiter: str, start_after: str) -> list[str]:
    """Every entry (keys and common prefixes, prefixes marked by a trailing delimiter)."""
    out: list[str] = []
    for key in sorted(set(keys)):
        if not key.startswith(prefix):
            continue
        at = key.find(delimiter, len(prefix)) if delimiter else -1
        entry = key if at < 0 else key[: at + len(delimiter)]
        if entry > start_after and (not out or out[-1] != entry):
            out.append(entry)
    return out


def page_through(
    catalog: SqlCatalog, prefix: str, delimiter: str, start_after: str, limit: int
) -> list[str]:
    seen: list[str] = []
    cursor = start_after
    for _ in range(1000):
        page = catalog.list_objects(
            "b", prefix=prefix, delimiter=delimiter, start_after=cursor, limit=limit
        )
        entries = sorted([o.key for o in page.objects] + page.common_prefixes)
        assert len(entries) <= limit
        seen += entries
        if not page.is_truncated:
            return seen
        assert page.next_start_after is not None
        cursor = page.next_start_after
    raise AssertionError("listing did not end")


ALPHABET = st.sampled_from(["a", "b", "/", "%", "_", "é", "\U0001f600", "z", "-"])
KEYS = st.lists(st.text(ALPHABET, min_size=1, max_size=6), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    keys=KEYS,
    prefix=st.text(ALPHABET, max_size=2),
    delimiter=st.sampled_from(["", "/", "%", "é"]),
    start_after=st.text(ALPHABET, max_size=3),
    limit=st.integers(1, 7),
)
def test_paging_equals_the_reference(
    keys: list[str], prefix: str, delimiter: str, start_after: str, limit: int
) -> None:
    catalog = open_catalog("sqlite://")
    try:
        catalog.create_bucket("b", "p")
        for key in set(keys):
            commit(catalog, "b", key)
        got = page_through(catalog, prefix, delimiter, start_after, limit)
        assert got == reference(keys, prefix, delimiter, start_after)
    finally:
        catalog.close()


def test_common_prefix_is_skipped_with_one_seek(catalog: SqlCatalog) -> None:
    catalog.create_bucket("b", "p")
    for i in range(300):
        commit(catalog, "b", f"big/{i:04d}")
    commit(catalog, "b", "top")
    page = catalog.list_objects("b", delimiter="/", limit=10)
    assert page.common_prefixes == ["big/"]
    assert [o.key for o in page.objects] == ["top"]
    assert not page.is_truncated


def test_prefix_successor() -> None:
    assert prefix_successor("a/") == "a0"
    assert prefix_successor("") is None
    assert prefix_successor("a\U0010ffff") == "b"
    assert prefix_successor("\ud7ff") == "\ue000"
