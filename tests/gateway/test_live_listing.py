"""Listings through a real gateway with boto3: V2 and V1, prefixes, delimiters, paging by
continuation token, start-after and marker, and url encoding of awkward keys."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

KEYS = sorted(
    [
        "a.txt",
        "docs/2026/q1.pdf",
        "docs/2026/q2.pdf",
        "docs/2027/q1.pdf",
        "docs/readme",
        "photos/été 2026/plage.jpg",
        "photos/été 2026/mer+ciel.jpg",
        "z%zz",
        "漢字/名前",
    ],
    key=lambda k: k.encode(),
)


@pytest.fixture(scope="module")
def listed(live: Any) -> str:
    s3 = live.client()
    name = "listing-bucket"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-only"})
    for key in KEYS:
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
    return name


def all_pages(s3: Any, method: str, **kwargs: Any) -> tuple[list[str], list[str], int]:
    keys: list[str] = []
    prefixes: list[str] = []
    pages = 0
    for page in s3.get_paginator(method).paginate(**kwargs):
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes, pages


@pytest.mark.parametrize(
    ("method", "encoding"),
    # Not V1 with url encoding: a paginator would pass an encoded key back as the marker,
    # which no S3 decodes (botocore decodes only when it chose the encoding itself).
    [("list_objects_v2", None), ("list_objects", None), ("list_objects_v2", "url")],
)
def test_paging_one_key_at_a_time_sees_every_key_once(
    live: Any, listed: str, method: str, encoding: str | None
) -> None:
    extra = {"EncodingType": encoding} if encoding else {}
    keys, _, pages = all_pages(
        live.client(), method, Bucket=listed, PaginationConfig={"PageSize": 2}, **extra
    )
    if encoding:  # asked for explicitly, the keys come back url-encoded, as on S3
        assert "photos/%C3%A9t%C3%A9+2026/mer%2Bciel.jpg" in keys
        keys = [unquote_plus(k) for k in keys]
    assert keys == KEYS
    assert pages == (len(KEYS) + 1) // 2


@pytest.mark.parametrize("method", ["list_objects_v2", "list_objects"])
def test_delimiter_rolls_up_common_prefixes(live: Any, listed: str, method: str) -> None:
    s3 = live.client()
    keys, prefixes, _ = all_pages(s3, method, Bucket=listed, Delimiter="/")
    assert keys == ["a.txt", "z%zz"]
    assert prefixes == ["docs/", "photos/", "漢字/"]
    keys, prefixes, _ = all_pages(s3, method, Bucket=listed, Prefix="docs/", Delimiter="/")
    assert keys == ["docs/readme"]
    assert prefixes == ["docs/2026/", "docs/2027/"]
    keys, prefixes, pages = all_pages(
        s3, method, Bucket=listed, Delimiter="/", PaginationConfig={"PageSize": 1}
    )
    assert (keys, prefixes, pages) == (["a.txt", "z%zz"], ["docs/", "photos/", "漢字/"], 5)


def test_start_after_and_max_keys(live: Any, listed: str) -> None:
    s3 = live.client()
    page = s3.list_objects_v2(Bucket=listed, StartAfter="docs/2026/q2.pdf", MaxKeys=2)
    assert [o["Key"] for o in page["Contents"]] == ["docs/2027/q1.pdf", "docs/readme"]
    assert (
        page["IsTruncated"] and page["KeyCount"] == 2 and page["StartAfter"] == "docs/2026/q2.pdf"
    )
    empty = s3.list_objects_v2(Bucket=listed, MaxKeys=0)
    assert "Contents" not in empty and empty["KeyCount"] == 0
    v1 = s3.list_objects(Bucket=listed, Marker="photos/", MaxKeys=1)
    assert [o["Key"] for o in v1["Contents"]] == ["photos/été 2026/mer+ciel.jpg"]
    assert v1["IsTruncated"]


def test_listing_entries_carry_size_etag_and_owner(live: Any, listed: str) -> None:
    page = live.client().list_objects_v2(Bucket=listed, Prefix="a.txt", FetchOwner=True)
    (entry,) = page["Contents"]
    assert entry["Size"] == len(b"a.txt")
    assert entry["ETag"].startswith('"') and len(entry["ETag"]) == 34
    assert entry["Owner"]["ID"] == "acme"


def test_bad_listing_arguments(live: Any, listed: str) -> None:
    s3 = live.client(parameter_validation=False)
    for kwargs in ({"MaxKeys": -1}, {"ContinuationToken": "%%%not-ours"}, {"EncodingType": "b64"}):
        with pytest.raises(ClientError) as exc:
            s3.list_objects_v2(Bucket=listed, **kwargs)
        assert exc.value.response["Error"]["Code"] == "InvalidArgument", kwargs
