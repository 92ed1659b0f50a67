"""Recipients (who a file key is wrapped to) and identities (who can unwrap it).

Two stanza types are implemented here, as the age v1 spec defines them (the post-quantum
``mlkem768x25519`` type is in :mod:`domicile.crypto.hybrid`):

- ``-> X25519 <base64 ephemeral share>``: the file key wrapped with ChaCha20-Poly1305
  under HKDF-SHA256(X25519(ephemeral, recipient), salt = share || recipient,
  info = "age-encryption.org/v1/X25519").
- ``-> scrypt <base64 16-byte salt> <log2 N>``: the file key wrapped under
  scrypt(passphrase, "age-encryption.org/v1/scrypt" || salt, N, r=8, p=1). An scrypt
  stanza must be the only stanza of its file.

An identity's :meth:`unwrap` returns the file key, ``None`` when no stanza is for it (a
stanza of another type, or one whose AEAD tag does not open: "no match"), and raises
:class:`HeaderError` when a stanza of its own type is malformed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from domicile.crypto import bech32
from domicile.crypto.encoding import b64decode_raw, b64encode_raw
from domicile.crypto.header import Stanza
from domicile.crypto.keystring import decode_key
from domicile.crypto.secret import Secret, as_secret
from domicile.errors import HeaderError, MalformedKey

FILE_KEY_SIZE = 16
X25519_LABEL = b"age-encryption.org/v1/X25519"
SCRYPT_LABEL = b"age-encryption.org/v1/scrypt"
SCRYPT_SALT_SIZE = 16
#: The highest scrypt work factor (log2 N) we accept when decrypting, as age does.
MAX_SCRYPT_WORK_FACTOR = 22
DEFAULT_SCRYPT_WORK_FACTOR = 18
_RAW = serialization.Encoding.Raw
_ZERO_NONCE = bytes(12)
_DIGITS = re.compile(r"[1-9][0-9]*")


class Recipient(Protocol):
    """Something a file key can be wrapped to."""

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """The header stanzas carrying ``file_key`` for this recipient."""
        ...

    @property
    def post_quantum(self) -> bool:
        """Whether the wrap resists a quantum adversary (``mlkem768x25519``); a file must
        not mix such recipients with classic ones (:mod:`domicile.crypto.hybrid`)."""
        ...


class Identity(Protocol):
    """Something that may unwrap a file key from header stanzas."""

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key, or ``None`` if no stanza is for us; ``HeaderError`` if malformed."""
        ...


def _aead_wrap(key: bytes, file_key: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(_ZERO_NONCE, file_key, None)


def _aead_unwrap(key: bytes, body: bytes, what: str) -> bytes | None:
    if len(body) != FILE_KEY_SIZE + 16:
        raise HeaderError(
            f"malformed {what} stanza: the wrapped file key is not {FILE_KEY_SIZE} bytes",
            hint="the file header is damaged or was not written by an age implementation",
        )
    try:
        return ChaCha20Poly1305(key).decrypt(_ZERO_NONCE, body, None)
    except InvalidTag:
        return None


def _bad_stanza(what: str, why: str) -> HeaderError:
    return HeaderError(
        f"malformed {what} stanza: {why}",
        hint="the file header is damaged or was not written by an age implementation",
    )


class X25519Recipient:
    """An X25519 public key, written ``age1...``."""

    __slots__ = ("_public",)

    def __init__(self, public_bytes: bytes) -> None:
        if len(public_bytes) != 32:
            raise MalformedKey("an X25519 public key is 32 bytes")
        self._public = public_bytes

    @classmethod
    def from_string(cls, text: str) -> X25519Recipient:
        """Parse ``age1...``; raises :class:`MalformedKey` if it is not a valid recipient."""
        data = decode_key(
            text.strip(),
            hrp="age",
            size=32,
            what="age recipient",
            expected="an X25519 recipient (age1...)",
            hint="a recipient looks like age1 followed by 58 characters",
        )
        return cls(data)

    @property
    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self._public

    @property
    def post_quantum(self) -> bool:
        """Always false: X25519 falls to a quantum adversary."""
        return False

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """One X25519 stanza from a fresh ephemeral key."""
        ephemeral = X25519PrivateKey.generate()
        share = ephemeral.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
        shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(self._public))
        key = _hkdf(shared, share + self._public, X25519_LABEL)
        return [Stanza("X25519", (b64encode_raw(share),), _aead_wrap(key, file_key))]

    def __str__(self) -> str:
        return bech32.encode("age", self._public)

    def __repr__(self) -> str:
        return f"X25519Recipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, X25519Recipient) and other._public == self._public

    def __hash__(self) -> int:
        return hash(self._public)


def _hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


class X25519Identity:
    """An X25519 private key, written ``AGE-SECRET-KEY-1...``; never printed."""

    __slots__ = ("_private", "_recipient")

    def __init__(self, private_key: X25519PrivateKey) -> None:
        self._private = private_key
        pub = private_key.public_key().public_bytes(_RAW, serialization.PublicFormat.Raw)
        self._recipient = X25519Recipient(pub)

    @classmethod
    def generate(cls) -> X25519Identity:
        """A fresh random identity."""
        return cls(X25519PrivateKey.generate())

    @classmethod
    def from_string(cls, text: Secret | str) -> X25519Identity:
        """Parse ``AGE-SECRET-KEY-1...``; raises :class:`MalformedKey` (never echoing it)."""
        value = as_secret(text).reveal().strip()
        data = decode_key(
            value,
            hrp="AGE-SECRET-KEY-",
            size=32,
            what="age identity",
            expected="an X25519 identity (AGE-SECRET-KEY-1...)",
            hint="an identity is one line AGE-SECRET-KEY-1... as age-keygen writes it",
        )
        return cls(X25519PrivateKey.from_private_bytes(data))

    @property
    def recipient(self) -> X25519Recipient:
        """The matching public recipient (``age1...``)."""
        return self._recipient

    def to_secret(self) -> Secret:
        """The ``AGE-SECRET-KEY-1...`` string, wrapped so it never prints."""
        raw = self._private.private_bytes(
            _RAW, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return Secret(bech32.encode("AGE-SECRET-KEY-", raw))

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the first X25519 stanza addressed to us, else ``None``."""
        for stanza in stanzas:
            if stanza.type != "X25519":
                continue
            if len(stanza.args) != 1:
                raise _bad_stanza("X25519", "expected exactly one argument")
            try:
                share = b64decode_raw(stanza.args[0])
            except ValueError:
                raise _bad_stanza("X25519", "the share is not canonical base64") from None
            if len(share) != 32:
                raise _bad_stanza("X25519", "the share is not 32 bytes")
            try:
                shared = self._private.exchange(X25519PublicKey.from_public_bytes(share))
            except ValueError:
                shared = bytes(32)
            if shared == bytes(32):
                raise _bad_stanza("X25519", "the share is a low-order point")
            key = _hkdf(shared, share + self._recipient.public_bytes, X25519_LABEL)
            file_key = _aead_unwrap(key, stanza.body, "X25519")
            if file_key is not None:
                return file_key
        return None

    def __repr__(self) -> str:
        return f"X25519Identity(recipient={str(self._recipient)!r})"


def _scrypt_key(passphrase: Secret, salt: bytes, work_factor: int) -> bytes:
    kdf = Scrypt(salt=SCRYPT_LABEL + salt, length=32, n=1 << work_factor, r=8, p=1)
    return kdf.derive(passphrase.reveal().encode("utf-8"))


class ScryptRecipient:
    """A passphrase to encrypt to (``age -p``); it must be a file's only recipient."""

    __slots__ = ("_passphrase", "work_factor")

    def __init__(
        self, passphrase: Secret | str, work_factor: int = DEFAULT_SCRYPT_WORK_FACTOR
    ) -> None:
        if not 1 <= work_factor <= 30:
            raise ValueError("the scrypt work factor (log2 N) must be between 1 and 30")
        self._passphrase = as_secret(passphrase)
        self.work_factor = work_factor

    @property
    def post_quantum(self) -> bool:
        """False: like age, a passphrase is kept apart (it must be a file's only recipient)."""
        return False

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """One scrypt stanza with a fresh salt."""
        salt = os.urandom(SCRYPT_SALT_SIZE)
        key = _scrypt_key(self._passphrase, salt, self.work_factor)
        args = (b64encode_raw(salt), str(self.work_factor))
        return [Stanza("scrypt", args, _aead_wrap(key, file_key))]

    def __repr__(self) -> str:
        return f"ScryptRecipient(work_factor={self.work_factor})"


class ScryptIdentity:
    """A passphrase to decrypt with; refuses work factors above ``max_work_factor``."""

    __slots__ = ("_passphrase", "max_work_factor")

    def __init__(
        self, passphrase: Secret | str, max_work_factor: int = MAX_SCRYPT_WORK_FACTOR
    ) -> None:
        self._passphrase = as_secret(passphrase)
        self.max_work_factor = max_work_factor

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the scrypt stanza, else ``None`` (wrong passphrase)."""
        for stanza in stanzas:
            if stanza.type != "scrypt":
                continue
            if len(stanza.args) != 2:
                raise _bad_stanza("scrypt", "expected a salt and a work factor")
            try:
                salt = b64decode_raw(stanza.args[0])
            except ValueError:
                raise _bad_stanza("scrypt", "the salt is not canonical base64") from None
            if len(salt) != SCRYPT_SALT_SIZE:
                raise _bad_stanza("scrypt", "the salt is not 16 bytes")
            if not _DIGITS.fullmatch(stanza.args[1]):
                raise _bad_stanza("scrypt", "the work factor is not a positive decimal")
            work_factor = int(stanza.args[1])
            if work_factor > self.max_work_factor:
                raise _bad_stanza(
                    "scrypt", f"work factor {work_factor} is above {self.max_work_factor}"
                )
            if len(stanza.body) != FILE_KEY_SIZE + 16:
                raise _bad_stanza("scrypt", "the wrapped file key is not 16 bytes")
            key = _scrypt_key(self._passphrase, salt, work_factor)
            file_key = _aead_unwrap(key, stanza.body, "scrypt")
            if file_key is not None:
                return file_key
        return None

    def __repr__(self) -> str:
        return "ScryptIdentity(**redacted**)"
