"""Bodies that are not what their request says, against a real gateway: a wrong signed
hash, Content-MD5 or checksum, tampered aws-chunked signatures, wrong trailers, bodies
shorter or longer than declared, clients that disconnect mid-upload. Each is refused with
S3's code, no object becomes visible, and no blob outlives the orphan sweep."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import google_crc32c
import pytest
from botocore.exceptions import ClientError

from domicile.gateway.canonical import canonical_query
from tests.gateway.rawhttp import (
    Signed,
    answered,
    assert_no_secret,
    assert_nothing_left,
    blobs,
    host_of,
    request_head,
    send,
    send_cut,
    sign,
    signed_chunks,
    signed_request,
    signed_trailer,
    wait_answered,
)

MiB = 1024 * 1024
BODY = os.urandom(2 * MiB + 12345)  # more than two 1 MiB segments: some reach the sites
CHUNK = 256 * 1024


@pytest.fixture(autouse=True)
def _no_secret_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.DEBUG, logger="domicile")
    yield
    assert_no_secret(caplog.get_records("call"))


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def _put(live: Any, path: str, body: bytes, headers: dict[str, str], **kw: Any) -> Any:
    return signed_request(live.endpoint, "PUT", path, headers=headers, body=body, **kw)


# --- whole-body digests ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "payload", "code"),
    [
        ({}, hashlib.sha256(b"another body").hexdigest(), "XAmzContentSHA256Mismatch"),
        ({"content-md5": b64(hashlib.md5(b"another").digest())}, None, "BadDigest"),
        ({"content-md5": "not-an-md5"}, None, "InvalidDigest"),
        ({"x-amz-checksum-crc32": crc32(b"another body")}, None, "BadDigest"),
        ({"x-amz-checksum-sha256": b64(hashlib.sha256(b"x").digest())}, None, "BadDigest"),
        ({"x-amz-checksum-crc32c": "AAAAAA=="}, None, "BadDigest"),
        ({"x-amz-checksum-crc32": "not base64!"}, None, "InvalidDigest"),
    ],
    ids=["content-sha256", "content-md5", "bad-md5", "crc32", "sha256", "crc32c", "bad-crc32"],
)
def test_a_body_that_fails_its_digest_leaves_nothing(
    live: Any, bucket: str, headers: dict[str, str], payload: str | None, code: str
) -> None:
    before = blobs(live)
    answer = _put(live, f"/{bucket}/digest.bin", BODY, headers, payload=payload)
    assert answer.error() == (code, 400)
    assert_nothing_left(live, bucket, "digest.bin", before)


def test_a_body_matching_its_digests_is_stored_and_checksums_returned(
    live: Any, bucket: str
) -> None:
    headers = {
        "content-md5": b64(hashlib.md5(BODY).digest()),
        "x-amz-checksum-crc32": crc32(BODY),
    }
    answer = _put(live, f"/{bucket}/ok.bin", BODY, headers)
    assert answer.status == 200, answer.body
    assert answer.headers["x-amz-checksum-crc32"] == crc32(BODY)
    assert live.engine.get(bucket, "ok.bin").read() == BODY


@pytest.mark.parametrize(
    ("algorithm", "digest"),
    [("SHA256", b64(hashlib.sha256(BODY).digest())), ("CRC32", crc32(BODY))],
    ids=["SHA256", "CRC32"],  # the body is random: ids from it differ per process (xdist)
)
def test_boto3_checksums_are_verified_and_returned(
    live: Any, bucket: str, algorithm: str, digest: str
) -> None:
    # CRC32C needs botocore[crt], which is not installed: that one is sent by hand below.
    put = live.client().put_object(
        Bucket=bucket, Key="summed.bin", Body=BODY, ChecksumAlgorithm=algorithm
    )
    assert put[f"Checksum{algorithm}"] == digest
    assert live.engine.get(bucket, "summed.bin").read() == BODY


def test_a_crc32c_checksum_is_verified_and_returned(live: Any, bucket: str) -> None:
    digest = b64(google_crc32c.value(BODY).to_bytes(4, "big"))
    answer = _put(live, f"/{bucket}/crc32c.bin", BODY, {"x-amz-checksum-crc32c": digest})
    assert answer.status == 200, answer.body
    assert answer.headers["x-amz-checksum-crc32c"] == digest


# --- aws-chunked ----------------------------------------------------------------------------


def _streaming(live: Any, path: str, payload: bytes, mode: str, **extra: str) -> Signed:
    """The signature of a streaming upload (Content-Length, added on sending, unsigned)."""
    headers = {
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": str(len(payload)),
        **extra,
    }
    return sign("PUT", host_of(live.endpoint), path, (), headers, payload=mode)


def _pieces(payload: bytes) -> list[bytes]:
    return [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)]


def _signed_upload(live: Any, path: str, payload: bytes, tamper: str = "") -> Any:
    """A STREAMING-AWS4-HMAC-SHA256-PAYLOAD PUT, its third chunk tampered as asked."""
    signed = _streaming(live, path, payload, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
    frames = signed_chunks(signed, _pieces(payload))
    if tamper == "signature":
        head, _, rest = frames[2].partition(b"\r\n")
        frames[2] = head[:-1] + (b"0" if head[-1:] != b"0" else b"1") + b"\r\n" + rest
    elif tamper == "data":
        frames[2] = frames[2][:-3] + bytes([frames[2][-3] ^ 1]) + b"\r\n"
    elif tamper == "reordered":
        frames[1], frames[2] = frames[2], frames[1]
    return send(live.endpoint, "PUT", path, headers=signed.headers, body=b"".join(frames))


def test_signed_streaming_upload_with_good_chunk_signatures(live: Any, bucket: str) -> None:
    answer = _signed_upload(live, f"/{bucket}/streamed.bin", BODY)
    assert answer.status == 200, answer.body
    assert answer.headers["etag"] == f'"{hashlib.md5(BODY).hexdigest()}"'
    assert live.engine.get(bucket, "streamed.bin").read() == BODY


@pytest.mark.parametrize("tamper", ["signature", "data", "reordered"])
def test_a_tampered_chunk_leaves_nothing(live: Any, bucket: str, tamper: str) -> None:
    before = blobs(live)
    answer = _signed_upload(live, f"/{bucket}/tampered.bin", BODY, tamper)
    assert answer.error() == ("SignatureDoesNotMatch", 403)
    assert_nothing_left(live, bucket, "tampered.bin", before)


@pytest.mark.parametrize("good", [True, False], ids=["good-trailer-sig", "bad-trailer-sig"])
def test_signed_streaming_with_a_signed_trailer(live: Any, bucket: str, good: bool) -> None:
    path = f"/{bucket}/signed-trailer.bin"
    mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    signed = _streaming(live, path, BODY, mode, **{"x-amz-trailer": "x-amz-checksum-crc32"})
    frames = signed_chunks(signed, _pieces(BODY))
    last = frames[-1].partition(b";chunk-signature=")[2][:64].decode()
    frames[-1] = frames[-1][:-2]  # the trailers follow the final chunk's header line
    trailers = {"x-amz-checksum-crc32": crc32(BODY)}
    trailer = signed_trailer(signed, last if good else "f" * 64, trailers)
    before = blobs(live)
    answer = send(
        live.endpoint, "PUT", path, headers=signed.headers, body=b"".join(frames) + trailer
    )
    if good:
        assert answer.status == 200, answer.body
        assert answer.headers["x-amz-checksum-crc32"] == crc32(BODY)
        assert live.engine.get(bucket, "signed-trailer.bin").read() == BODY
    else:
        assert answer.error() == ("SignatureDoesNotMatch", 403)
        assert_nothing_left(live, bucket, "signed-trailer.bin", before)


def _unsigned_chunked(payload: bytes, checksum: str) -> bytes:
    body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in _pieces(payload))
    return body + f"0\r\nx-amz-checksum-crc32:{checksum}\r\n\r\n".encode()


@pytest.mark.parametrize("good", [True, False], ids=["good-crc32", "wrong-crc32"])
def test_unsigned_streaming_with_a_checksum_trailer(live: Any, bucket: str, good: bool) -> None:
    path = f"/{bucket}/trailer.bin"
    value = crc32(BODY) if good else crc32(BODY[:-1])
    body = _unsigned_chunked(BODY, value)
    mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    headers = _streaming(
        live, path, BODY, mode, **{"x-amz-trailer": "x-amz-checksum-crc32"}
    ).headers
    before = blobs(live)
    answer = send(live.endpoint, "PUT", path, headers=headers, body=body)
    if good:
        assert answer.status == 200, answer.body
        assert answer.headers["x-amz-checksum-crc32"] == value
        assert live.engine.get(bucket, "trailer.bin").read() == BODY
    else:
        assert answer.error() == ("BadDigest", 400)
        assert_nothing_left(live, bucket, "trailer.bin", before)


@pytest.mark.parametrize("declared", [len(BODY) - 1000, len(BODY) + 1000], ids=["less", "more"])
def test_a_decoded_length_that_is_not_the_payloads(live: Any, bucket: str, declared: int) -> None:
    path = f"/{bucket}/mislength.bin"
    body = _unsigned_chunked(BODY, crc32(BODY))
    extra = {"x-amz-trailer": "x-amz-checksum-crc32", "x-amz-decoded-content-length": str(declared)}
    mode = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    headers = _streaming(live, path, BODY, mode, **extra).headers
    before = blobs(live)
    answer = send(live.endpoint, "PUT", path, headers=headers, body=body)
    assert answer.error() == ("IncompleteBody", 400)
    assert_nothing_left(live, bucket, "mislength.bin", before)


# --- bodies cut short -----------------------------------------------------------------------


def _refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The S3 codes of the refusals the gateway logged during the test."""
    return [getattr(r, "code", "") for r in caplog.get_records("call") if r.msg == "refused"]


def _cut_put(
    live: Any,
    path: str,
    query: list[tuple[str, str]],
    size: int,
    sent: int,
    during: Callable[[], None] | None = None,
) -> None:
    """A signed PUT announcing ``size`` bytes whose client goes away after ``sent``."""
    signed = sign("PUT", host_of(live.endpoint), path, query, {"content-length": str(size)})
    target = path + (f"?{canonical_query(query)}" if query else "")
    head = request_head("PUT", target, signed.headers)
    before = answered(live.gateway)
    send_cut(live.endpoint, head, os.urandom(sent), during=during)
    wait_answered(live.gateway, before)


@pytest.mark.parametrize(
    ("size", "sent"), [(3 * MiB, 3 * MiB - 1), (20 * MiB, 5 * MiB)], ids=["short", "cut-at-5MiB"]
)
def test_a_put_whose_client_goes_away_leaves_nothing(
    live: Any, bucket: str, size: int, sent: int, caplog: pytest.LogCaptureFixture
) -> None:
    before = blobs(live)
    _cut_put(live, f"/{bucket}/cut.bin", [], size, sent)
    assert _refusals(caplog) == ["IncompleteBody"]
    assert_nothing_left(live, bucket, "cut.bin", before)
    assert live.engine.list(bucket).objects == []


def test_a_cut_overwrite_keeps_the_old_version_visible(
    live: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="doc.bin", Body=b"old version")
    before = blobs(live)

    def midway() -> None:
        time.sleep(0.2)  # let the gateway take in (and write out) what was sent
        assert live.engine.get(bucket, "doc.bin").read() == b"old version"
        assert [o.size for o in live.engine.list(bucket).objects] == [11]

    _cut_put(live, f"/{bucket}/doc.bin", [], 20 * MiB, 5 * MiB, during=midway)
    assert _refusals(caplog) == ["IncompleteBody"]
    got = s3.get_object(Bucket=bucket, Key="doc.bin")
    with got["Body"] as stream:
        assert stream.read() == b"old version"
    live.engine.sweep(grace=0)
    assert blobs(live) - before == set()


def test_an_upload_part_whose_client_goes_away_leaves_the_upload_without_it(
    live: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    s3 = live.client()
    before = blobs(live)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload, PartNumber=1, Body=BODY)
    query = [("partNumber", "2"), ("uploadId", upload)]
    _cut_put(live, f"/{bucket}/big.bin", query, 20 * MiB, 5 * MiB)
    assert _refusals(caplog) == ["IncompleteBody"]
    live.engine.sweep(grace=0)
    parts = s3.list_parts(Bucket=bucket, Key="big.bin", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [upload]
    s3.abort_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    assert_nothing_left(live, bucket, "big.bin", before)


def test_an_upload_part_failing_its_digest_is_not_kept(live: Any, bucket: str) -> None:
    s3 = live.client()
    before = blobs(live)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="part.bin")["UploadId"]
    answer = signed_request(
        live.endpoint,
        "PUT",
        f"/{bucket}/part.bin",
        [("partNumber", "1"), ("uploadId", upload)],
        body=BODY,
        payload=hashlib.sha256(b"other").hexdigest(),
    )
    assert answer.error() == ("XAmzContentSHA256Mismatch", 400)
    assert "Parts" not in s3.list_parts(Bucket=bucket, Key="part.bin", UploadId=upload)
    with pytest.raises(ClientError):
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="part.bin",
            UploadId=upload,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "0" * 32}]},
        )
    s3.abort_multipart_upload(Bucket=bucket, Key="part.bin", UploadId=upload)
    assert_nothing_left(live, bucket, "part.bin", before)


def _answer_then_close(endpoint: str, head: str) -> tuple[bytes, bool]:
    """Send only ``head`` (its body held back, as a client waiting for ``100 Continue``
    does); return the answer and whether the gateway then closed the connection."""
    parts = urlsplit(endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        data = b""
        try:
            while piece := sock.recv(65536):
                data += piece
        except TimeoutError:
            return data, False  # still open, waiting for the body it was promised
        return data, True


@pytest.mark.parametrize("signed", [False, True])
def test_a_request_refused_before_its_body_closes_the_connection(
    live: Any, bucket: str, signed: bool
) -> None:
    # Refused before any body byte is read (no signature; a part number out of range):
    # whatever follows on this connection may be the held-back body, never a request.
    path, query = f"/{bucket}/held", [("partNumber", "0"), ("uploadId", "x")]
    headers = {"host": host_of(live.endpoint), "content-length": "5", "expect": "100-continue"}
    if signed:
        headers = sign("PUT", host_of(live.endpoint), path, query, headers).headers
    head = request_head("PUT", f"{path}?{canonical_query(query)}", headers)
    data, closed = _answer_then_close(live.endpoint, head)
    status = data.split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 40"), data[:200]
    assert (b"InvalidArgument" if signed else b"AccessDenied") in data
    assert b"connection: close" in data.lower()
    assert closed
