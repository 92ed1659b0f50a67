"""S3 additional checksums kept with the object, through a real gateway with boto3: stored
on PutObject, returned (and validated by botocore) on GetObject and HeadObject with
checksum mode, never for a range; carried or recomputed by CopyObject; per part and
composite for multipart uploads; and kept by rebuild-catalog."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from typing import Any

import google_crc32c
import pytest
from botocore.exceptions import ClientError, FlexibleChecksumError

from domicile.gateway.checksums import checksum_b64
from tests.gateway.rawhttp import signed_request

BODY = os.urandom(200_000)
MiB = 1024 * 1024


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


EXPECTED = {
    "SHA256": lambda d: _b64(hashlib.sha256(d).digest()),
    "SHA1": lambda d: _b64(hashlib.sha1(d).digest()),
    "CRC32": lambda d: _b64(zlib.crc32(d).to_bytes(4, "big")),
    "CRC32C": lambda d: _b64(google_crc32c.value(d).to_bytes(4, "big")),
}


@pytest.mark.parametrize("algorithm", ["SHA256", "CRC32", "SHA1"])
def test_put_then_get_and_head_return_the_checksum(live: Any, bucket: str, algorithm: str) -> None:
    s3 = live.client()
    put = s3.put_object(Bucket=bucket, Key="k", Body=BODY, ChecksumAlgorithm=algorithm)
    value = put[f"Checksum{algorithm}"]
    assert value == EXPECTED[algorithm](BODY)
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[f"Checksum{algorithm}"] == value and got["ChecksumType"] == "FULL_OBJECT"
    assert type(got["Body"]).__name__ == "StreamingChecksumBody"  # botocore validates it
    assert got["Body"].read() == BODY
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value and head["ChecksumType"] == "FULL_OBJECT"
    ranged = s3.get_object(Bucket=bucket, Key="k", Range="bytes=10-99", ChecksumMode="ENABLED")
    assert ranged["Body"].read() == BODY[10:100]
    assert not any(k.startswith("Checksum") for k in ranged)


def test_botocore_catches_a_checksum_that_does_not_match(live: Any, bucket: str) -> None:
    wrong = EXPECTED["SHA256"](b"other bytes")
    live.engine.put(bucket, "bad", BODY, checksums=lambda: {"SHA256": wrong})
    got = live.client().get_object(Bucket=bucket, Key="bad", ChecksumMode="ENABLED")
    with pytest.raises(FlexibleChecksumError):
        got["Body"].read()


def test_checksum_headers_only_with_checksum_mode(live: Any, bucket: str) -> None:
    live.client().put_object(Bucket=bucket, Key="m", Body=b"mode", ChecksumAlgorithm="SHA256")
    plain = signed_request(live.endpoint, "GET", f"/{bucket}/m")
    assert plain.status == 200 and "x-amz-checksum-sha256" not in plain.headers
    enabled = signed_request(
        live.endpoint, "HEAD", f"/{bucket}/m", headers={"x-amz-checksum-mode": "ENABLED"}
    )
    assert enabled.headers["x-amz-checksum-sha256"] == EXPECTED["SHA256"](b"mode")
    assert enabled.headers["x-amz-checksum-type"] == "FULL_OBJECT"


def test_crc32c_sent_by_hand_is_stored_and_returned(live: Any, bucket: str) -> None:
    value = EXPECTED["CRC32C"](BODY)
    put = signed_request(
        live.endpoint, "PUT", f"/{bucket}/c", headers={"x-amz-checksum-crc32c": value}, body=BODY
    )
    assert put.status == 200 and put.headers["x-amz-checksum-crc32c"] == value
    got = signed_request(
        live.endpoint, "GET", f"/{bucket}/c", headers={"x-amz-checksum-mode": "ENABLED"}
    )
    assert got.body == BODY and got.headers["x-amz-checksum-crc32c"] == value


def test_nothing_is_stored_when_the_client_sends_no_checksum(live: Any, bucket: str) -> None:
    s3 = live.client(request_checksum_calculation="when_required")
    s3.put_object(Bucket=bucket, Key="n", Body=b"no checksum")
    head = s3.head_object(Bucket=bucket, Key="n", ChecksumMode="ENABLED")
    assert not any(k.startswith("Checksum") for k in head)
    assert live.engine.head(bucket, "n").checksums == {}


def test_copy_carries_or_recomputes_the_checksum(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="src", Body=BODY, ChecksumAlgorithm="SHA256")
    source = {"Bucket": bucket, "Key": "src"}
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource=source)
    assert copied["CopyObjectResult"]["ChecksumSHA256"] == EXPECTED["SHA256"](BODY)
    head = s3.head_object(Bucket=bucket, Key="dst", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == EXPECTED["SHA256"](BODY)
    other = s3.copy_object(
        Bucket=bucket,
        Key="dst2",
        CopySource=source,
        ChecksumAlgorithm="SHA1",
        MetadataDirective="REPLACE",
    )
    assert other["CopyObjectResult"]["ChecksumSHA1"] == EXPECTED["SHA1"](BODY)
    head = s3.head_object(Bucket=bucket, Key="dst2", ChecksumMode="ENABLED")
    assert head["ChecksumSHA1"] == EXPECTED["SHA1"](BODY) and "ChecksumSHA256" not in head
    got = s3.get_object(Bucket=bucket, Key="dst2", ChecksumMode="ENABLED")
    assert got["Body"].read() == BODY  # validated by botocore


def _multipart(s3: Any, bucket: str, key: str, bodies: list[bytes]) -> tuple[str, list[Any]]:
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm="SHA256")
    assert upload["ChecksumAlgorithm"] == "SHA256"
    uid = upload["UploadId"]
    parts = []
    for n, body in enumerate(bodies, 1):
        sent = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=uid,
            PartNumber=n,
            Body=body,
            ChecksumAlgorithm="SHA256",
        )
        assert sent["ChecksumSHA256"] == EXPECTED["SHA256"](body)
        parts.append(
            {"PartNumber": n, "ETag": sent["ETag"], "ChecksumSHA256": sent["ChecksumSHA256"]}
        )
    return uid, parts


def test_multipart_with_sha256_parts_and_a_composite(live: Any, bucket: str) -> None:
    s3 = live.client()
    bodies = [os.urandom(5 * MiB), b"the last part"]
    uid, parts = _multipart(s3, bucket, "mp", bodies)
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=uid)
    assert [p["ChecksumSHA256"] for p in listed["Parts"]] == [p["ChecksumSHA256"] for p in parts]
    assert listed["ChecksumAlgorithm"] == "SHA256"
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    digests = b"".join(hashlib.sha256(b).digest() for b in bodies)
    composite = f"{EXPECTED['SHA256'](digests)}-2"
    assert done["ChecksumSHA256"] == composite
    head = s3.head_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == composite and head["ChecksumType"] == "COMPOSITE"
    got = s3.get_object(Bucket=bucket, Key="mp", ChecksumMode="ENABLED")
    assert got["ChecksumSHA256"] == composite and got["Body"].read() == b"".join(bodies)
    # A one-part copy of it gets a full-object SHA-256, not the parts' composite.
    s3.copy_object(Bucket=bucket, Key="mp-copy", CopySource={"Bucket": bucket, "Key": "mp"})
    head = s3.head_object(Bucket=bucket, Key="mp-copy", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == EXPECTED["SHA256"](b"".join(bodies))
    assert head["ChecksumType"] == "FULL_OBJECT"


def test_a_part_without_the_announced_checksum_is_refused(live: Any, bucket: str) -> None:
    s3 = live.client()
    uid = s3.create_multipart_upload(Bucket=bucket, Key="p", ChecksumAlgorithm="SHA256")["UploadId"]
    with pytest.raises(ClientError) as exc:  # botocore's default: a CRC32
        s3.upload_part(Bucket=bucket, Key="p", UploadId=uid, PartNumber=1, Body=b"x")
    assert _code(exc) == ("InvalidRequest", 400)
    bare = live.client(request_checksum_calculation="when_required")
    with pytest.raises(ClientError) as exc:
        bare.upload_part(Bucket=bucket, Key="p", UploadId=uid, PartNumber=1, Body=b"x")
    assert _code(exc) == ("InvalidRequest", 400)
    assert s3.list_parts(Bucket=bucket, Key="p", UploadId=uid).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="p", UploadId=uid)


def test_complete_with_a_wrong_part_checksum_is_invalid_part(live: Any, bucket: str) -> None:
    s3 = live.client()
    uid, parts = _multipart(s3, bucket, "w", [b"only part"])
    parts[0]["ChecksumSHA256"] = EXPECTED["SHA256"](b"something else")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="w", UploadId=uid, MultipartUpload={"Parts": parts}
        )
    assert _code(exc) == ("InvalidPart", 400)
    del parts[0]["ChecksumSHA256"]  # listing none is accepted; the stored ones are used
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="w", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    assert done["ChecksumSHA256"].endswith("-1")


def test_upload_part_copy_gets_the_uploads_checksum(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="source", Body=BODY)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="pc", ChecksumAlgorithm="CRC32")["UploadId"]
    copied = s3.upload_part_copy(
        Bucket=bucket,
        Key="pc",
        UploadId=uid,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange="bytes=0-999",
    )
    assert copied["CopyPartResult"]["ChecksumCRC32"] == EXPECTED["CRC32"](BODY[:1000])
    listed = s3.list_parts(Bucket=bucket, Key="pc", UploadId=uid)["Parts"]
    assert listed[0]["ChecksumCRC32"] == checksum_b64("CRC32", BODY[:1000])
    s3.abort_multipart_upload(Bucket=bucket, Key="pc", UploadId=uid)


def test_full_object_multipart_checksums_are_not_implemented(live: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        live.client().create_multipart_upload(
            Bucket=bucket, Key="f", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
        )
    assert _code(exc) == ("NotImplemented", 501)
