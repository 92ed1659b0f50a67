"""Every C2SP CCTV age vector produces its expected outcome (and released-payload hash).

The vectors' identities are X25519 (``AGE-SECRET-KEY-1``) or post-quantum hybrid
(``AGE-SECRET-KEY-PQ-1``, the ``mlkem768x25519`` type of age >= 1.3); 19 vectors
exercise the latter.
"""

from __future__ import annotations

import hashlib

import pytest

from domicile.crypto import (
    ScryptIdentity,
    SeekableReader,
    X25519Identity,
    decrypt_iter,
    parse_identity,
)
from domicile.crypto.armor import is_armored
from domicile.crypto.recipients import Identity
from domicile.errors import (
    ArmorError,
    CryptoError,
    HeaderError,
    HeaderMacError,
    NoIdentityMatch,
    PayloadError,
)

from .vectors import VECTOR_DIR, Vector, all_vectors

OUTCOMES: dict[str, type[CryptoError] | None] = {
    "success": None,
    "no match": NoIdentityMatch,
    "HMAC failure": HeaderMacError,
    "header failure": HeaderError,
    "payload failure": PayloadError,
    "armor failure": ArmorError,
}
PQ_PREFIX = "AGE-SECRET-KEY-PQ-1"
VECTORS = all_vectors()
HYBRID = [v for v in VECTORS if any(s.startswith(PQ_PREFIX) for s in v.identities)]


def _identities(vector: Vector) -> list[Identity]:
    ids: list[Identity] = [parse_identity(s) for s in vector.identities]
    ids.extend(ScryptIdentity(p) for p in vector.passphrases)
    return ids


def test_the_vectors_are_all_there() -> None:
    assert len(VECTORS) == 143, VECTOR_DIR
    assert {v.expect for v in VECTORS} == set(OUTCOMES)


def test_the_hybrid_vectors_are_all_there() -> None:
    """19 vectors name a post-quantum identity; 18 of them were skipped before the type
    was supported (the 19th also names an X25519 identity)."""
    assert len(HYBRID) == 19
    assert {v.expect for v in HYBRID} == {"success", "no match", "header failure"}
    assert sum(1 for v in HYBRID if all(s.startswith(PQ_PREFIX) for s in v.identities)) == 18


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_vector(vector: Vector) -> None:
    identities = _identities(vector)
    if not identities:  # a vector with no key at all: any identity must fail the same way
        identities = [X25519Identity.generate()]
    if vector.name != "armor_garbage_leading":  # garbage first: only the flag says armor
        assert is_armored(vector.data[:64]) == vector.armored
    released = hashlib.sha256()
    expected = OUTCOMES[vector.expect]
    # feed the file in odd-sized pieces to exercise the streaming buffers
    pieces = [vector.data[i : i + 4093] for i in range(0, len(vector.data), 4093)]
    if expected is None:
        for piece in decrypt_iter(pieces, identities, armored=vector.armored):
            released.update(piece)
    else:
        with pytest.raises(expected) as info:
            for piece in decrypt_iter(pieces, identities, armored=vector.armored):
                released.update(piece)
        # the error is exactly the kind asked for, not a sibling of the same family
        for other in set(OUTCOMES.values()) - {expected, None}:
            assert other is not None
            assert not isinstance(info.value, other), (vector.name, info.value)
    if vector.payload_sha256 is not None:
        assert released.hexdigest() == vector.payload_sha256, vector.comment
    elif expected is not None:
        assert released.digest() == hashlib.sha256().digest()  # nothing released


BINARY = [v for v in VECTORS if not v.armored]


@pytest.mark.parametrize("vector", BINARY, ids=[v.name for v in BINARY])
def test_vector_through_the_seekable_reader(vector: Vector) -> None:
    """Random access agrees with streaming: success where it succeeds, the same error
    kind where the header fails, and a payload error where the payload does."""
    identities = _identities(vector) or [X25519Identity.generate()]
    expected = OUTCOMES[vector.expect]
    data = vector.data

    def read(offset: int, length: int) -> bytes:
        return data[offset : offset + length]

    if expected is None:
        reader = SeekableReader(read, len(data), identities)
        plain = reader.read(0, reader.plaintext_size)
        assert hashlib.sha256(plain).hexdigest() == vector.payload_sha256
        return
    with pytest.raises(expected):
        reader = SeekableReader(read, len(data), identities)
        reader.verify()
