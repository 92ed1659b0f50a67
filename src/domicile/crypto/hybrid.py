"""The post-quantum hybrid recipient type of the age spec: ``mlkem768x25519`` (X-Wing).

- Identity: 32 random bytes, Bech32 ``AGE-SECRET-KEY-PQ-1...``. Its key pair is the X-Wing
  expansion of that seed: ``SHAKE256(seed, 96)`` gives the ML-KEM-768 seed (64 bytes,
  ``d ‖ z``) and the X25519 private key (32 bytes).
- Recipient: the ML-KEM-768 encapsulation key (1,184 bytes) then the X25519 public key
  (32 bytes), Bech32 ``age1pq1...`` (1,216 bytes, no length limit).
- Stanza: ``-> mlkem768x25519 <base64 enc>`` whose body is the file key sealed with HPKE
  base mode (RFC 9180): KEM MLKEM768-X25519 (draft-ietf-hpke-pq, id 0x647a), KDF
  HKDF-SHA256, AEAD ChaCha20-Poly1305, ``info = "age-encryption.org/mlkem768x25519"``,
  empty aad. ``enc`` is 1,120 bytes (ML-KEM ciphertext then the X25519 share); the body
  is 32 bytes (file key and tag).

ML-KEM, the hybrid KEM and HPKE come from ``cryptography`` (OpenSSL); nothing here is new
cryptography, only the age encoding around it. A file wrapped to such a recipient must
not also be wrapped to a classic one (see :func:`check_recipient_mix`), as age refuses.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from domicile.crypto import bech32
from domicile.crypto.encoding import b64decode_raw, b64encode_raw
from domicile.crypto.header import Stanza
from domicile.crypto.keystring import decode_key
from domicile.crypto.secret import Secret, as_secret
from domicile.errors import HeaderError, MalformedKey

STANZA_TYPE = "mlkem768x25519"
RECIPIENT_HRP = "age1pq"
IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"
INFO = b"age-encryption.org/mlkem768x25519"
SEED_SIZE = 32
MLKEM_PUBLIC_SIZE = 1184
MLKEM_CIPHERTEXT_SIZE = 1088
PUBLIC_SIZE = MLKEM_PUBLIC_SIZE + 32
ENC_SIZE = MLKEM_CIPHERTEXT_SIZE + 32
BODY_SIZE = 16 + 16
_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_RECIPIENT_HINT = "a post-quantum recipient is age1pq1 followed by about 1,950 characters"
_IDENTITY_HINT = (
    "a post-quantum identity is one line AGE-SECRET-KEY-PQ-1... as age-keygen -pq writes"
)


_P = 2**255 - 19
#: The u-coordinates whose X25519 product with any clamped scalar is all zero: the points
#: of order 1, 2, 4 and 8 on Curve25519 and its twist (0, 1, the two of order 8, p - 1),
#: and the non-canonical spellings p and p + 1 of 0 and 1 (the list libsodium checks).
_LOW_ORDER = frozenset(
    {
        0,
        1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
        _P - 1,
        _P,
        _P + 1,
    }
)


def is_low_order(share: bytes) -> bool:
    """Whether an X25519 share gives the all-zero secret, which age refuses (the reference
    implementation does, and the CCTV vectors ask it): a table lookup, where computing
    X25519 once more would cost a third of the unwrap. The top bit is ignored, as X25519
    does."""
    return int.from_bytes(share, "little") & ((1 << 255) - 1) in _LOW_ORDER


def _bad_stanza(why: str) -> HeaderError:
    return HeaderError(
        f"malformed {STANZA_TYPE} stanza: {why}",
        hint="the file header is damaged or was not written by an age implementation",
    )


class MLKEM768X25519Recipient:
    """A hybrid post-quantum public key, written ``age1pq1...``."""

    __slots__ = ("_key", "_public")

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != PUBLIC_SIZE:
            raise MalformedKey(f"an {STANZA_TYPE} public key is {PUBLIC_SIZE} bytes")
        try:
            self._key = hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(public_bytes[:MLKEM_PUBLIC_SIZE]),
                X25519PublicKey.from_public_bytes(public_bytes[MLKEM_PUBLIC_SIZE:]),
            )
        except ValueError:
            raise MalformedKey(
                "invalid post-quantum recipient: not a valid ML-KEM-768 encapsulation key",
                hint=_RECIPIENT_HINT,
            ) from None
        self._public = public_bytes

    @classmethod
    def from_string(cls, text: str) -> MLKEM768X25519Recipient:
        """Parse ``age1pq1...``; raises :class:`MalformedKey` if it is not one."""
        data = decode_key(
            text.strip(),
            hrp=RECIPIENT_HRP,
            size=PUBLIC_SIZE,
            what="post-quantum recipient",
            expected="an mlkem768x25519 recipient (age1pq1...)",
            hint=_RECIPIENT_HINT,
        )
        return cls(data)

    @property
    def public_bytes(self) -> bytes:
        """The raw 1,216-byte public key (ML-KEM-768 key, then X25519 key)."""
        return self._public

    @property
    def post_quantum(self) -> bool:
        """Always true: the wrap resists a quantum adversary."""
        return True

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """One mlkem768x25519 stanza (HPKE SealBase with a fresh encapsulation)."""
        sealed = _SUITE.encrypt(file_key, self._key, info=INFO)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (b64encode_raw(enc),), body)]

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._public)

    def __repr__(self) -> str:
        return f"MLKEM768X25519Recipient({str(self)[:20]!r}...)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MLKEM768X25519Recipient) and other._public == self._public

    def __hash__(self) -> int:
        return hash(self._public)


class MLKEM768X25519Identity:
    """A hybrid post-quantum private key, written ``AGE-SECRET-KEY-PQ-1...``; never printed."""

    __slots__ = ("_key", "_recipient", "_seed")

    def __init__(self, seed: bytes) -> None:
        if len(seed) != SEED_SIZE:
            raise MalformedKey(f"an {STANZA_TYPE} identity is a {SEED_SIZE}-byte seed")
        expanded = hashlib.shake_256(seed).digest(96)
        kem = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        x25519 = X25519PrivateKey.from_private_bytes(expanded[64:])
        self._key = hpke.MLKEM768X25519PrivateKey(kem, x25519)
        self._seed = seed
        self._recipient = MLKEM768X25519Recipient(
            kem.public_key().public_bytes_raw() + x25519.public_key().public_bytes_raw()
        )

    @classmethod
    def generate(cls) -> MLKEM768X25519Identity:
        """A fresh random identity."""
        return cls(os.urandom(SEED_SIZE))

    @classmethod
    def from_string(cls, text: Secret | str) -> MLKEM768X25519Identity:
        """Parse ``AGE-SECRET-KEY-PQ-1...``; raises :class:`MalformedKey` (never echoing it)."""
        value = as_secret(text).reveal().strip()
        data = decode_key(
            value,
            hrp=IDENTITY_HRP,
            size=SEED_SIZE,
            what="post-quantum identity",
            expected="an mlkem768x25519 identity (AGE-SECRET-KEY-PQ-1...)",
            hint=_IDENTITY_HINT,
        )
        return cls(data)

    @property
    def recipient(self) -> MLKEM768X25519Recipient:
        """The matching public recipient (``age1pq1...``)."""
        return self._recipient

    def to_secret(self) -> Secret:
        """The ``AGE-SECRET-KEY-PQ-1...`` string, wrapped so it never prints."""
        return Secret(bech32.encode(IDENTITY_HRP, self._seed))

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the first mlkem768x25519 stanza that opens, else ``None``."""
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            if len(stanza.args) != 1:
                raise _bad_stanza("expected exactly one argument")
            try:
                enc = b64decode_raw(stanza.args[0])
            except ValueError:
                raise _bad_stanza("the encapsulated key is not canonical base64") from None
            if len(enc) != ENC_SIZE:
                raise _bad_stanza(f"the encapsulated key is not {ENC_SIZE} bytes")
            if len(stanza.body) != BODY_SIZE:
                raise _bad_stanza("the wrapped file key is not 16 bytes")
            if is_low_order(enc[MLKEM_CIPHERTEXT_SIZE:]):
                raise _bad_stanza("the X25519 share is a low-order point")
            try:
                return _SUITE.decrypt(enc + stanza.body, self._key, info=INFO)
            except InvalidTag:
                continue
        return None

    def __repr__(self) -> str:
        return f"MLKEM768X25519Identity(recipient={str(self._recipient)[:20]!r}...)"
