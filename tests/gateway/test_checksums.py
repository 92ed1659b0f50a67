"""S3 checksums: known answers, botocore's own encoders, verification errors."""

from __future__ import annotations

import base64

import pytest
from botocore.httpchecksum import Crc32Checksum, Sha1Checksum, Sha256Checksum
from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.errors import RequestRejected
from domicile.gateway.checksums import (
    ALGORITHMS,
    HEADERS,
    ChecksumSet,
    algorithm_for_header,
    check_encoded,
    checksum_b64,
    expected_from_headers,
    new_checksum,
)
from tests.examples import examples

CHECK = b"123456789"  # the CRC catalogue's check input
BOTOCORE = {"CRC32": Crc32Checksum, "SHA1": Sha1Checksum, "SHA256": Sha256Checksum}


def _b64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode()


def test_known_answers() -> None:
    assert checksum_b64("CRC32", CHECK) == _b64("cbf43926")
    assert checksum_b64("crc32c", CHECK) == _b64("e3069283")  # RFC 3720 / CRC-32C check value
    assert checksum_b64("SHA1", b"abc") == _b64("a9993e364706816aba3e25717850c26c9cd0d89d")
    assert checksum_b64("SHA256", b"") == _b64(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    # The AWS chunked-upload trailer example: 66560 'a' bytes.
    assert checksum_b64("CRC32C", b"a" * 66560) == "sOO8/Q=="


@settings(max_examples=examples(60), deadline=None)
@given(data=st.binary(max_size=3000), cut=st.integers(min_value=0, max_value=3000))
def test_incremental_and_equal_to_botocore(data: bytes, cut: int) -> None:
    for name in ALGORITHMS:
        checksum = new_checksum(name)
        checksum.update(data[:cut])
        checksum.update(memoryview(data)[cut:])
        assert checksum.b64digest() == checksum_b64(name, data)
        if name in BOTOCORE:
            theirs = BOTOCORE[name]()
            theirs.update(data)
            assert checksum.b64digest() == theirs.b64digest()


def test_checksum_set_verifies_and_returns_results() -> None:
    sums = ChecksumSet(["crc32", "SHA256", "CRC32"])
    assert sums.algorithms == ("CRC32", "SHA256")
    sums.update(b"hello ")
    sums.update(bytearray(b"world"))
    expected = {"CRC32": checksum_b64("CRC32", b"hello world")}
    assert sums.verify(expected) == {
        "CRC32": expected["CRC32"],
        "SHA256": checksum_b64("SHA256", b"hello world"),
    }


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(RequestRejected) as info:
        call()
    return info.value.code


def test_verification_errors() -> None:
    sums = ChecksumSet(["CRC32"])
    sums.update(b"data")
    assert _code(lambda: sums.verify({"CRC32": checksum_b64("CRC32", b"dat4")})) == "BadDigest"
    assert _code(lambda: sums.verify({"CRC32": "not base64!"})) == "InvalidDigest"
    assert _code(lambda: sums.verify({"CRC32": _b64("00")})) == "InvalidDigest"  # wrong size
    assert _code(lambda: sums.verify({"SHA1": checksum_b64("SHA1", b"data")})) == "InvalidRequest"
    assert _code(lambda: new_checksum("CRC64NVME")) == "NotImplemented"
    assert _code(lambda: new_checksum("MD4")) == "InvalidRequest"
    assert _code(lambda: algorithm_for_header("x-amz-checksum-crc64nvme")) == "NotImplemented"


def test_header_names_and_values() -> None:
    assert {algorithm_for_header(h.upper()) for h in HEADERS.values()} == set(ALGORITHMS)
    value = checksum_b64("SHA1", b"x")
    headers = [
        ("Content-Type", "text/plain"),
        ("X-Amz-Checksum-SHA1", f" {value} "),
        ("x-amz-checksum-type", "FULL_OBJECT"),
        ("x-amz-checksum-algorithm", "SHA1"),
    ]
    assert expected_from_headers(headers) == {"SHA1": value}
    assert check_encoded("SHA1", value) == base64.b64decode(value)
    bad = [("x-amz-checksum-crc32", "AAAA")]
    assert _code(lambda: expected_from_headers(bad)) == "InvalidDigest"
