"""Range reads: only the covering chunks are fetched, each authenticated, the tail too."""

from __future__ import annotations

import os

import pytest

from domicile.crypto import (
    CHUNK_SIZE,
    ENC_CHUNK_SIZE,
    NONCE_SIZE,
    Encryptor,
    SeekableReader,
    X25519Identity,
    encrypt_bytes,
)
from domicile.errors import (
    ChunkAuthError,
    HeaderError,
    InvalidRange,
    NoIdentityMatch,
    PayloadError,
    TrailingDataError,
    TruncatedError,
)

SIZE = 20 * CHUNK_SIZE + 321


class Blob:
    """A ciphertext served through a RangeReader that counts what it is asked."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []

    def read(self, offset: int, length: int) -> bytes:
        self.calls.append((offset, length))
        return self.data[offset : offset + length]


@pytest.fixture(scope="module")
def sample() -> tuple[X25519Identity, bytes, int, bytes]:
    ident = X25519Identity.generate()
    data = os.urandom(SIZE)
    enc = Encryptor([ident.recipient])
    return ident, data, enc.header_length, enc.header + enc.update(data) + enc.finalize()


def _reader(blob: Blob, ident: X25519Identity, h: int | None) -> SeekableReader:
    return SeekableReader(blob.read, len(blob.data), [ident], header_length=h)


@pytest.mark.parametrize("known_header", [True, False])
def test_ranges_match_the_plaintext(
    sample: tuple[X25519Identity, bytes, int, bytes], known_header: bool
) -> None:
    ident, data, h, ct = sample
    reader = _reader(Blob(ct), ident, h if known_header else None)
    assert reader.plaintext_size == SIZE and reader.header_length == h
    for start, end in [
        (0, 0),
        (0, 1),
        (0, SIZE),
        (CHUNK_SIZE - 1, CHUNK_SIZE + 1),
        (5 * CHUNK_SIZE, 6 * CHUNK_SIZE),
        (SIZE - 1, SIZE),
        (SIZE, SIZE),
        (123, 17 * CHUNK_SIZE + 5),
    ]:
        assert reader.read(start, end) == data[start:end], (start, end)
        assert b"".join(reader.iter_range(start, end, window_chunks=3)) == data[start:end]


def test_a_range_reads_only_its_chunks(sample: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, data, h, ct = sample
    blob = Blob(ct)
    reader = _reader(blob, ident, h)
    assert blob.calls == [(0, h + NONCE_SIZE)]  # the header and nonce, in one call
    start = 3 * CHUNK_SIZE + 100
    assert reader.read(start, start + 1_000_000) == data[start : start + 1_000_000]
    offset, length = blob.calls[-1]
    assert offset == h + NONCE_SIZE + 3 * ENC_CHUNK_SIZE
    assert length == 16 * ENC_CHUNK_SIZE  # 1 MB from chunk 3 spans chunks 3..18
    assert len(blob.calls) == 2


def test_iter_range_is_windowed(sample: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, data, h, ct = sample
    blob = Blob(ct)
    reader = _reader(blob, ident, h)
    pieces = list(reader.iter_range(0, SIZE, window_chunks=4))
    assert b"".join(pieces) == data
    assert all(length <= 4 * ENC_CHUNK_SIZE for _, length in blob.calls[1:])
    assert len(blob.calls) == 1 + 6  # 21 chunks in windows of 4
    with pytest.raises(ValueError, match="window"):
        list(reader.iter_range(0, 1, window_chunks=0))


def test_out_of_range(sample: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, _, h, ct = sample
    reader = _reader(Blob(ct), ident, h)
    for start, end in [(-1, 5), (5, 4), (0, SIZE + 1)]:
        with pytest.raises(InvalidRange):
            reader.read(start, end)


def test_the_tail_proves_the_end(sample: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, data, h, ct = sample
    # cut at a chunk boundary and claim the cut length: the "last" chunk is not final
    cut = ct[: h + NONCE_SIZE + 10 * ENC_CHUNK_SIZE]
    reader = _reader(Blob(cut), ident, h)
    assert reader.read(0, CHUNK_SIZE) == data[:CHUNK_SIZE]  # early chunks still authentic
    with pytest.raises(TruncatedError):
        reader.read(reader.plaintext_size - 1, reader.plaintext_size)


def test_appended_chunk_is_detected(identity: X25519Identity) -> None:
    data = os.urandom(2 * CHUNK_SIZE)
    enc = Encryptor([identity.recipient])
    ct = enc.header + enc.update(data) + enc.finalize()
    extended = ct + ct[-ENC_CHUNK_SIZE:]  # a copy of the final chunk as chunk 2
    reader = SeekableReader(Blob(extended).read, len(extended), [identity])
    with pytest.raises(TrailingDataError):
        reader.read(CHUNK_SIZE, 2 * CHUNK_SIZE)


def test_a_short_reader_is_truncation(sample: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, _, h, ct = sample
    reader = SeekableReader(lambda o, n: ct[o : min(o + n, len(ct) - 10)], len(ct), [ident], h)
    with pytest.raises(TruncatedError):
        reader.read(SIZE - 5, SIZE)
    with pytest.raises(PayloadError, match="returned"):
        SeekableReader(lambda o, n: ct[o : o + n + 1], len(ct), [ident], h)


def test_flipped_bits_and_moved_chunks(sample: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, _, h, ct = sample
    flipped = bytearray(ct)
    flipped[h + NONCE_SIZE + 5 * ENC_CHUNK_SIZE + 77] ^= 0x10
    reader = _reader(Blob(bytes(flipped)), ident, h)
    with pytest.raises(ChunkAuthError) as info:
        reader.read(5 * CHUNK_SIZE, 5 * CHUNK_SIZE + 1)
    assert info.value.context["chunk"] == 5
    p = h + NONCE_SIZE
    moved = ct[:p] + ct[p + ENC_CHUNK_SIZE : p + 2 * ENC_CHUNK_SIZE] + ct[p + ENC_CHUNK_SIZE :]
    with pytest.raises(ChunkAuthError):
        _reader(Blob(moved), ident, h).read(0, 1)


def test_header_checks(sample: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, _, h, ct = sample
    with pytest.raises(HeaderError, match="recorded"):
        _reader(Blob(ct), ident, h - 1)
    with pytest.raises(NoIdentityMatch):
        _reader(Blob(ct), X25519Identity.generate(), h)
    with pytest.raises(PayloadError):  # impossible length, refused before any read
        blob = Blob(ct[: h + NONCE_SIZE + 20 * ENC_CHUNK_SIZE + 5])
        _reader(blob, ident, h)
    assert blob.calls == []


def test_empty_plaintext_and_verify(identity: X25519Identity) -> None:
    ct = encrypt_bytes(b"", [identity.recipient])
    reader = SeekableReader(Blob(ct).read, len(ct), [identity])
    assert reader.plaintext_size == 0 and reader.read(0, 0) == b""
    reader.verify()
    broken = ct[:-1] + bytes([ct[-1] ^ 1])
    with pytest.raises(ChunkAuthError):
        SeekableReader(Blob(broken).read, len(broken), [identity]).verify()


def test_large_headers_are_read_in_growing_pieces() -> None:
    ids = [X25519Identity.generate() for _ in range(60)]  # about 8 KB of header
    ct = encrypt_bytes(b"many recipients", [i.recipient for i in ids])
    blob = Blob(ct)
    reader = SeekableReader(blob.read, len(ct), [ids[-1]])
    assert reader.header_length > 4096 and len(blob.calls) == 2
    assert reader.read(0, 15) == b"many recipients"
