"""Bucket versioning through a live gateway with boto3 (and raw HTTP where boto3 hides a
header): Put/GetBucketVersioning, version ids on every write, delete markers, reads,
copies and deletes by version id, DeleteObjects with VersionId, ListObjectVersions with
markers, and suspended buckets' null versions; status codes, headers and error codes as
AWS documents them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.rawhttp import signed_request

#: Each test runs on a SQLite and on a PostgreSQL catalog (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]

ENABLED = {"Status": "Enabled"}
SUSPENDED = {"Status": "Suspended"}


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def _headers(answer: dict[str, Any]) -> dict[str, str]:
    return dict(answer["ResponseMetadata"]["HTTPHeaders"])


def test_get_and_put_bucket_versioning(live: Any, bucket: str) -> None:
    s3 = live.client()
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    put = s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={**SUSPENDED, "MFADelete": "Disabled"}
    )
    answer = s3.get_bucket_versioning(Bucket=bucket)
    assert answer["Status"] == "Suspended" and "MFADelete" not in answer
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_versioning(
            Bucket=bucket,
            VersioningConfiguration={**ENABLED, "MFADelete": "Enabled"},
            MFA="123456 000000",
        )
    assert _code(exc) == ("NotImplemented", 501)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    events = [r for r in live.engine.audit.records() if r.action == "bucket_versioning"]
    assert [r.detail["status"] for r in events][-2:] == ["Enabled", "Suspended"]


def test_bad_versioning_bodies(live: Any, bucket: str) -> None:
    for body in (
        b"<VersioningConfiguration><Status>On</Status></VersioningConfiguration>",
        b"<Versioning><Status>Enabled</Status></Versioning>",
    ):
        answer = signed_request(live.endpoint, "PUT", f"/{bucket}", [("versioning", "")], {}, body)
        assert answer.error() == ("MalformedXML", 400)


def test_versions_and_reads_by_id(live: Any, bucket: str) -> None:
    s3 = live.client()
    plain = s3.put_object(Bucket=bucket, Key="k", Body=b"unversioned")
    assert "VersionId" not in plain  # never versioned: no x-amz-version-id
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    one = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    two = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert len({one, two, "null"}) == 3
    got = s3.get_object(Bucket=bucket, Key="k")
    assert (got["Body"].read(), got["VersionId"]) == (b"two", two)
    old = s3.get_object(Bucket=bucket, Key="k", VersionId=one)
    assert (old["Body"].read(), old["VersionId"]) == (b"one", one)
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"unversioned"
    assert s3.head_object(Bucket=bucket, Key="k", VersionId=one)["ContentLength"] == 3
    ranged = s3.get_object(Bucket=bucket, Key="k", VersionId=one, Range="bytes=1-1")
    assert ranged["Body"].read() == b"n"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId="0" * 32)
    assert _code(exc) == ("NoSuchVersion", 404)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="k", VersionId="not-a-version")
    assert _code(exc) == ("InvalidArgument", 400)
    listed = s3.list_object_versions(Bucket=bucket)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in listed] == [
        (two, True),
        (one, False),
        ("null", False),
    ]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]


def test_delete_markers(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker not in (kept, "null")
    # GET of the key: 404 NoSuchKey with the marker's headers
    answer = signed_request(live.endpoint, "GET", f"/{bucket}/k")
    assert answer.error() == ("NoSuchKey", 404)
    assert answer.headers.get("x-amz-delete-marker") == "true"
    assert answer.headers.get("x-amz-version-id") == marker
    head = signed_request(live.endpoint, "HEAD", f"/{bucket}/k")
    assert (head.status, head.headers.get("x-amz-delete-marker")) == (404, "true")
    assert head.headers.get("x-amz-version-id") == marker
    # GET / HEAD of the marker by id: 405 MethodNotAllowed, with Last-Modified
    for method in ("GET", "HEAD"):
        answer = signed_request(live.endpoint, method, f"/{bucket}/k", [("versionId", marker)])
        assert answer.status == 405
        assert answer.headers.get("x-amz-delete-marker") == "true"
        assert answer.headers.get("x-amz-version-id") == marker
        assert answer.headers.get("last-modified")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    listing = s3.list_object_versions(Bucket=bucket)
    [dm] = listing["DeleteMarkers"]
    assert (dm["Key"], dm["VersionId"], dm["IsLatest"]) == ("k", marker, True)
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [(kept, False)]
    # deleting the marker makes the previous version current again
    undone = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert (undone["DeleteMarker"], undone["VersionId"]) == (True, marker)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"kept"
    # a version deleted by id is gone for good; an unknown id deletes nothing, 204
    gone = s3.delete_object(Bucket=bucket, Key="k", VersionId=kept)
    assert gone["VersionId"] == kept and "DeleteMarker" not in gone
    again = s3.delete_object(Bucket=bucket, Key="k", VersionId=kept)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "Versions" not in s3.list_object_versions(Bucket=bucket)
    s3.delete_bucket(Bucket=bucket)


def test_copy_from_a_version(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    one = s3.put_object(Bucket=bucket, Key="src", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="src", Body=b"two")
    copied = s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": one}
    )
    assert copied["CopySourceVersionId"] == one
    assert copied["VersionId"] not in (one, "null")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"one"
    marker = s3.delete_object(Bucket=bucket, Key="src")["VersionId"]
    with pytest.raises(ClientError) as exc:  # the source's current version is a marker
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src"})
    assert _code(exc) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "src", "VersionId": marker}
        )
    assert _code(exc) == ("InvalidRequest", 400)


def test_multipart_completion_returns_its_version(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    first = s3.put_object(Bucket=bucket, Key="m", Body=b"first")["VersionId"]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="m", UploadId=upload, PartNumber=1, Body=b"multi")
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="m",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    assert done["VersionId"] not in (first, "null")
    versions = s3.list_object_versions(Bucket=bucket, Prefix="m")["Versions"]
    assert [v["VersionId"] for v in versions] == [done["VersionId"], first]


def test_delete_objects_with_version_ids(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    a1 = s3.put_object(Bucket=bucket, Key="a", Body=b"a1")["VersionId"]
    s3.put_object(Bucket=bucket, Key="a", Body=b"a2")
    s3.put_object(Bucket=bucket, Key="b", Body=b"b")
    done = s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [
                {"Key": "a", "VersionId": a1},
                {"Key": "b"},
                {"Key": "c", "VersionId": "bad"},
            ]
        },
    )
    deleted = {d["Key"]: d for d in done["Deleted"]}
    assert deleted["a"]["VersionId"] == a1 and "DeleteMarker" not in deleted["a"]
    assert deleted["b"]["DeleteMarker"] is True and deleted["b"]["DeleteMarkerVersionId"]
    [error] = done["Errors"]
    assert (error["Key"], error["Code"]) == ("c", "InvalidArgument")
    marker = deleted["b"]["DeleteMarkerVersionId"]
    undone = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "b", "VersionId": marker}]}
    )["Deleted"][0]
    assert (undone["DeleteMarker"], undone["DeleteMarkerVersionId"]) == (True, marker)
    assert s3.get_object(Bucket=bucket, Key="b")["Body"].read() == b"b"


def test_suspended_buckets_write_null_versions(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    real = s3.put_object(Bucket=bucket, Key="k", Body=b"real")["VersionId"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=SUSPENDED)
    put = s3.put_object(Bucket=bucket, Key="k", Body=b"null 1")
    assert put["VersionId"] == "null"
    s3.put_object(Bucket=bucket, Key="k", Body=b"null 2")  # replaces the null version
    assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == "null"
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert (deleted["DeleteMarker"], deleted["VersionId"]) == (True, "null")
    listing = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listing["Versions"]] == [real]
    assert [m["VersionId"] for m in listing["DeleteMarkers"]] == ["null"]


def test_list_object_versions_pages_through_versions(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    expected = []
    for key in ("a", "b/c", "b/d", "e"):
        made = [s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"] for _ in range(3)]
        expected += [(key, v) for v in reversed(made)]
    seen = []
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 4}
    ):
        seen += [(v["Key"], v["VersionId"]) for v in page.get("Versions", [])]
        assert len(page.get("Versions", [])) <= 4
    assert seen == expected
    first = s3.list_object_versions(Bucket=bucket, MaxKeys=2)
    assert first["IsTruncated"] and first["NextKeyMarker"] == "a"
    assert first["NextVersionIdMarker"] == expected[1][1]
    rolled = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in rolled["CommonPrefixes"]] == ["b/"]
    assert {v["Key"] for v in rolled["Versions"]} == {"a", "e"}


def test_object_subresources_take_the_version_id(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration=ENABLED)
    one = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    assert s3.get_object_acl(Bucket=bucket, Key="k", VersionId=one)["Grants"]
    with pytest.raises(ClientError) as exc:
        s3.get_object_acl(Bucket=bucket, Key="k", VersionId="0" * 32)
    assert _code(exc) == ("NoSuchVersion", 404)
    with pytest.raises(ClientError) as exc:
        s3.get_object_acl(Bucket=bucket, Key="k", VersionId="bogus")
    assert _code(exc) == ("InvalidArgument", 400)
