"""ListObjectVersions and ListBuckets pagination through a live gateway, with boto3 (its
paginators included) and raw HTTP: for buckets without versioning, one ``null`` version
per key, paginated as S3 does, and the "empty the bucket" loop that tools run."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError

from tests.gateway.rawhttp import signed_request

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _fill(s3: Any, bucket: str, keys: list[str]) -> None:
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_each_object_is_one_null_version_that_is_latest(live: Any, bucket: str) -> None:
    s3 = live.client()
    _fill(s3, bucket, ["a", "b/c", "b/d"])
    answer = s3.list_object_versions(Bucket=bucket)
    versions = answer["Versions"]
    assert [v["Key"] for v in versions] == ["a", "b/c", "b/d"]
    for v in versions:
        assert v["VersionId"] == "null" and v["IsLatest"] is True
        assert v["Size"] == len(v["Key"]) and v["StorageClass"] == "STANDARD"
        assert v["ETag"] == s3.head_object(Bucket=bucket, Key=v["Key"])["ETag"]
        assert v["Owner"]["ID"] == "acme"
    assert "DeleteMarkers" not in answer and answer["IsTruncated"] is False
    assert answer["Name"] == bucket and answer["MaxKeys"] == 1000


def test_prefix_delimiter_and_common_prefixes(live: Any, bucket: str) -> None:
    s3 = live.client()
    _fill(s3, bucket, ["a", "b/c", "b/d", "e/f/g", "top"])
    answer = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [v["Key"] for v in answer["Versions"]] == ["a", "top"]
    assert [p["Prefix"] for p in answer["CommonPrefixes"]] == ["b/", "e/"]
    under = s3.list_object_versions(Bucket=bucket, Prefix="b/")
    assert [v["Key"] for v in under["Versions"]] == ["b/c", "b/d"]
    assert under["Prefix"] == "b/"


def test_key_marker_pagination_in_raw_xml(live: Any, bucket: str) -> None:
    s3 = live.client()
    _fill(s3, bucket, ["k1", "k2", "k3", "p/x", "p/y"])
    path = f"/{bucket}"
    first = signed_request(live.endpoint, "GET", path, [("versions", ""), ("max-keys", "2")])
    assert first.status == 200, first.body
    root = ElementTree.fromstring(first.body)
    assert root.tag == f"{NS}ListVersionsResult"
    assert root.findtext(f"{NS}IsTruncated") == "true"
    assert root.findtext(f"{NS}NextKeyMarker") == "k2"
    assert root.findtext(f"{NS}NextVersionIdMarker") == "null"
    assert root.findtext(f"{NS}KeyMarker") == "" and root.findtext(f"{NS}MaxKeys") == "2"
    query = [
        ("versions", ""),
        ("max-keys", "2"),
        ("delimiter", "/"),
        ("key-marker", "k2"),
        ("version-id-marker", "null"),
    ]
    second = ElementTree.fromstring(signed_request(live.endpoint, "GET", path, query).body)
    keys = [v.findtext(f"{NS}Key") for v in second.iter(f"{NS}Version")]
    prefixes = [p.findtext(f"{NS}Prefix") for p in second.iter(f"{NS}CommonPrefixes")]
    assert (keys, prefixes) == (["k3"], ["p/"])
    assert second.findtext(f"{NS}VersionIdMarker") == "null"
    # The page ends with a common prefix: no version id marker for it.
    assert second.findtext(f"{NS}IsTruncated") == "false"
    rest = [("versions", ""), ("key-marker", "k3")]
    third = ElementTree.fromstring(signed_request(live.endpoint, "GET", path, rest).body)
    assert [v.findtext(f"{NS}Key") for v in third.iter(f"{NS}Version")] == ["p/x", "p/y"]


def test_a_page_cut_at_a_common_prefix_names_it_without_a_version(live: Any, bucket: str) -> None:
    s3 = live.client()
    _fill(s3, bucket, ["a", "d/1", "d/2", "z"])
    page = s3.list_object_versions(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert page["IsTruncated"] is True and page["NextKeyMarker"] == "d/"
    assert "NextVersionIdMarker" not in page
    rest = s3.list_object_versions(Bucket=bucket, Delimiter="/", KeyMarker="d/")
    assert [v["Key"] for v in rest["Versions"]] == ["z"]


def test_encoding_type_url(live: Any, bucket: str) -> None:
    s3 = live.client()
    _fill(s3, bucket, ["dir one/a b+c é"])
    query = [("versions", ""), ("encoding-type", "url"), ("prefix", "dir one/")]
    raw = signed_request(live.endpoint, "GET", f"/{bucket}", query)
    root = ElementTree.fromstring(raw.body)
    assert root.findtext(f"{NS}EncodingType") == "url"
    assert root.findtext(f"{NS}Prefix") == "dir+one/"
    assert root.findtext(f"{NS}Version/{NS}Key") == "dir+one/a+b%2Bc+%C3%A9"
    decoded = s3.list_object_versions(Bucket=bucket)  # botocore asks for url and decodes
    assert [v["Key"] for v in decoded["Versions"]] == ["dir one/a b+c é"]


def test_boto3_paginator_sees_every_key_once(live: Any, bucket: str) -> None:
    s3 = live.client()
    keys = [f"obj-{i:03d}" for i in range(23)]
    _fill(s3, bucket, keys)
    pages = list(
        s3.get_paginator("list_object_versions").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 5}
        )
    )
    assert len(pages) == 5
    assert [v["Key"] for p in pages for v in p.get("Versions", [])] == keys


def test_the_empty_the_bucket_loop(live: Any, bucket: str) -> None:
    """What cleanup tools do: page through the versions and delete each by VersionId."""
    s3 = live.client()
    _fill(s3, bucket, [f"x/{i}" for i in range(7)] + ["y"])
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 3}
    ):
        targets = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if targets:
            done = s3.delete_objects(Bucket=bucket, Delete={"Objects": targets})
            assert "Errors" not in done
            assert {(d["Key"], d["VersionId"]) for d in done["Deleted"]} == {
                (t["Key"], "null") for t in targets
            }
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)
    assert bucket not in {b.name for b in live.engine.list_buckets()}


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ([("version-id-marker", "null")], "without a key-marker"),
        ([("key-marker", "a"), ("version-id-marker", "3HL4kqtJlcpXroDTDmJ")], "version id"),
        ([("max-keys", "-1")], "max-keys"),
        ([("encoding-type", "base64")], "encoding-type"),
    ],
)
def test_bad_markers_are_refused(
    live: Any, bucket: str, query: list[tuple[str, str]], says: str
) -> None:
    answer = signed_request(live.endpoint, "GET", f"/{bucket}", [("versions", ""), *query])
    assert answer.error() == ("InvalidArgument", 400)
    assert says in answer.body.decode()


def test_another_tenants_versions_are_not_listed(live: Any, bucket: str) -> None:
    from tests.gateway.live import OTHER_KEY, OTHER_SECRET

    with pytest.raises(ClientError) as exc:
        live.client(OTHER_KEY, OTHER_SECRET).list_object_versions(Bucket=bucket)
    assert _code(exc) == ("AccessDenied", 403)


# --- ListBuckets pagination ---------------------------------------------------------------


def _make(s3: Any, *names: str) -> None:
    for name in names:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-only"})


def test_list_buckets_max_buckets_and_continuation(live: Any) -> None:
    s3 = live.client()
    _make(s3, "pg-c", "pg-a", "pg-b")
    first = s3.list_buckets(MaxBuckets=2, Prefix="pg-")
    assert [b["Name"] for b in first["Buckets"]] == ["pg-a", "pg-b"]
    assert first["Prefix"] == "pg-" and first["ContinuationToken"]
    second = s3.list_buckets(
        MaxBuckets=2, Prefix="pg-", ContinuationToken=first["ContinuationToken"]
    )
    assert [b["Name"] for b in second["Buckets"]] == ["pg-c"]
    assert "ContinuationToken" not in second
    assert second["Buckets"][0]["BucketRegion"] == "eu-only"
    pages = list(
        s3.get_paginator("list_buckets").paginate(Prefix="pg-", PaginationConfig={"PageSize": 1})
    )
    assert [b["Name"] for p in pages for b in p["Buckets"]] == ["pg-a", "pg-b", "pg-c"]
    everything = s3.list_buckets()
    assert "ContinuationToken" not in everything and "Prefix" not in everything
    assert {"pg-a", "pg-b", "pg-c"} <= {b["Name"] for b in everything["Buckets"]}


def test_list_buckets_filters_by_region_as_policy(live: Any) -> None:
    s3 = live.client()
    s3.create_bucket(Bucket="rg-fr", CreateBucketConfiguration={"LocationConstraint": "fr-only"})
    names = {b["Name"] for b in s3.list_buckets(BucketRegion="fr-only")["Buckets"]}
    assert "rg-fr" in names
    assert all(b.policy == "fr-only" for b in live.engine.list_buckets("acme") if b.name in names)


@pytest.mark.parametrize("value", ["0", "10001", "-3", "ten"])
def test_list_buckets_bad_max_buckets(live: Any, value: str) -> None:
    answer = signed_request(live.endpoint, "GET", "/", [("max-buckets", value)])
    assert answer.error() == ("InvalidArgument", 400)


def test_list_buckets_bad_token(live: Any) -> None:
    answer = signed_request(live.endpoint, "GET", "/", [("continuation-token", "%%%")])
    assert answer.error() == ("InvalidArgument", 400)
