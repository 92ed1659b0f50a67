"""Listing semantics against a brute-force reference model of S3 ListObjectsV2."""

from __future__ import annotations

import bisect
import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domicile.catalog import ListPage, SqlCatalog, Version
from domicile.catalog.listing import list_page, prefix_successor
from tests.catalog.records import commit
from tests.catalog.records import version as build
from tests.examples import examples


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
    catalog: SqlCatalog, bucket: str, prefix: str, delimiter: str, start_after: str, limit: int
) -> list[str]:
    """Every entry of the listing, page by page, checking each page's invariants."""
    seen: list[str] = []
    cursor = start_after
    for _ in range(1000):
        page = catalog.list_objects(
            bucket, prefix=prefix, delimiter=delimiter, start_after=cursor, limit=limit
        )
        entries = sorted([o.key for o in page.objects] + page.common_prefixes)
        assert 0 < len(entries) <= limit or not page.is_truncated
        assert len(entries) <= limit
        if page.is_truncated:
            assert page.next_start_after == entries[-1]
        seen += entries
        if not page.is_truncated:
            return seen
        assert page.next_start_after is not None
        cursor = page.next_start_after
    raise AssertionError("listing did not end")


ALPHABET = st.sampled_from(["a", "b", "/", "%", "_", "é", "\U0001f600", "\uffff", "z", "-"])
KEYS = st.lists(st.text(ALPHABET, min_size=1, max_size=6), max_size=40)
_BUCKETS = itertools.count()


@settings(
    max_examples=examples(80),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    keys=KEYS,
    prefix=st.text(ALPHABET, max_size=2),
    delimiter=st.sampled_from(["", "/", "%", "_", "é", "ab"]),
    start_after=st.text(ALPHABET, max_size=3),
    limit=st.integers(1, 7),
)
def test_paging_equals_the_reference(
    catalog: SqlCatalog,
    keys: list[str],
    prefix: str,
    delimiter: str,
    start_after: str,
    limit: int,
) -> None:
    bucket = f"b{next(_BUCKETS)}"  # a fresh bucket per example, in the test's catalog
    catalog.create_bucket(bucket, "p")
    for key in set(keys):
        commit(catalog, bucket, key)
    got = page_through(catalog, bucket, prefix, delimiter, start_after, limit)
    assert got == reference(keys, prefix, delimiter, start_after)
    assert len(got) == len(set(got))
    whole = catalog.list_objects(
        bucket, prefix=prefix, delimiter=delimiter, start_after=start_after
    )
    assert not whole.is_truncated
    assert sorted([o.key for o in whole.objects] + whole.common_prefixes) == got


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


def test_skipping_a_common_prefix_reads_a_bounded_number_of_rows() -> None:
    keys = sorted([f"big/{i:05d}" for i in range(20_000)] + ["a", "top", "zz/1", "zz/2"])
    read = 0

    def fetch(low: str, inclusive: bool, high: str | None, n: int) -> list[Version]:
        nonlocal read
        at = bisect.bisect_left(keys, low) if inclusive else bisect.bisect_right(keys, low)
        found = [k for k in keys[at : at + n] if high is None or k < high]
        read += len(found)
        return [build("b", k) for k in found]

    page = list_page(fetch, prefix="", delimiter="/", start_after="", limit=1000)
    assert [o.key for o in page.objects] == ["a", "top"]
    assert page.common_prefixes == ["big/", "zz/"]
    assert read < 100


def test_long_and_astral_keys_sort_in_utf8_byte_order(catalog: SqlCatalog) -> None:
    catalog.create_bucket("b", "p")
    keys = ["\uffff", "\U00010000", "\ue000", "z" * 1024, "é" * 512, "a%_b"]
    for key in keys:
        commit(catalog, "b", key)
    listed = [o.key for o in catalog.list_objects("b").objects]
    assert listed == sorted(keys, key=lambda k: k.encode())


def test_limits_are_clamped(catalog: SqlCatalog) -> None:
    catalog.create_bucket("b", "p")
    for i in range(1002):
        commit(catalog, "b", f"k{i:04d}")
    assert catalog.list_objects("b", limit=0) == ListPage([], [], False, None)
    page = catalog.list_objects("b", limit=5000)
    assert len(page.objects) == 1000 and page.is_truncated
    assert page.next_start_after == "k0999"
    rest = catalog.list_objects("b", start_after="k0999")
    assert [o.key for o in rest.objects] == ["k1000", "k1001"] and not rest.is_truncated
