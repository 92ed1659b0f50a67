"""Hypothesis properties of the age core."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domicile.crypto import (
    CHUNK_SIZE,
    Encryptor,
    SeekableReader,
    X25519Identity,
    ciphertext_size,
    decrypt_iter,
    plaintext_size,
)
from domicile.errors import CryptoError
from tests.examples import examples

IDENTITY = X25519Identity.generate()
SETTINGS = settings(
    max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _data(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _encrypt(data: bytes, piece: int) -> tuple[bytes, int]:
    enc = Encryptor([IDENTITY.recipient])
    out = [enc.header]
    out += [enc.update(data[i : i + piece]) for i in range(0, len(data), piece)]
    out.append(enc.finalize())
    return b"".join(out), enc.header_length


sizes = st.one_of(
    st.integers(0, 4 * CHUNK_SIZE + 100),
    st.sampled_from([k * CHUNK_SIZE + d for k in range(4) for d in (-1, 0, 1) if k or d >= 0]),
)


@SETTINGS
@given(size=sizes, seed=st.integers(0, 2**32), piece=st.integers(1, 3 * CHUNK_SIZE))
def test_encrypt_then_decrypt_is_identity(size: int, seed: int, piece: int) -> None:
    data = _data(size, seed)
    blob, header_length = _encrypt(data, piece)
    assert len(blob) == ciphertext_size(size, header_length)
    assert plaintext_size(len(blob), header_length) == size
    dec_piece = max(1, piece // 3)
    pieces = [blob[i : i + dec_piece] for i in range(0, len(blob), dec_piece)]
    assert b"".join(decrypt_iter(pieces, [IDENTITY])) == data


BLOB_DATA = _data(5 * CHUNK_SIZE + 777, 1)
BLOB, BLOB_HEADER = _encrypt(BLOB_DATA, CHUNK_SIZE)


@SETTINGS
@given(
    start=st.integers(0, len(BLOB_DATA)),
    length=st.integers(0, 3 * CHUNK_SIZE),
    window=st.integers(1, 6),
)
def test_any_range_matches_the_plaintext(start: int, length: int, window: int) -> None:
    end = min(start + length, len(BLOB_DATA))
    reader = SeekableReader(lambda o, n: BLOB[o : o + n], len(BLOB), [IDENTITY], BLOB_HEADER)
    assert reader.read(start, end) == BLOB_DATA[start:end]
    assert b"".join(reader.iter_range(start, end, window)) == BLOB_DATA[start:end]


@pytest.fixture(scope="module")
def small_blob() -> tuple[bytes, bytes, int]:
    data = _data(2 * CHUNK_SIZE + 500, 2)
    blob, h = _encrypt(data, 10_000)
    return data, blob, h


@settings(max_examples=examples(150), deadline=None)
@given(position=st.integers(0, 2**40), flip=st.integers(1, 255))
def test_any_single_byte_change_is_rejected(
    small_blob: tuple[bytes, bytes, int], position: int, flip: int
) -> None:
    data, blob, h = small_blob
    position %= len(blob)
    changed = bytearray(blob)
    changed[position] ^= flip
    released = bytearray()
    with pytest.raises(CryptoError):
        for piece in decrypt_iter([bytes(changed)], [IDENTITY]):
            released += piece
    assert data.startswith(released)  # only authentic plaintext came out
    with pytest.raises(CryptoError):
        view = bytes(changed)
        SeekableReader(lambda o, n: view[o : o + n], len(view), [IDENTITY], h).verify()
