"""The aws-chunked decoder: the AWS documentation's worked examples, botocore, mutations."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.errors import RequestRejected
from domicile.gateway.checksums import ChecksumSet, algorithm_for_header
from domicile.gateway.chunked import (
    ChunkedDecoder,
    aiter_decoded,
    chunk_signature,
    decoder_for,
    iter_decoded,
    trailer_signature,
)
from domicile.gateway.sigv4 import AuthResult, verify_request
from tests.examples import examples
from tests.gateway.conftest import TENANT, s3_client

# The worked examples of the AWS S3 API reference: "Signature Calculations for the
# Authorization Header: Transferring Payload in Multiple Chunks" and its trailer variant.
AWS_KEY = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_NOW = datetime(2013, 5, 24, tzinfo=UTC)
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
CHUNK_SIGS = (
    "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
    "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
    "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
)
TRAILER_SEED = "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
TRAILER_CHUNK_SIGS = (
    "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
    "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
    "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992",
)
TRAILER_SIG = "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"
PAYLOAD = b"a" * 66560
CHUNKS = (PAYLOAD[:65536], PAYLOAD[65536:], b"")


def _aws_headers(trailer: bool) -> list[tuple[str, str]]:
    signed = "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
    if trailer:
        signed += "x-amz-storage-class;x-amz-trailer"
        mode, seed = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", TRAILER_SEED
    else:
        signed = signed.replace("content-encoding;", "content-encoding;content-length;")
        signed += "x-amz-storage-class"
        mode, seed = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", SEED
    headers = [
        ("Host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={AWS_KEY}/20130524/us-east-1/s3/aws4_request,"
            f"SignedHeaders={signed},Signature={seed}",
        ),
        ("x-amz-content-sha256", mode),
        ("Content-Encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
    ]
    headers += [("x-amz-trailer", "x-amz-checksum-crc32c")] if trailer else []
    headers += [] if trailer else [("Content-Length", "66824")]
    return headers


def _aws_auth(trailer: bool = False) -> AuthResult:
    return verify_request(
        "PUT",
        "/examplebucket/chunkObject.txt",
        [],
        _aws_headers(trailer),
        AWS_NOW,
        lambda key: (AWS_SECRET, TENANT) if key == AWS_KEY else None,
    )


def _frame(chunks: Sequence[bytes], sigs: Sequence[str] | None) -> list[bytes]:
    out = []
    signatures: Sequence[str | None] = sigs or [None] * len(chunks)
    for chunk, sig in zip(chunks, signatures, strict=True):
        ext = f";chunk-signature={sig}" if sig else ""
        out.append(f"{len(chunk):x}{ext}\r\n".encode() + chunk + (b"\r\n" if chunk else b""))
    return out


def _aws_body() -> bytes:
    return b"".join(_frame(CHUNKS, CHUNK_SIGS)) + b"\r\n"


def _aws_trailer_body() -> bytes:
    trailers = f"x-amz-checksum-crc32c:sOO8/Q==\r\nx-amz-trailer-signature:{TRAILER_SIG}\r\n\r\n"
    return b"".join(_frame(CHUNKS, TRAILER_CHUNK_SIGS)) + trailers.encode()


def _decode(
    auth: AuthResult, headers: list[tuple[str, str]], body: bytes, step: int = 1000
) -> tuple[bytes, dict[str, str]]:
    decoder = decoder_for(auth, headers)
    pieces = [body[i : i + step] for i in range(0, len(body), step)]
    payload = b"".join(iter_decoded(decoder, pieces))
    return payload, decoder.trailers


def _code(auth: AuthResult, body: bytes, headers: list[tuple[str, str]] | None = None) -> str:
    with pytest.raises(RequestRejected) as info:
        _decode(auth, headers or _aws_headers(auth.payload_mode.trailer), body)
    return info.value.code


# --- the AWS worked examples ------------------------------------------------------------


def test_aws_example_seed_and_chunk_signatures() -> None:
    auth = _aws_auth()
    assert auth.seed_signature == SEED
    previous = SEED
    for chunk, expected in zip(CHUNKS, CHUNK_SIGS, strict=True):
        sig = chunk_signature(
            auth.signing_key, auth.amz_date, auth.scope, previous, hashlib.sha256(chunk).hexdigest()
        )
        assert sig == expected
        previous = sig


def test_aws_example_decodes() -> None:
    body = _aws_body()
    assert len(body) == 66824  # the example's Content-Length
    payload, trailers = _decode(_aws_auth(), _aws_headers(False), body)
    assert payload == PAYLOAD and trailers == {}


def test_aws_trailer_example_decodes_and_its_checksum_verifies() -> None:
    auth = _aws_auth(trailer=True)
    assert auth.seed_signature == TRAILER_SEED
    payload, trailers = _decode(auth, _aws_headers(True), _aws_trailer_body(), step=777)
    assert payload == PAYLOAD
    assert trailers == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    sums = ChecksumSet([algorithm_for_header(name) for name in trailers])
    sums.update(payload)
    assert sums.verify({"CRC32C": trailers["x-amz-checksum-crc32c"]}) == {"CRC32C": "sOO8/Q=="}


def test_trailer_signature_helper_matches_the_example() -> None:
    auth = _aws_auth(trailer=True)
    sig = trailer_signature(
        auth.signing_key,
        auth.amz_date,
        auth.scope,
        TRAILER_CHUNK_SIGS[-1],
        {"x-amz-checksum-crc32c": "sOO8/Q=="},
    )
    assert sig == TRAILER_SIG


def test_a_blank_line_between_final_chunk_and_trailers_is_tolerated() -> None:
    body = _aws_trailer_body().replace(b"\r\nx-amz-checksum", b"\r\n\r\nx-amz-checksum", 1)
    payload, trailers = _decode(_aws_auth(True), _aws_headers(True), body)
    assert payload == PAYLOAD and trailers


def test_the_final_empty_line_may_be_missing_at_the_end_of_the_stream() -> None:
    body = _aws_trailer_body()[:-2]
    assert _decode(_aws_auth(True), _aws_headers(True), body)[0] == PAYLOAD


@settings(max_examples=examples(30), deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=66824), max_size=12))
def test_any_split_of_the_body_decodes_the_same(cuts: list[int]) -> None:
    body = _aws_body()
    edges = [0, *sorted(cuts), len(body)]
    decoder = decoder_for(_aws_auth(), _aws_headers(False))
    out = b"".join(b"".join(decoder.feed(body[a:b])) for a, b in itertools.pairwise(edges))
    decoder.finish()
    assert out == PAYLOAD and decoder.done and decoder.chunks == 3


# --- mutations --------------------------------------------------------------------------


def test_a_flipped_byte_in_a_chunk() -> None:
    body = bytearray(_aws_body())
    body[5000] ^= 0x01
    assert _code(_aws_auth(), bytes(body)) == "SignatureDoesNotMatch"


def test_a_dropped_chunk() -> None:
    frames = _frame(CHUNKS, CHUNK_SIGS)
    body = frames[1] + frames[2] + b"\r\n"
    headers = [
        (n, "1024" if n == "x-amz-decoded-content-length" else v) for n, v in _aws_headers(False)
    ]
    assert _code(_aws_auth(), body, headers) == "SignatureDoesNotMatch"


def test_reordered_chunks() -> None:
    frames = _frame(CHUNKS, CHUNK_SIGS)
    assert (
        _code(_aws_auth(), frames[1] + frames[0] + frames[2] + b"\r\n") == "SignatureDoesNotMatch"
    )


def test_a_bad_final_chunk_signature() -> None:
    body = _aws_body().replace(CHUNK_SIGS[2].encode(), b"0" * 64)
    assert _code(_aws_auth(), body) == "SignatureDoesNotMatch"


def test_a_bad_trailer_value_or_signature() -> None:
    auth = _aws_auth(True)
    assert _code(auth, _aws_trailer_body().replace(b"sOO8", b"sOO9")) == "SignatureDoesNotMatch"
    body = _aws_trailer_body().replace(TRAILER_SIG.encode(), b"1" * 64)
    assert _code(auth, body) == "SignatureDoesNotMatch"
    no_sig = _aws_trailer_body().split(b"x-amz-trailer-signature")[0] + b"\r\n"
    assert _code(auth, no_sig) == "SignatureDoesNotMatch"


@pytest.mark.parametrize("cut", [10, 100, 65600, 66000, 66700, 66822])
def test_a_truncated_stream(cut: int) -> None:
    assert _code(_aws_auth(), _aws_body()[:cut]) in ("IncompleteBody",)


def test_an_oversized_header_line() -> None:
    body = b"1" * 5000 + b"\r\n"
    assert _code(_aws_auth(), body) == "InvalidRequest"
    decoder = ChunkedDecoder(_aws_auth(), decoded_length=None, max_line=100)
    with pytest.raises(RequestRejected, match="longer than 100"):
        decoder.feed(b"10000;chunk-signature=" + b"a" * 200)


@pytest.mark.parametrize(
    "body",
    [
        b"10000;chunk-signature=" + CHUNK_SIGS[0].encode() + b"\n",  # bare LF
        b"10000;chunk-signature=" + CHUNK_SIGS[0].encode() + b"\r\r\n",
        b"zz;chunk-signature=" + CHUNK_SIGS[0].encode() + b"\r\n",
        b"10000\r\n",  # unsigned chunk in a signed mode
        b" 10000;chunk-signature=" + CHUNK_SIGS[0].encode() + b"\r\n",
    ],
)
def test_malformed_framing(body: bytes) -> None:
    assert _code(_aws_auth(), body) == "InvalidRequest"


def test_a_chunk_longer_than_declared() -> None:
    frames = _frame(CHUNKS, CHUNK_SIGS)
    longer = frames[0] + b"xx" + frames[1] + frames[2]
    assert _code(_aws_auth(), longer) == "InvalidRequest"


def test_bytes_after_the_end() -> None:
    assert _code(_aws_auth(), _aws_body() + b"0\r\n") == "InvalidRequest"


def test_decoded_length_mismatch() -> None:
    for length in ("66559", "66561"):
        headers = [
            (n, length if n == "x-amz-decoded-content-length" else v)
            for n, v in _aws_headers(False)
        ]
        assert _code(_aws_auth(), _aws_body(), headers) == "IncompleteBody"
    missing = [(n, v) for n, v in _aws_headers(False) if n != "x-amz-decoded-content-length"]
    with pytest.raises(RequestRejected) as info:
        decoder_for(_aws_auth(), missing)
    assert info.value.code == "MissingContentLength"


def test_unannounced_or_missing_trailers() -> None:
    auth = _aws_auth(True)
    other = [
        (n, "x-amz-checksum-sha256" if n == "x-amz-trailer" else v) for n, v in _aws_headers(True)
    ]
    assert _code(auth, _aws_trailer_body(), other) == "MalformedTrailerError"
    no_trailer = [(n, v) for n, v in _aws_headers(True) if n != "x-amz-trailer"]
    with pytest.raises(RequestRejected) as info:
        decoder_for(auth, no_trailer)
    assert info.value.code == "InvalidRequest"
    with pytest.raises(RequestRejected) as info:
        decoder_for(_aws_auth(), [*_aws_headers(False), ("x-amz-trailer", "x-amz-checksum-crc32")])
    assert info.value.code == "InvalidRequest"


def test_a_mode_that_is_not_chunked_is_a_programming_error() -> None:
    auth = replace(_aws_auth(), payload_mode=_aws_auth().payload_mode.__class__.UNSIGNED)
    with pytest.raises(ValueError, match="not an aws-chunked mode"):
        ChunkedDecoder(auth, decoded_length=None)


# --- botocore's unsigned streaming with a trailing checksum -----------------------------


def test_botocore_unsigned_trailer_uploads_decode_and_verify(capture) -> None:  # type: ignore[no-untyped-def]
    client = s3_client("https://gw.test")
    seen = capture(client)
    data = bytes(range(256)) * 300
    client.put_object(Bucket="b", Key="k", Body=io.BytesIO(data), ChecksumAlgorithm="SHA256")
    client.upload_part(Bucket="b", Key="k", UploadId="u", PartNumber=1, Body=io.BytesIO(data))
    for req in seen.requests:
        auth = req.verify()
        assert auth.payload_mode.value == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        payload, trailers = _decode(auth, req.headers, req.body, step=4099)
        assert payload == data
        sums = ChecksumSet([algorithm_for_header(name) for name in trailers])
        sums.update(payload)
        sums.verify({algorithm_for_header(n): v for n, v in trailers.items()})
        bad = req.body.replace(b"\x00\x01\x02", b"\x00\x01\x03", 1)
        payload, trailers = _decode(auth, req.headers, bad)
        sums = ChecksumSet([algorithm_for_header(name) for name in trailers])
        sums.update(payload)
        with pytest.raises(RequestRejected) as info:
            sums.verify({algorithm_for_header(n): v for n, v in trailers.items()})
        assert info.value.code == "BadDigest"


def test_async_decoding() -> None:
    body = _aws_body()

    async def source() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 5000):
            yield body[i : i + 5000]

    async def run() -> bytes:
        decoder = decoder_for(_aws_auth(), _aws_headers(False))
        return b"".join([piece async for piece in aiter_decoded(decoder, source())])

    assert asyncio.run(run()) == PAYLOAD

    async def truncated() -> bytes:
        decoder = decoder_for(_aws_auth(), _aws_headers(False))

        async def short() -> AsyncIterator[bytes]:
            yield body[:1000]

        return b"".join([piece async for piece in aiter_decoded(decoder, short())])

    with pytest.raises(RequestRejected, match="ended early"):
        asyncio.run(truncated())
