"""Object operations through a real gateway with boto3: metadata, ETags, ranges,
preconditions, response overrides, deletes, copies, and residency of what lands on disk."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.engine.conftest import blob_files

#: Each test runs against a gateway on a SQLite and on a PostgreSQL catalog.
CATALOGS = ["sqlite", "postgresql"]

BODY = os.urandom(300_000)  # five STREAM chunks, not a multiple of 64 KiB


def fetch(s3: Any, **kwargs: Any) -> dict[str, Any]:
    """GetObject with its body read (an unread body would hold its connection)."""
    answer = dict(s3.get_object(**kwargs))
    answer["Data"] = answer.pop("Body").read()
    return answer


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_put_get_head_keep_body_metadata_and_md5_etag(live: Any, bucket: str) -> None:
    s3 = live.client()
    put = s3.put_object(
        Bucket=bucket,
        Key="reports/q3.pdf",
        Body=BODY,
        ContentType="application/pdf",
        ContentDisposition='attachment; filename="q3.pdf"',
        CacheControl="max-age=60",
        ContentEncoding="identity",
        Metadata={"owner": "board", "case-id": "4711"},
    )
    md5 = hashlib.md5(BODY).hexdigest()
    assert put["ETag"] == f'"{md5}"'
    got = s3.get_object(Bucket=bucket, Key="reports/q3.pdf")
    assert got["Body"].read() == BODY
    assert got["ETag"] == f'"{md5}"'
    assert got["ContentLength"] == len(BODY)
    assert got["ContentType"] == "application/pdf"
    assert got["ContentDisposition"] == 'attachment; filename="q3.pdf"'
    assert got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"owner": "board", "case-id": "4711"}
    head = s3.head_object(Bucket=bucket, Key="reports/q3.pdf")
    assert head["ContentLength"] == len(BODY) and head["ETag"] == f'"{md5}"'
    assert abs(head["LastModified"] - datetime.now(UTC)) < timedelta(minutes=1)


def test_copies_rest_only_on_allowed_sites_and_only_as_ciphertext(live: Any, bucket: str) -> None:
    marker = b"PLAINTEXT-MARKER-" + os.urandom(8).hex().encode()
    live.client().put_object(Bucket=bucket, Key="secret.txt", Body=marker * 5000)
    sites = {c.site_id for c in live.engine.where(bucket, "secret.txt")}
    assert sites == {"fr", "de"}
    assert blob_files(live.root, "us") == [] and blob_files(live.root, "ch") == []
    for site in ("fr", "de"):
        for path in blob_files(live.root, site):
            data = path.read_bytes()
            assert marker not in data and b"secret.txt" not in data
            assert data.startswith(b"age-encryption.org/v1\n")


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-0", 0, 1),
        ("bytes=65530-65545", 65530, 65546),  # across a STREAM chunk edge
        ("bytes=299990-", 299_990, 300_000),  # open-ended
        ("bytes=-10", 299_990, 300_000),  # suffix
        ("bytes=-400000", 0, 300_000),  # suffix longer than the object
        ("bytes=299000-999999", 299_000, 300_000),  # end past the object
    ],
)
def test_ranges(live: Any, bucket: str, header: str, start: int, end: int) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="r", Body=BODY)
    got = s3.get_object(Bucket=bucket, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == BODY[start:end]
    assert got["ContentRange"] == f"bytes {start}-{end - 1}/{len(BODY)}"


def test_unsatisfiable_range_is_416_and_a_malformed_one_ignored(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=10-20")
    assert code_of(exc) == ("InvalidRange", 416)
    whole = s3.get_object(Bucket=bucket, Key="r", Range="lines=1-2")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert whole["Body"].read() == b"0123456789"


def test_preconditions(live: Any, bucket: str) -> None:
    s3 = live.client()
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    before, after = modified - timedelta(hours=1), modified + timedelta(hours=1)
    assert fetch(s3, Bucket=bucket, Key="c", IfMatch=etag)["Data"] == b"conditional"
    assert fetch(s3, Bucket=bucket, Key="c", IfModifiedSince=before)["ETag"] == etag
    assert fetch(s3, Bucket=bucket, Key="c", IfUnmodifiedSince=after)["ETag"] == etag
    for kwargs, expected in (
        ({"IfMatch": '"0123"'}, ("PreconditionFailed", 412)),
        ({"IfUnmodifiedSince": before}, ("PreconditionFailed", 412)),
        ({"IfNoneMatch": etag}, ("304", 304)),
        ({"IfModifiedSince": after}, ("304", 304)),
    ):
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="c", **kwargs)
        assert code_of(exc) == expected, kwargs
    # S3's order: a true If-Match wins over a false If-Unmodified-Since.
    both = fetch(s3, Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=before)
    assert both["ETag"] == etag


def test_response_overrides(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="o", Body=b"x", ContentType="text/plain")
    got = fetch(
        s3,
        Bucket=bucket,
        Key="o",
        ResponseContentType="application/json",
        ResponseContentDisposition="inline",
        ResponseCacheControl="no-store",
    )
    assert got["ContentType"] == "application/json"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "no-store"


def test_delete_is_idempotent_and_missing_keys_are_404(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="d", Body=b"gone soon")
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="d")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="d")
    assert code_of(exc) == ("NoSuchKey", 404)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="d")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("quiet", [False, True])
def test_delete_objects_up_to_a_thousand(live: Any, bucket: str, quiet: bool) -> None:
    s3 = live.client()
    keys = [f"many/{i:04d}" for i in range(1000)]
    for key in keys[:20]:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    answer = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": quiet}
    )
    assert answer.get("Errors", []) == []
    assert len(answer.get("Deleted", [])) == (0 if quiet else 1000)
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_copy_keeps_or_replaces_metadata(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="src", Body=BODY, ContentType="text/csv", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="kept", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(BODY).hexdigest()}"'
    kept = s3.get_object(Bucket=bucket, Key="kept")
    assert kept["Body"].read() == BODY
    assert (kept["ContentType"], kept["Metadata"]) == ("text/csv", {"a": "1"})
    s3.copy_object(
        Bucket=bucket,
        Key="replaced",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        ContentType="text/plain",
        Metadata={"b": "2"},
    )
    replaced = s3.head_object(Bucket=bucket, Key="replaced")
    assert (replaced["ContentType"], replaced["Metadata"]) == ("text/plain", {"b": "2"})
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"})
    assert code_of(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(
            Bucket=bucket,
            Key="x",
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceIfMatch='"no"',
        )
    assert code_of(exc) == ("PreconditionFailed", 412)


def test_copy_into_another_policy_is_placed_under_the_target_policy(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.create_bucket(
        Bucket="fr-target", CreateBucketConfiguration={"LocationConstraint": "fr-only"}
    )
    s3.put_object(Bucket=bucket, Key="doc", Body=BODY)
    s3.copy_object(Bucket="fr-target", Key="doc", CopySource={"Bucket": bucket, "Key": "doc"})
    assert {c.site_id for c in live.engine.where("fr-target", "doc")} == {"fr"}
    assert {c.site_id for c in live.engine.where(bucket, "doc")} == {"fr", "de"}
    assert s3.get_object(Bucket="fr-target", Key="doc")["Body"].read() == BODY


def test_empty_object(live: Any, bucket: str) -> None:
    s3 = live.client()
    put = s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert put["ETag"] == f'"{hashlib.md5(b"").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="empty")
    assert got["Body"].read() == b"" and got["ContentLength"] == 0


def test_audit_records_name_the_tenant_and_access_key(live: Any, bucket: str) -> None:
    from tests.gateway.live import ACCESS_KEY, OTHER_KEY, OTHER_SECRET

    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="audited", Body=b"who did this")
    s3.copy_object(Bucket=bucket, Key="audited-copy", CopySource=f"{bucket}/audited")
    s3.delete_object(Bucket=bucket, Key="audited")
    other = live.client(OTHER_KEY, OTHER_SECRET)
    other.create_bucket(
        Bucket="globex-audit", CreateBucketConfiguration={"LocationConstraint": "fr-only"}
    )
    mine = [
        r
        for r in live.engine.audit.records()
        if r.bucket == bucket and r.key and r.key.startswith("audited")
    ]
    assert [(r.action, r.actor) for r in mine] == [
        ("put", f"acme:{ACCESS_KEY}"),
        ("copy", f"acme:{ACCESS_KEY}"),
        ("delete", f"acme:{ACCESS_KEY}"),
    ]
    created = [
        r
        for r in live.engine.audit.records()
        if r.action == "bucket_create" and r.bucket == "globex-audit"
    ]
    assert [r.actor for r in created] == [f"globex:{OTHER_KEY}"]
