"""Builders of catalog records for tests."""

from __future__ import annotations

import secrets

from domicile.catalog import Placement, Segment, Version


def version(bucket: str, key: str, size: int = 10) -> Version:
    vid = secrets.token_hex(16)
    return Version(
        version_id=vid,
        bucket=bucket,
        key=key,
        state="current",
        size=size,
        etag="0" * 32,
        content_type="application/octet-stream",
        content_encoding=None,
        content_disposition=None,
        cache_control=None,
        expires=None,
        user_metadata={"a": "b"},
        created_at=1_700_000_000.5,
        manifest_blob_id=f"m{vid}",
    )


def parts(
    v: Version, sites: tuple[str, ...] = ("s1", "s2"), n: int = 2
) -> tuple[list[Segment], list[Placement]]:
    segs = [
        Segment(v.version_id, i, f"b{secrets.token_hex(16)}", 5, 100, 137, "f" * 64)
        for i in range(n)
    ]
    places = [Placement(v.version_id, s, "ok", v.created_at, None) for s in sites]
    return segs, places


def commit(catalog: object, bucket: str, key: str, size: int = 10) -> Version:
    v = version(bucket, key, size)
    segs, places = parts(v)
    catalog.commit_version(v, segs, places)  # type: ignore[attr-defined]
    return v
