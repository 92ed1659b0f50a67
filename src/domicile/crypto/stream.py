"""STREAM payload arithmetic: chunk sizes, nonces, keys and lengths.

The payload follows the header: a 16-byte random nonce, then chunks. Each chunk is at most
``CHUNK_SIZE`` (64 KiB) of plaintext sealed with ChaCha20-Poly1305 (16-byte tag) under
``HKDF-SHA256(file key, salt = nonce, info = "payload")``. The 12-byte AEAD nonce of chunk
``i`` is ``i`` as 11 big-endian bytes followed by a flag byte, ``0x01`` on the final chunk
and ``0x00`` on every other. Every chunk but the last is full; the last may be full, and is
empty only when the whole payload is empty. So, with header length ``H``::

    chunk i starts at   H + 16 + i * 65552
    chunks              n = max(1, ceil(P / 65536))        (P = plaintext length)
    ciphertext length   H + 16 + P + 16 * n
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domicile.errors import PayloadError, TruncatedError

CHUNK_SIZE = 65536
TAG_SIZE = 16
ENC_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16
_MAX_CHUNKS = 1 << 88
_LAST = b"\x01"
_NOT_LAST = b"\x00"


def chunk_nonce(index: int, last: bool) -> bytes:
    """The 12-byte AEAD nonce of chunk ``index``."""
    if not 0 <= index < _MAX_CHUNKS:
        raise ValueError("STREAM chunk counter out of range")
    return index.to_bytes(11, "big") + (_LAST if last else _NOT_LAST)


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    """The ChaCha20-Poly1305 key of the payload."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=nonce, info=b"payload")
    return hkdf.derive(file_key)


def chunk_count(plaintext_length: int) -> int:
    """How many chunks a payload of ``plaintext_length`` bytes has (at least one)."""
    if plaintext_length < 0:
        raise ValueError("negative plaintext length")
    return max(1, -(-plaintext_length // CHUNK_SIZE))


def ciphertext_size(plaintext_length: int, header_length: int) -> int:
    """The length of an age file with this header length and plaintext length."""
    if header_length < 0:
        raise ValueError("negative header length")
    return header_length + NONCE_SIZE + plaintext_length + TAG_SIZE * chunk_count(plaintext_length)


def plaintext_size(ciphertext_length: int, header_length: int) -> int:
    """The plaintext length of an age file, from its total and header lengths.

    Raises :class:`TruncatedError` when the file is too short to hold a nonce and one chunk,
    and :class:`PayloadError` when no STREAM payload has that length (the last chunk would be
    shorter than a tag, or empty after other chunks).
    """
    payload = ciphertext_length - header_length - NONCE_SIZE
    if header_length < 0 or payload < TAG_SIZE:
        raise TruncatedError(
            f"an age file with a {header_length}-byte header cannot be {ciphertext_length} "
            "bytes long: it is too short to hold the payload nonce and a final chunk",
            hint="the blob is truncated, or the recorded lengths are wrong; read another copy",
            ciphertext_length=ciphertext_length,
            header_length=header_length,
        )
    n = -(-payload // ENC_CHUNK_SIZE)
    last = payload - (n - 1) * ENC_CHUNK_SIZE
    if last < TAG_SIZE or (last == TAG_SIZE and n > 1):
        raise PayloadError(
            f"no age file with a {header_length}-byte header is {ciphertext_length} bytes "
            "long (the final chunk would be " + ("empty)" if last == TAG_SIZE else "too short)"),
            hint="the blob was truncated or extended, or the recorded lengths are wrong",
            ciphertext_length=ciphertext_length,
            header_length=header_length,
        )
    return payload - n * TAG_SIZE


def chunk_offset(index: int, header_length: int) -> int:
    """Where chunk ``index`` starts in the file."""
    return header_length + NONCE_SIZE + index * ENC_CHUNK_SIZE
