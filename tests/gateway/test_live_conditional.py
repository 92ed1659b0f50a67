"""Conditional writes and repeated completions through a real gateway, with boto3 and raw
HTTP: ``If-None-Match: *`` and ``If-Match`` on PutObject and CompleteMultipartUpload (412
PreconditionFailed, 404 NoSuchKey, 501 for an ETag in If-None-Match), 16 clients racing to
create one key (exactly one wins, nothing of the losers stays on any site), and a
CompleteMultipartUpload retried after its answer was lost (200, the same ETag and body)."""

from __future__ import annotations

import hashlib
import os
import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError

from domicile.catalog import version_blobs
from tests.engine.conftest import blob_files
from tests.gateway.rawhttp import SITES, blobs, signed_request

#: Each test runs against a gateway on a SQLite and on a PostgreSQL catalog.
CATALOGS = ["sqlite", "postgresql"]

MIB = 1024 * 1024


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_if_none_match_star_creates_once_then_refuses(live: Any, bucket: str) -> None:
    s3 = live.client()
    first = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    before = blobs(live)
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="once", Body=b"second" * 1000, IfNoneMatch="*")
    assert code_of(refused) == ("PreconditionFailed", 412)
    got = s3.get_object(Bucket=bucket, Key="once")
    assert got["Body"].read() == b"first" and got["ETag"] == first["ETag"]
    assert blobs(live) == before  # the refused PUT left nothing on any site


def test_if_match_replaces_only_the_version_named(live: Any, bucket: str) -> None:
    s3 = live.client()
    first = s3.put_object(Bucket=bucket, Key="cas", Body=b"v1")
    second = s3.put_object(Bucket=bucket, Key="cas", Body=b"v2", IfMatch=first["ETag"])
    with pytest.raises(ClientError) as stale:  # v1's ETag is no longer current
        s3.put_object(Bucket=bucket, Key="cas", Body=b"v3", IfMatch=first["ETag"])
    assert code_of(stale) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v2"
    s3.put_object(Bucket=bucket, Key="cas", Body=b"v4", IfMatch=second["ETag"].strip('"'))
    assert s3.get_object(Bucket=bucket, Key="cas")["Body"].read() == b"v4"


def test_if_match_on_a_missing_key_is_no_such_key(live: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as missing:
        live.client().put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch='"abc"')
    assert code_of(missing) == ("NoSuchKey", 404)


def test_raw_http_conditional_put_status_code_and_headers(live: Any, bucket: str) -> None:
    path = f"/{bucket}/raw"
    made = signed_request(live.endpoint, "PUT", path, body=b"one", headers={"if-none-match": "*"})
    assert made.status == 200 and made.headers["etag"] == f'"{hashlib.md5(b"one").hexdigest()}"'
    again = signed_request(live.endpoint, "PUT", path, body=b"two", headers={"if-none-match": "*"})
    assert again.error() == ("PreconditionFailed", 412)
    wrong = signed_request(live.endpoint, "PUT", path, body=b"two", headers={"if-match": '"00"'})
    assert wrong.error() == ("PreconditionFailed", 412)
    # S3 takes only "*" in a write's If-None-Match
    etag = made.headers["etag"]
    other = signed_request(live.endpoint, "PUT", path, body=b"two", headers={"if-none-match": etag})
    assert other.error() == ("NotImplemented", 501)
    assert live.client().get_object(Bucket=bucket, Key="raw")["Body"].read() == b"one"


def test_sixteen_racing_creates_one_winner_nothing_of_the_losers(live: Any, bucket: str) -> None:
    """16 clients PUT one key with If-None-Match: * at once: one 200, fifteen 412, the
    object is the winner's bytes, and the sites hold the winner's blobs and nothing else."""
    before = blobs(live)
    bodies = [os.urandom(64 * 1024) + bytes([n]) for n in range(16)]
    clients = [live.client(max_pool_connections=2) for _ in range(16)]
    start = threading.Barrier(16)
    outcomes: list[tuple[int, Any]] = []
    lock = threading.Lock()

    def race(n: int) -> None:
        start.wait()
        try:
            answer = clients[n].put_object(
                Bucket=bucket, Key="contended", Body=bodies[n], IfNoneMatch="*"
            )
            result: Any = answer["ETag"]
        except ClientError as exc:
            result = (exc.response["Error"]["Code"], exc.response["ResponseMetadata"])
        with lock:
            outcomes.append((n, result))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(outcomes) == 16
    winners = [(n, etag) for n, etag in outcomes if isinstance(etag, str)]
    losers = [r for _, r in outcomes if not isinstance(r, str)]
    assert len(winners) == 1, outcomes
    assert [(code, meta["HTTPStatusCode"]) for code, meta in losers] == [
        ("PreconditionFailed", 412)
    ] * 15
    winner, etag = winners[0]
    got = live.client().get_object(Bucket=bucket, Key="contended")
    assert got["Body"].read() == bodies[winner] and got["ETag"] == etag
    # On the sites: exactly the winner's blobs, at once (no sweep needed).
    catalog = live.engine.context.catalog
    version = catalog.current_version(bucket, "contended")
    expected = set(version_blobs(version, catalog.segments(version.version_id)))
    held = {p.site_id for p in catalog.placements(version.version_id)}
    new = blobs(live) - before
    assert {p.name for p in new} == expected
    for site in SITES:
        names = {p.name for p in blob_files(live.root, site)} & {p.name for p in new}
        assert names == (expected if site in held else set()), site


def _upload(s3: Any, bucket: str, key: str, parts: list[bytes]) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    listed = []
    for number, data in enumerate(parts, 1):
        part = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        listed.append({"PartNumber": number, "ETag": part["ETag"]})
    return upload_id, listed


def test_complete_with_if_none_match_refused_when_the_key_exists(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="mp", Body=b"already here")
    upload_id, listed = _upload(s3, bucket, "mp", [b"a" * 5 * MIB, b"tail"])
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": listed},
            IfNoneMatch="*",
        )
    assert code_of(refused) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == b"already here"
    # the upload is still in progress: it can be completed without the condition
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [
        upload_id
    ]
    head = s3.head_object(Bucket=bucket, Key="mp")
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": listed},
        IfMatch=head["ETag"],
    )
    assert done["ETag"].endswith('-2"')
    assert s3.head_object(Bucket=bucket, Key="mp")["ContentLength"] == 5 * MIB + 4


def test_complete_with_if_match_on_a_missing_key_is_no_such_key(live: Any, bucket: str) -> None:
    s3 = live.client()
    upload_id, listed = _upload(s3, bucket, "gone", [b"only part"])
    with pytest.raises(ClientError) as missing:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="gone",
            UploadId=upload_id,
            MultipartUpload={"Parts": listed},
            IfMatch='"0123"',
        )
    assert code_of(missing) == ("NoSuchKey", 404)


def test_a_retried_completion_answers_as_the_first(live: Any, bucket: str) -> None:
    s3 = live.client()
    upload_id, listed = _upload(s3, bucket, "retried", [b"p" * 5 * MIB, b"q" * 100])
    body = (
        "<CompleteMultipartUpload>"
        + "".join(
            f"<Part><PartNumber>{p['PartNumber']}</PartNumber><ETag>{p['ETag']}</ETag></Part>"
            for p in listed
        )
        + "</CompleteMultipartUpload>"
    ).encode()
    path, query = f"/{bucket}/retried", [("uploadId", upload_id)]
    first = signed_request(live.endpoint, "POST", path, query, body=body)
    assert first.status == 200, first.body
    again = signed_request(live.endpoint, "POST", path, query, body=body)
    assert again.status == 200, again.body
    assert again.body == first.body  # the same ETag, Location, Bucket and Key
    blob_count = len(blobs(live))
    retried = s3.complete_multipart_upload(
        Bucket=bucket, Key="retried", UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    assert retried["ETag"] == s3.head_object(Bucket=bucket, Key="retried")["ETag"]
    assert len(blobs(live)) == blob_count  # a retry writes nothing
    with pytest.raises(ClientError) as other:  # other parts: as S3, NoSuchUpload
        s3.complete_multipart_upload(
            Bucket=bucket, Key="retried", UploadId=upload_id, MultipartUpload={"Parts": listed[:1]}
        )
    assert code_of(other) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError) as aborted:  # the upload itself is gone
        s3.abort_multipart_upload(Bucket=bucket, Key="retried", UploadId=upload_id)
    assert code_of(aborted) == ("NoSuchUpload", 404)


def test_copy_object_to_a_destination_is_conditional(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="src", Body=b"source")
    taken = s3.put_object(Bucket=bucket, Key="dst", Body=b"taken")
    source = {"Bucket": bucket, "Key": "src"}
    with pytest.raises(ClientError) as exists:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, IfNoneMatch="*")
    assert code_of(exists) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as stale:
        s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, IfMatch='"00"')
    assert code_of(stale) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"taken"
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=source, IfMatch=taken["ETag"])
    s3.copy_object(Bucket=bucket, Key="fresh", CopySource=source, IfNoneMatch="*")
    for key in ("dst", "fresh"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"source"
