"""Bad signatures against a real gateway: wrong secrets, unknown keys, skewed clocks,
anonymous requests, expired or altered presigned URLs, other tenants' buckets, unknown
methods. Each gets S3's error code and status as an S3 XML document, nothing is written,
and no secret reaches a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

from tests.gateway.live import OTHER_KEY, OTHER_SECRET
from tests.gateway.rawhttp import assert_no_secret, blobs, send, signed_request

WRONG_SECRET = "not-the-secret-of-acme"


@pytest.fixture(autouse=True)
def _no_secret_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="domicile")
    yield
    records = caplog.get_records("call")
    assert any(r.name == "domicile.gateway" for r in records)  # the capture works
    assert_no_secret(records, WRONG_SECRET)


@pytest.fixture
def obj(live: Any, bucket: str) -> str:
    """``/bucket/key`` of an object that exists."""
    live.client().put_object(Bucket=bucket, Key="held.txt", Body=b"held")
    return f"/{bucket}/held.txt"


def _get(live: Any, path: str, **signing: Any) -> Any:
    return signed_request(live.endpoint, "GET", path, **signing)


# --- header signatures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("signing", "code"),
    [
        ({"secret": WRONG_SECRET}, "SignatureDoesNotMatch"),
        ({"access_key": "AKIDNOBODYKNOWS00"}, "InvalidAccessKeyId"),
        ({"minutes": -20}, "RequestTimeTooSkewed"),
        ({"minutes": 20}, "RequestTimeTooSkewed"),
    ],
    ids=["wrong-secret", "unknown-key", "20-min-ago", "20-min-ahead"],
)
def test_bad_signatures_read_nothing(live: Any, obj: str, signing: Any, code: str) -> None:
    if "minutes" in signing:
        signing = {"when": datetime.now(UTC) + timedelta(minutes=signing.pop("minutes"))}
    answer = _get(live, obj, **signing)
    assert answer.error() == (code, 403)


@pytest.mark.parametrize(
    "signing",
    [
        {"secret": WRONG_SECRET},
        {"access_key": "AKIDNOBODYKNOWS00"},
        {"when": datetime.now(UTC) - timedelta(minutes=20)},
    ],
    ids=["wrong-secret", "unknown-key", "20-min-ago"],
)
def test_bad_signatures_write_nothing(live: Any, bucket: str, signing: Any) -> None:
    before = blobs(live)
    answer = signed_request(live.endpoint, "PUT", f"/{bucket}/new.txt", body=b"x" * 5000, **signing)
    assert answer.error()[1] == 403
    assert live.engine.list(bucket).objects == []
    assert blobs(live) == before


def test_boto3_with_a_wrong_secret_is_refused(live: Any, bucket: str) -> None:
    s3 = live.client(secret=WRONG_SECRET)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    err = exc.value.response
    assert err["Error"]["Code"] == "SignatureDoesNotMatch"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert live.engine.list(bucket).objects == []


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_anonymous_requests_are_denied(live: Any, obj: str, method: str) -> None:
    body = b"anonymous overwrite" if method == "PUT" else b""
    answer = send(live.endpoint, method, obj, body=body)
    assert answer.error() == ("AccessDenied", 403)
    bucket, key = obj[1:].split("/", 1)
    assert live.engine.get(bucket, key).read() == b"held"


# --- presigned URLs -------------------------------------------------------------------------


def _split(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.path, parts.query


def test_presigned_get_and_put_work(live: Any, bucket: str) -> None:
    s3 = live.client()
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "shared/report.csv"}, ExpiresIn=300
    )
    path, query = _split(put_url)
    put = send(live.endpoint, "PUT", path, query, body=b"a,b\n1,2\n")
    assert put.status == 200, put.body
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "shared/report.csv"}, ExpiresIn=300
    )
    got = send(live.endpoint, "GET", *_split(get_url))
    assert (got.status, got.body) == (200, b"a,b\n1,2\n")
    assert got.headers["etag"] == put.headers["etag"]


def test_an_expired_presigned_url_is_denied(live: Any, obj: str) -> None:
    bucket, key = obj[1:].split("/", 1)
    url = live.client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=1
    )
    with live.clock.later(seconds=2):  # the gateway's clock, not a sleep
        answer = send(live.endpoint, "GET", *_split(url))
    assert answer.error() == ("AccessDenied", 403)
    assert b"expired" in answer.body


@pytest.mark.parametrize(
    "tamper",
    [
        lambda path, query: (path.replace("held.txt", "other.txt"), query),
        lambda path, query: (path, query + "&response-content-type=text%2Fhtml"),
        lambda path, query: (path, query.replace("X-Amz-Expires=300", "X-Amz-Expires=600")),
    ],
    ids=["other-key", "added-parameter", "longer-expiry"],
)
def test_an_altered_presigned_url_does_not_match(live: Any, obj: str, tamper: Any) -> None:
    live.client().put_object(Bucket=obj.split("/")[1], Key="other.txt", Body=b"other")
    bucket, key = obj[1:].split("/", 1)
    url = live.client().generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    path, query = _split(url)
    assert "X-Amz-Expires=300" in query
    answer = send(live.endpoint, "GET", *tamper(path, query))
    assert answer.error() == ("SignatureDoesNotMatch", 403)


def test_a_presigned_put_to_another_key_writes_nothing(live: Any, bucket: str) -> None:
    url = live.client().generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "allowed.txt"}, ExpiresIn=300
    )
    path, query = _split(url)
    before = blobs(live)
    answer = send(live.endpoint, "PUT", path.replace("allowed", "chosen"), query, body=b"x" * 999)
    assert answer.error() == ("SignatureDoesNotMatch", 403)
    assert live.engine.list(bucket).objects == []
    assert blobs(live) == before


# --- who may do what ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "where", "body"),
    [
        ("GET", "key", b""),
        ("PUT", "key", b"globex was here"),
        ("DELETE", "key", b""),
        ("GET", "bucket", b""),
        ("DELETE", "bucket", b""),
    ],
)
def test_another_tenants_bucket_is_denied(
    live: Any, obj: str, method: str, where: str, body: bytes
) -> None:
    bucket, key = obj[1:].split("/", 1)
    path = obj if where == "key" else f"/{bucket}"
    answer = signed_request(
        live.endpoint, method, path, body=body, access_key=OTHER_KEY, secret=OTHER_SECRET
    )
    assert answer.error() == ("AccessDenied", 403)
    assert live.engine.get(bucket, key).read() == b"held"
    assert live.engine.bucket(bucket).tenant == "acme"


@pytest.mark.parametrize("where", ["key", "bucket"])
def test_an_unknown_method_is_not_allowed(live: Any, obj: str, where: str) -> None:
    path = obj if where == "key" else obj.rsplit("/", 1)[0]
    answer = signed_request(live.endpoint, "PATCH", path, body=b"patch")
    assert answer.error() == ("MethodNotAllowed", 405)
    bucket, key = obj[1:].split("/", 1)
    assert live.engine.get(bucket, key).read() == b"held"
