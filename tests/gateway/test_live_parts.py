"""Reads by part number, what a 304 carries, copy ranges past the source's end, and stored
headers coming back byte for byte: through a real gateway, with boto3 and raw HTTP."""

from __future__ import annotations

import os
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.rawhttp import signed_request

MIB = 1024 * 1024
PARTS = (os.urandom(5 * MIB), os.urandom(5 * MIB + 17), os.urandom(1234))


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def multipart(live: Any) -> tuple[str, str]:
    """A bucket holding ``mp``, made of :data:`PARTS`, and ``whole``, written at once."""
    s3 = live.client()
    bucket = "parts-bucket"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-only"})
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    listed = []
    for number, data in enumerate(PARTS, 1):
        etag = s3.upload_part(
            Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number, Body=data
        )["ETag"]
        listed.append({"PartNumber": number, "ETag": etag})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    s3.put_object(Bucket=bucket, Key="whole", Body=b"written at once")
    return bucket, "mp"


def test_get_and_head_of_each_part(live: Any, multipart: tuple[str, str]) -> None:
    bucket, key = multipart
    s3 = live.client()
    total = sum(len(p) for p in PARTS)
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    start = 0
    for number, data in enumerate(PARTS, 1):
        got = s3.get_object(Bucket=bucket, Key=key, PartNumber=number)
        assert got["Body"].read() == data
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["PartsCount"] == 3 and got["ETag"] == etag
        assert got["ContentRange"] == f"bytes {start}-{start + len(data) - 1}/{total}"
        assert got["ContentLength"] == len(data)
        head = s3.head_object(Bucket=bucket, Key=key, PartNumber=number)
        assert head["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert (head["PartsCount"], head["ContentLength"]) == (3, len(data))
        assert head["ContentRange"] == got["ContentRange"]
        start += len(data)
    whole = s3.head_object(Bucket=bucket, Key=key)  # no partNumber: no parts count
    assert "PartsCount" not in whole and whole["ContentLength"] == total


def test_part_one_of_an_object_written_at_once_is_all_of_it(
    live: Any, multipart: tuple[str, str]
) -> None:
    bucket, _ = multipart
    got = live.client().get_object(Bucket=bucket, Key="whole", PartNumber=1)
    assert got["Body"].read() == b"written at once"
    assert got["ContentRange"] == "bytes 0-14/15" and "PartsCount" not in got
    with pytest.raises(ClientError) as past:
        live.client().head_object(Bucket=bucket, Key="whole", PartNumber=2)
    assert past.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416


def test_part_refusals_status_code_and_headers(live: Any, multipart: tuple[str, str]) -> None:
    bucket, key = multipart
    path = f"/{bucket}/{key}"
    past = signed_request(live.endpoint, "GET", path, [("partNumber", "4")])
    assert past.error() == ("InvalidPartNumber", 416)
    both = signed_request(
        live.endpoint, "GET", path, [("partNumber", "1")], headers={"range": "bytes=0-9"}
    )
    assert both.error() == ("InvalidRequest", 400)
    for bad in ("0", "10001", "x", "-1"):
        answer = signed_request(live.endpoint, "GET", path, [("partNumber", bad)])
        assert answer.error() == ("InvalidArgument", 400), bad
    with pytest.raises(ClientError) as boto:
        live.client().get_object(Bucket=bucket, Key=key, PartNumber=9)
    assert code_of(boto) == ("InvalidPartNumber", 416)


def test_304_carries_etag_last_modified_and_caching_headers(live: Any, bucket: str) -> None:
    s3 = live.client()
    put = s3.put_object(
        Bucket=bucket,
        Key="cached",
        Body=b"x" * 100,
        CacheControl="max-age=600, public",
        Expires="Thu, 01 Dec 2044 16:00:00 GMT",
    )
    head = s3.head_object(Bucket=bucket, Key="cached")
    path = f"/{bucket}/cached"
    for method in ("GET", "HEAD"):
        for header, value in (
            ("if-none-match", put["ETag"]),
            ("if-modified-since", head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]),
        ):
            answer = signed_request(live.endpoint, method, path, headers={header: value})
            assert answer.status == 304, (method, header, answer.body)
            assert answer.body == b""
            assert answer.headers["etag"] == put["ETag"]
            assert (
                answer.headers["last-modified"]
                == head["ResponseMetadata"]["HTTPHeaders"]["last-modified"]
            )
            assert answer.headers["cache-control"] == "max-age=600, public"
            assert answer.headers["expires"] == "Thu, 01 Dec 2044 16:00:00 GMT"
            assert "x-amz-request-id" in answer.headers
    failed = signed_request(live.endpoint, "GET", path, headers={"if-match": '"nope"'})
    assert failed.error() == ("PreconditionFailed", 412)


def test_copy_source_range_past_the_end_is_refused(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    source = {"Bucket": bucket, "Key": "src"}

    def copy(span: str) -> Any:
        return s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=upload_id,
            PartNumber=1,
            CopySource=source,
            CopySourceRange=span,
        )

    for past in ("bytes=0-10", "bytes=5-99", "bytes=10-10"):
        with pytest.raises(ClientError) as refused:
            copy(past)
        assert code_of(refused) == ("InvalidRange", 416), past
    for malformed in ("bytes=0-", "bytes=-3", "bytes=5-2", "bytes 0-3", "0-3", "bytes=a-b"):
        with pytest.raises(ClientError) as refused:
            copy(malformed)
        assert code_of(refused) == ("InvalidArgument", 400), malformed
    done = copy("bytes=2-9")
    etag = done["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="dst",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"23456789"
    raw = signed_request(
        live.endpoint,
        "PUT",
        f"/{bucket}/dst2",
        [
            ("partNumber", "1"),
            ("uploadId", s3.create_multipart_upload(Bucket=bucket, Key="dst2")["UploadId"]),
        ],
        headers={"x-amz-copy-source": f"/{bucket}/src", "x-amz-copy-source-range": "bytes=0-10"},
    )
    assert raw.error() == ("InvalidRange", 416)


def test_copy_object_checks_a_copy_source_range(live: Any, bucket: str) -> None:
    """CopyObject copies whole objects: a range past the end is InvalidRange, a malformed
    one InvalidArgument, one naming part of the source NotImplemented (never a whole copy
    made silently), one naming all of it is a copy."""
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    path = f"/{bucket}/copy"

    def copy(span: str) -> Any:
        headers = {"x-amz-copy-source": f"/{bucket}/src", "x-amz-copy-source-range": span}
        return signed_request(live.endpoint, "PUT", path, headers=headers)

    assert copy("bytes=0-10").error() == ("InvalidRange", 416)
    assert copy("bytes=0-").error() == ("InvalidArgument", 400)
    assert copy("bytes=2-5").error() == ("NotImplemented", 501)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="copy")
    assert copy("bytes=0-9").status == 200
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == b"0123456789"


STORED = {
    "content-encoding": "deflate, gzip",
    "content-disposition": 'attachment;  filename="a, b.txt"',
    "cache-control": "no-cache,  max-age=0 , private",
    "content-language": "de-CH, en;q=0.5",
    "expires": "Wed, 21 Oct 2043 07:28:00 GMT",
    "x-amz-meta-list": "one, two,three",
    "x-amz-meta-spaced": "a  b   c",
}


def test_stored_headers_come_back_byte_for_byte(live: Any, bucket: str) -> None:
    path = f"/{bucket}/headers"
    made = signed_request(live.endpoint, "PUT", path, headers=STORED, body=b"payload")
    assert made.status == 200, made.body
    for method in ("GET", "HEAD"):
        answer = signed_request(live.endpoint, method, path)
        assert answer.status == 200
        for name, value in STORED.items():
            assert answer.headers[name] == value, (method, name)
    got = live.client().get_object(Bucket=bucket, Key="headers")
    assert got["ContentEncoding"] == "deflate, gzip"
    assert got["ContentLanguage"] == "de-CH, en;q=0.5"
    assert got["Metadata"] == {"list": "one, two,three", "spaced": "a  b   c"}


def test_aws_chunked_alone_is_taken_out_of_content_encoding(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(
        Bucket=bucket, Key="boto", Body=b"z", ContentEncoding="gzip", ContentLanguage="fr"
    )
    got = s3.head_object(Bucket=bucket, Key="boto")
    assert got["ContentEncoding"] == "gzip" and got["ContentLanguage"] == "fr"
    info = live.engine.head(bucket, "boto")
    assert info.meta.content_encoding == "gzip"


def test_content_language_survives_multipart_and_copy(live: Any, bucket: str) -> None:
    s3 = live.client()
    upload_id = s3.create_multipart_upload(
        Bucket=bucket, Key="mp-lang", ContentLanguage="it, fr", ContentEncoding="br, gzip"
    )["UploadId"]
    etag = s3.upload_part(
        Bucket=bucket, Key="mp-lang", UploadId=upload_id, PartNumber=1, Body=b"ciao"
    )["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp-lang",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "mp-lang"})
    for key in ("mp-lang", "copied"):
        head = s3.head_object(Bucket=bucket, Key=key)
        assert (head["ContentLanguage"], head["ContentEncoding"]) == ("it, fr", "br, gzip"), key
