"""Gateway protocol costs: SigV4 verification, aws-chunked decoding, checksums.

Each figure is printed with its ratio against a baseline measured in the same run:

- verify_request (header auth) against botocore signing the same request (client cost);
- decoding a signed aws-chunked body against hashing the same bytes with SHA-256 alone
  (the floor: every chunk signature needs the chunk's SHA-256);
- CRC32C (google-crc32c) and the other checksums against zlib's CRC32.

Run: .venv/bin/python bench/bench_sigv4.py
"""

from __future__ import annotations

import hashlib
import os
import time
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import urlsplit

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from domicile.gateway.canonical import parse_query
from domicile.gateway.checksums import new_checksum
from domicile.gateway.chunked import ChunkedDecoder, chunk_signature
from domicile.gateway.sigv4 import AuthResult, PayloadMode, verify_request

KEY, SECRET = "AKIDBENCH", "bench-secret"
MIB = 1 << 20


def _best(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _signed_request() -> AWSRequest:
    request = AWSRequest(
        "PUT",
        "http://gw.test:9000/bucket/dir/some%20key.bin?partNumber=3&uploadId=abc",
        headers={"Content-Type": "application/octet-stream", "x-amz-meta-owner": "acme"},
        data=b"payload",
    )
    S3SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(request)
    return request


def bench_verify(n: int = 5000) -> None:
    prepared = _signed_request().prepare()
    url = urlsplit(prepared.url)
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in prepared.headers.items()]
    headers.append(("Host", url.netloc))
    query = parse_query(url.query)
    now = datetime.now(UTC)

    def lookup(key: str) -> tuple[str, str] | None:
        return (SECRET, "t") if key == KEY else None

    def verify() -> None:
        for _ in range(n):
            verify_request("PUT", url.path, query, headers, now, lookup)

    def sign() -> None:
        for _ in range(n):
            _signed_request()

    ours, theirs = _best(verify, 3), _best(sign, 3)
    print(f"verify_request        {n / ours:>10,.0f} req/s")
    print(f"botocore signing      {n / theirs:>10,.0f} req/s   (baseline)")
    print(f"  ratio verify/sign   {theirs / ours:>10.2f} x faster than the client's signing")


def _signed_body(payload: bytes, auth: AuthResult, chunk: int) -> bytes:
    out, previous = bytearray(), auth.seed_signature
    pieces = [payload[i : i + chunk] for i in range(0, len(payload), chunk)] + [b""]
    for piece in pieces:
        digest = hashlib.sha256(piece).hexdigest()
        previous = chunk_signature(auth.signing_key, auth.amz_date, auth.scope, previous, digest)
        out += f"{len(piece):x};chunk-signature={previous}\r\n".encode() + piece
        out += b"\r\n" if piece else b""
    return bytes(out + b"\r\n")


def bench_chunked(size: int = 64 * MIB, chunk: int = 64 * 1024) -> None:
    auth = AuthResult(
        access_key=KEY,
        tenant="t",
        payload_mode=PayloadMode.STREAMING_SIGNED,
        seed_signature="0" * 64,
        signing_key=b"k" * 32,
        scope="20260101/us-east-1/s3/aws4_request",
        amz_date="20260101T000000Z",
    )
    payload = os.urandom(size)
    body = _signed_body(payload, auth, chunk)
    feeds = [body[i : i + 256 * 1024] for i in range(0, len(body), 256 * 1024)]

    def decode() -> None:
        decoder = ChunkedDecoder(auth, decoded_length=size)
        for piece in feeds:
            decoder.feed(piece)
        decoder.finish()

    ours, floor = _best(decode, 3), _best(lambda: hashlib.sha256(payload).digest(), 3)
    print(f"aws-chunked decode    {size / MIB / ours:>10,.0f} MiB/s  ({chunk // 1024} KiB chunks)")
    print(f"sha256 alone          {size / MIB / floor:>10,.0f} MiB/s  (baseline)")
    print(f"  ratio decode/sha256 {floor / ours:>10.2f}")


def bench_checksums(size: int = 64 * MIB) -> None:
    data = os.urandom(size)
    base = _best(lambda: zlib.crc32(data))
    print(f"zlib crc32            {size / MIB / base:>10,.0f} MiB/s  (baseline)")
    for name in ("CRC32", "CRC32C", "SHA1", "SHA256"):

        def run(name: str = name) -> None:
            checksum = new_checksum(name)
            for i in range(0, size, MIB):
                checksum.update(data[i : i + MIB])
            checksum.b64digest()

        took = _best(run)
        print(f"{name:<21} {size / MIB / took:>10,.0f} MiB/s  ratio {base / took:.2f}")


if __name__ == "__main__":
    bench_verify()
    bench_chunked()
    bench_checksums()
