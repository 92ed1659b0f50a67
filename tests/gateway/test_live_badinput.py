"""Bad XML and awkward names against a real gateway: malformed, hostile (DTDs, entities)
and oversized XML bodies are MalformedXML and change nothing; keys with unicode, spaces,
``%``, ``+``, ``//`` and 1,024 bytes round-trip exactly through boto3; ``.``/``..``
segments, control characters, overlong keys and paths that are not UTF-8 are refused."""

from __future__ import annotations

import base64
import hashlib
import logging
import time
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.exceptions import ClientError

from domicile.errors import BucketNotFound
from domicile.gateway.canonical import uri_encode
from tests.gateway.rawhttp import assert_no_secret, blobs, signed_request


@pytest.fixture(autouse=True)
def _no_secret_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="domicile")
    yield
    assert_no_secret(caplog.get_records("call"))


def _md5(body: bytes) -> dict[str, str]:
    return {"content-md5": base64.b64encode(hashlib.md5(body).digest()).decode()}


# --- XML bodies -----------------------------------------------------------------------------

LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
    + b"".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">\n'.encode()
        for i in range(1, 10)
    )
    + b"]>\n<{root}><Key>&lol9;</Key></{root}>"
)
XXE = b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<{root}>&x;</{root}>'

BAD_XML = {
    "truncated": b"<{root}><Object><Key>a</Key></Object>",
    "not-xml": b"this is not xml at all",
    "wrong-root": b"<Surprise><Key>a</Key></Surprise>",
    "billion-laughs": LAUGHS,
    "external-entity": XXE,
    "processing-instruction": b'<?xml-stylesheet href="x"?><{root}/>',
}


def _bad(name: str, root: str) -> bytes:
    return BAD_XML[name].replace(b"{root}", root.encode())


@pytest.mark.parametrize("name", sorted(BAD_XML))
def test_delete_objects_with_bad_xml_deletes_nothing(live: Any, bucket: str, name: str) -> None:
    live.client().put_object(Bucket=bucket, Key="a", Body=b"kept")
    body = _bad(name, "Delete")
    started = time.monotonic()
    answer = signed_request(live.endpoint, "POST", f"/{bucket}", [("delete", "")], _md5(body), body)
    assert answer.error() == ("MalformedXML", 400)
    assert time.monotonic() - started < 2
    assert live.engine.get(bucket, "a").read() == b"kept"


@pytest.mark.parametrize("name", sorted(BAD_XML))
def test_complete_upload_with_bad_xml_completes_nothing(live: Any, bucket: str, name: str) -> None:
    s3 = live.client()
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"part")
    body = _bad(name, "CompleteMultipartUpload")
    started = time.monotonic()
    answer = signed_request(
        live.endpoint, "POST", f"/{bucket}/mp", [("uploadId", upload)], body=body
    )
    assert answer.error() == ("MalformedXML", 400)
    assert time.monotonic() - started < 2
    assert live.engine.list(bucket).objects == []
    parts = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload)


@pytest.mark.parametrize("name", sorted(BAD_XML))
def test_create_bucket_with_bad_xml_creates_nothing(live: Any, name: str) -> None:
    bucket = f"bad-xml-{name}"
    body = _bad(name, "CreateBucketConfiguration")
    started = time.monotonic()
    answer = signed_request(live.endpoint, "PUT", f"/{bucket}", body=body)
    assert answer.error() == ("MalformedXML", 400)
    assert time.monotonic() - started < 2
    with pytest.raises(BucketNotFound):
        live.engine.bucket(bucket)


def test_delete_objects_of_1001_keys_deletes_nothing(live: Any, bucket: str) -> None:
    live.client().put_object(Bucket=bucket, Key="k0000", Body=b"kept")
    body = (
        b"<Delete>"
        + b"".join(f"<Object><Key>k{i:04d}</Key></Object>".encode() for i in range(1001))
        + b"</Delete>"
    )
    answer = signed_request(live.endpoint, "POST", f"/{bucket}", [("delete", "")], _md5(body), body)
    assert answer.error() == ("MalformedXML", 400)
    assert live.engine.get(bucket, "k0000").read() == b"kept"


# --- keys -----------------------------------------------------------------------------------

ROUND_TRIP = {
    "unicode": "résumé/漢字/😀 emoji.txt",
    "nfd": unicodedata.normalize("NFD", "résumé.txt"),
    "spaces": "  with  spaces  ",
    "percent": "100% sure %2F %zz.txt",
    "plus": "a+b=c&d.txt",
    "double-slash": "a//b///c",
    "leading-slash": "/leading",
    "trailing-slash": "folder/",
    "only-slash": "/",
    "query-like": "what?x=1#frag",
    "punctuation": "~!$'()*,;:@[]{}|^`\"<>\\",
    "dots-inside": "a..b/.hidden/c.",
    "1024-ascii": "k" * 1024,
    "1024-utf8": "é" * 512,
}


@pytest.mark.parametrize("key", ROUND_TRIP.values(), ids=ROUND_TRIP.keys())
def test_awkward_keys_round_trip(live: Any, bucket: str, key: str) -> None:
    s3 = live.client()
    body = key.encode() * 3
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    got = s3.get_object(Bucket=bucket, Key=key)
    with got["Body"] as stream:
        assert stream.read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
    assert [o.key for o in live.engine.list(bucket).objects] == [key]
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == [key]
    # S3 url-encodes listed keys as a form does (a space is "+"); botocore decodes so too.
    encoded = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix=key)
    assert [unquote_plus(o["Key"]) for o in encoded["Contents"]] == [key]
    v1 = s3.list_objects(Bucket=bucket, EncodingType="url", Marker="")["Contents"]
    assert [unquote_plus(o["Key"]) for o in v1] == [key]
    s3.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": key})
    assert live.engine.get(bucket, "copied").read() == body
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}, {"Key": "copied"}]})
    assert live.engine.list(bucket).objects == []


def test_composed_and_decomposed_accents_are_two_keys(live: Any, bucket: str) -> None:
    s3 = live.client()
    nfc, nfd = (unicodedata.normalize(form, "é.txt") for form in ("NFC", "NFD"))
    s3.put_object(Bucket=bucket, Key=nfc, Body=b"nfc")
    s3.put_object(Bucket=bucket, Key=nfd, Body=b"nfd")
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]) == sorted(
        [nfc, nfd]
    )
    assert live.engine.get(bucket, nfd).read() == b"nfd"


REFUSED = {
    "dot-dot": ("a/../b", "InvalidArgument"),
    "leading-dot-dot": ("../escape", "InvalidArgument"),
    "only-dot-dot": ("..", "InvalidArgument"),
    "dot": ("a/./b", "InvalidArgument"),
    "only-dot": (".", "InvalidArgument"),
    "trailing-dot-dot": ("a/..", "InvalidArgument"),
    "nul": ("nul\x00byte", "InvalidArgument"),
    "control": ("bell\x07", "InvalidArgument"),
    "newline": ("line\nbreak", "InvalidArgument"),
    "delete-char": ("del\x7f", "InvalidArgument"),
    "1025-ascii": ("k" * 1025, "KeyTooLongError"),
    "1026-utf8": ("é" * 513, "KeyTooLongError"),
}


@pytest.mark.parametrize(("key", "code"), REFUSED.values(), ids=REFUSED.keys())
def test_refused_keys_store_nothing(live: Any, bucket: str, key: str, code: str) -> None:
    before = blobs(live)
    path = f"/{bucket}/" + uri_encode(key, keep_slash=True)
    answer = signed_request(live.endpoint, "PUT", path, body=b"refused")
    assert answer.error() == (code, 400)
    assert live.engine.list(bucket).objects == []
    assert blobs(live) == before


def test_boto3_sends_dot_segments_as_they_are_and_gets_invalid_argument(
    live: Any, bucket: str
) -> None:
    with pytest.raises(ClientError) as exc:
        live.client().put_object(Bucket=bucket, Key="x/../../etc/passwd", Body=b"no")
    err = exc.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (
        "InvalidArgument",
        400,
    )
    assert live.engine.list(bucket).objects == []


@pytest.mark.parametrize("raw", ["%ff", "%c3", "%ed%a0%80", "ok/%80tail"])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_a_path_that_is_not_utf8_is_an_invalid_uri(
    live: Any, bucket: str, raw: str, method: str
) -> None:
    body = b"x" if method == "PUT" else b""
    answer = signed_request(live.endpoint, method, f"/{bucket}/{raw}", body=body)
    assert answer.error() == ("InvalidURI", 400)
    assert live.engine.list(bucket).objects == []


@pytest.mark.parametrize("source", ["{bucket}/%ff", "{bucket}/%c3", "{bucket}", "{bucket}/"])
def test_a_bad_copy_source_is_a_client_error(live: Any, bucket: str, source: str) -> None:
    answer = signed_request(
        live.endpoint,
        "PUT",
        f"/{bucket}/target",
        headers={"x-amz-copy-source": source.format(bucket=bucket)},
    )
    assert answer.error() == ("InvalidArgument", 400)
    assert live.engine.list(bucket).objects == []
