"""S3 listing semantics over any ordered key store, given one range-fetch callback.

``fetch(low, inclusive, high, n)`` returns up to ``n`` current versions with
``low < key`` (or ``low <= key`` when ``inclusive``) and ``key < high`` (no upper bound when
``high`` is None), in key order. Rolled-up common prefixes are skipped with one seek past
their successor, so a prefix holding millions of keys costs one query, not a scan, and
at most a small batch of rows read for nothing.

Keys are compared in code-point order, which is UTF-8 byte order (the order S3 lists in).
"""

from __future__ import annotations

from collections.abc import Callable

from domicile.catalog.records import ListPage, Version, VersionsPage

Fetch = Callable[[str, bool, str | None, int], list[Version]]
#: ``fetch(key, below, high, n)``: up to ``n`` versions in S3's order (key ascending, then
#: newest first), starting with those of ``key`` whose ``seq`` is under ``below`` then the
#: later keys; or, ``below`` None, every version of ``key`` and later keys; all under
#: ``high`` (None: no bound).
VersionFetch = Callable[[str, int | None, str | None, int], list[Version]]
_MAX = 0x10FFFF
_FIRST_BATCH = 16


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: none)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1])
        if code < _MAX:
            code += 1
            if 0xD800 <= code <= 0xDFFF:  # surrogates are never valid in keys
                code = 0xE000
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def list_page(
    fetch: Fetch, *, prefix: str, delimiter: str, start_after: str, limit: int
) -> ListPage:
    """One page: objects and common prefixes after ``start_after``, at most ``limit`` in all
    (capped at 1,000). ``limit`` 0 is an empty, complete page, as S3 answers max-keys=0."""
    limit = max(0, min(limit, 1000))
    if limit == 0:
        return ListPage([], [], False, None)
    high = prefix_successor(prefix) if prefix else None
    low, inclusive = (start_after, False) if start_after >= prefix else (prefix, True)
    objects: list[Version] = []
    prefixes: list[str] = []
    last: str | None = None
    # With a delimiter, any row may start a common prefix, after which the rest of the batch
    # is discarded: start small, grow while rows are plain objects, shrink after a seek.
    most = limit + 1
    batch = min(_FIRST_BATCH, most) if delimiter else most
    while True:
        rows = fetch(low, inclusive, high, batch)
        if not rows:
            return ListPage(objects, prefixes, False, None)
        for row in rows:
            rolled = _rollup(row.key, prefix, delimiter)
            emits = rolled is None or rolled > start_after
            if emits and len(objects) + len(prefixes) == limit:
                return ListPage(objects, prefixes, True, last)
            if rolled is None:
                objects.append(row)
                last = low = row.key
                inclusive = False
                continue
            if emits:
                prefixes.append(rolled)
                last = rolled
            successor = prefix_successor(rolled)
            if successor is None or (high is not None and successor >= high):
                return ListPage(objects, prefixes, False, None)
            low, inclusive = successor, True
            batch = min(_FIRST_BATCH, most)
            break  # seek past the whole common prefix
        else:
            if len(rows) < batch:
                return ListPage(objects, prefixes, False, None)
            batch = min(batch * 2, most)


def versions_page(
    fetch: VersionFetch,
    *,
    prefix: str,
    delimiter: str,
    key_marker: str,
    below: int | None,
    limit: int,
) -> VersionsPage:
    """One ListObjectVersions page: versions and delete markers after the markers (the
    keys above ``key_marker``, and with ``below`` the versions of ``key_marker`` older than
    the marker's), common prefixes rolled up as in :func:`list_page`, at most ``limit`` in
    all (capped at 1,000)."""
    limit = max(0, min(limit, 1000))
    if limit == 0:
        return VersionsPage([], [], False, None, None)
    high = prefix_successor(prefix) if prefix else None
    key, seq = (key_marker, below) if key_marker >= prefix else (prefix, None)
    found: list[Version] = []
    prefixes: list[str] = []
    last: tuple[str | None, str | None] = (None, None)
    most = limit + 1
    batch = min(_FIRST_BATCH, most) if delimiter else most
    while True:
        rows = fetch(key, seq, high, batch)
        if not rows:
            return VersionsPage(found, prefixes, False, None, None)
        for row in rows:
            rolled = _rollup(row.key, prefix, delimiter)
            emits = rolled is None or rolled > key_marker
            if emits and len(found) + len(prefixes) == limit:
                return VersionsPage(found, prefixes, True, *last)
            if rolled is None:
                found.append(row)
                last = (row.key, row.s3_version_id)
                key, seq = row.key, row.seq
                continue
            if emits:
                prefixes.append(rolled)
                last = (rolled, None)
            successor = prefix_successor(rolled)
            if successor is None or (high is not None and successor >= high):
                return VersionsPage(found, prefixes, False, None, None)
            key, seq = successor, None
            batch = min(_FIRST_BATCH, most)
            break
        else:
            if len(rows) < batch:
                return VersionsPage(found, prefixes, False, None, None)
            batch = min(batch * 2, most)


def _rollup(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    at = key.find(delimiter, len(prefix))
    return None if at < 0 else key[: at + len(delimiter)]
