"""Streaming encryption and decryption: round trips, sizes, and every kind of damage."""

from __future__ import annotations

import os

import pytest

from domicile.crypto import (
    CHUNK_SIZE,
    ENC_CHUNK_SIZE,
    NONCE_SIZE,
    Encryptor,
    ScryptIdentity,
    ScryptRecipient,
    Stanza,
    X25519Identity,
    ciphertext_size,
    decrypt_bytes,
    decrypt_iter,
    encrypt_bytes,
    encrypt_iter,
    parse_header,
    plaintext_size,
)
from domicile.errors import (
    ChunkAuthError,
    CryptoError,
    HeaderError,
    HeaderMacError,
    NoIdentityMatch,
    PayloadError,
    TrailingDataError,
    TruncatedError,
)

SIZES = [0, 1, 100, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 7]


@pytest.mark.parametrize("size", SIZES)
def test_round_trip_and_size_arithmetic(identity: X25519Identity, size: int) -> None:
    data = os.urandom(size)
    enc = Encryptor([identity.recipient])
    blob = enc.header + enc.update(data) + enc.finalize()
    assert len(blob) == ciphertext_size(size, enc.header_length)
    assert plaintext_size(len(blob), enc.header_length) == size
    assert decrypt_bytes(blob, [identity]) == data


@pytest.mark.parametrize("piece", [1, 7, 4096, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE])
def test_any_piece_size_gives_the_same_layout(identity: X25519Identity, piece: int) -> None:
    data = os.urandom(3 * CHUNK_SIZE + 123)
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    blob = b"".join(encrypt_iter(pieces, [identity.recipient]))
    header = parse_header(blob)
    assert header is not None
    assert len(blob) == ciphertext_size(len(data), header.length)
    # decrypt with a different piece size than was used to encrypt
    enc_pieces = [blob[i : i + 5000] for i in range(0, len(blob), 5000)]
    assert b"".join(decrypt_iter(enc_pieces, [identity])) == data


def test_the_encryptor_reuses_nothing_from_the_callers_buffer(identity: X25519Identity) -> None:
    buf = bytearray(os.urandom(CHUNK_SIZE))
    first = bytes(buf)
    enc = Encryptor([identity.recipient])
    out = [enc.header, enc.update(buf)]
    buf[:] = os.urandom(CHUNK_SIZE)  # the caller reuses its buffer
    second = bytes(buf)
    out += [enc.update(buf), enc.finalize()]
    assert decrypt_bytes(b"".join(out), [identity]) == first + second


def test_the_encryptor_holds_at_most_one_chunk(identity: X25519Identity) -> None:
    enc = Encryptor([identity.recipient])
    released = len(enc.update(os.urandom(10 * CHUNK_SIZE + 5)))
    # everything but the last (partial) chunk is out already
    assert released == NONCE_SIZE + 10 * ENC_CHUNK_SIZE
    assert len(enc.finalize()) == 5 + 16
    with pytest.raises(CryptoError):
        enc.update(b"more")


def test_several_recipients_each_decrypt() -> None:
    ids = [X25519Identity.generate() for _ in range(3)]
    blob = encrypt_bytes(b"shared", [i.recipient for i in ids])
    for ident in ids:
        assert decrypt_bytes(blob, [ident]) == b"shared"
    header = parse_header(blob)
    assert header is not None
    assert [s.type for s in header.stanzas] == ["X25519"] * 3


def test_passphrase_round_trip_and_scrypt_must_be_alone(identity: X25519Identity) -> None:
    blob = encrypt_bytes(b"secret", [ScryptRecipient("pw", work_factor=10)])
    assert decrypt_bytes(blob, [ScryptIdentity("pw")]) == b"secret"
    with pytest.raises(NoIdentityMatch):
        decrypt_bytes(blob, [ScryptIdentity("wrong"), identity])
    with pytest.raises(CryptoError, match="only recipient"):
        Encryptor([ScryptRecipient("pw", work_factor=10), identity.recipient])
    with pytest.raises(CryptoError, match="no recipients"):
        Encryptor([])


def test_a_scrypt_stanza_above_the_work_factor_limit_is_refused() -> None:
    blob = encrypt_bytes(b"x", [ScryptRecipient("pw", work_factor=12)])
    with pytest.raises(HeaderError, match="work factor 12"):
        decrypt_bytes(blob, [ScryptIdentity("pw", max_work_factor=11)])


def test_unknown_stanzas_are_ignored(identity: X25519Identity) -> None:
    class Grease:
        def wrap(self, file_key: bytes) -> list[Stanza]:
            return [Stanza("grease-me", ("a", "b!"), os.urandom(70))]

    blob = encrypt_bytes(b"hello", [Grease(), identity.recipient])
    assert decrypt_bytes(blob, [identity]) == b"hello"
    header = parse_header(blob)
    assert header is not None and header.stanzas[0].type == "grease-me"
    assert len(header.stanzas[0].body) == 70  # a two-line body survives the round trip


# --- damage ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_chunks() -> tuple[X25519Identity, bytes, int, bytes]:
    ident = X25519Identity.generate()
    data = os.urandom(2 * CHUNK_SIZE + 1000)
    enc = Encryptor([ident.recipient])
    blob = enc.header + enc.update(data) + enc.finalize()
    return ident, data, enc.header_length, blob


def _decrypt_collect(blob: bytes, ident: X25519Identity) -> tuple[bytes, Exception | None]:
    out = bytearray()
    try:
        for piece in decrypt_iter([blob], [ident]):
            out += piece
    except CryptoError as exc:
        return bytes(out), exc
    return bytes(out), None


def test_wrong_key(three_chunks: tuple[X25519Identity, bytes, int, bytes]) -> None:
    _, _, _, blob = three_chunks
    released, exc = _decrypt_collect(blob, X25519Identity.generate())
    assert isinstance(exc, NoIdentityMatch) and released == b""
    assert exc.hint


def test_truncation_at_a_chunk_boundary(
    three_chunks: tuple[X25519Identity, bytes, int, bytes],
) -> None:
    ident, data, h, blob = three_chunks
    cut = blob[: h + NONCE_SIZE + 2 * ENC_CHUNK_SIZE]
    released, exc = _decrypt_collect(cut, ident)
    assert isinstance(exc, TruncatedError)
    assert released == data[: 2 * CHUNK_SIZE]  # the authentic prefix, nothing more


def test_truncation_inside_the_last_chunk(
    three_chunks: tuple[X25519Identity, bytes, int, bytes],
) -> None:
    ident, data, _, blob = three_chunks
    released, exc = _decrypt_collect(blob[:-1], ident)
    assert isinstance(exc, ChunkAuthError)
    assert released == data[: 2 * CHUNK_SIZE]


def test_reordered_chunks(three_chunks: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, _, h, blob = three_chunks
    p = h + NONCE_SIZE
    c0, c1 = blob[p : p + ENC_CHUNK_SIZE], blob[p + ENC_CHUNK_SIZE : p + 2 * ENC_CHUNK_SIZE]
    swapped = blob[:p] + c1 + c0 + blob[p + 2 * ENC_CHUNK_SIZE :]
    released, exc = _decrypt_collect(swapped, ident)
    assert isinstance(exc, ChunkAuthError) and released == b""
    assert exc.context["chunk"] == 0


def test_trailing_data_after_a_full_final_chunk(identity: X25519Identity) -> None:
    data = os.urandom(2 * CHUNK_SIZE)
    blob = encrypt_bytes(data, [identity.recipient])
    released, exc = _decrypt_collect(blob + b"\x00", identity)
    assert isinstance(exc, TrailingDataError)
    assert released == data  # the final chunk authenticated before the extra byte was seen


def test_trailing_data_after_a_short_final_chunk(
    three_chunks: tuple[X25519Identity, bytes, int, bytes],
) -> None:
    # a streaming reader cannot tell where a short final chunk ends: the chunk it reads
    # (final chunk + extra bytes) fails authentication
    ident, data, _, blob = three_chunks
    released, exc = _decrypt_collect(blob + b"\x00", ident)
    assert isinstance(exc, ChunkAuthError)
    assert released == data[: 2 * CHUNK_SIZE]


def test_header_changes(three_chunks: tuple[X25519Identity, bytes, int, bytes]) -> None:
    ident, _, h, blob = three_chunks
    # change a byte of the base64 MAC: still canonical? either a header or a MAC error
    header = parse_header(blob)
    assert header is not None
    mac_line_start = blob.rindex(b"--- ", 0, h)
    tampered = bytearray(blob)
    tampered[mac_line_start + 4] ^= ord("A") ^ ord("B")
    _, exc = _decrypt_collect(bytes(tampered), ident)
    assert isinstance(exc, HeaderMacError | HeaderError)
    _, exc = _decrypt_collect(b"age-encryption.org/v2\n" + blob[22:], ident)
    assert isinstance(exc, HeaderError)
    _, exc = _decrypt_collect(blob[: h + 3], ident)  # nonce cut
    assert isinstance(exc, HeaderError)


def test_every_stream_error_is_a_payload_error() -> None:
    for cls in (ChunkAuthError, TruncatedError, TrailingDataError):
        assert issubclass(cls, PayloadError)


def test_impossible_lengths_are_refused() -> None:
    h = 100
    with pytest.raises(TruncatedError):
        plaintext_size(h + NONCE_SIZE + 15, h)
    with pytest.raises(PayloadError, match="empty"):
        plaintext_size(h + NONCE_SIZE + ENC_CHUNK_SIZE + 16, h)
    with pytest.raises(PayloadError, match="too short"):
        plaintext_size(h + NONCE_SIZE + ENC_CHUNK_SIZE + 5, h)
    assert plaintext_size(h + NONCE_SIZE + 16, h) == 0
    assert plaintext_size(h + NONCE_SIZE + ENC_CHUNK_SIZE, h) == CHUNK_SIZE
    assert plaintext_size(h + NONCE_SIZE + ENC_CHUNK_SIZE + 17, h) == CHUNK_SIZE + 1
