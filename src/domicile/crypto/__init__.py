"""The encryption core: age v1 files (C2SP spec) and the keyring.

A pure core: no knowledge of sites, catalogs or HTTP, and no I/O beyond the keyring file.

- Writing: :class:`Encryptor` (header, then ``update``/``finalize`` pieces),
  :func:`encrypt_iter`, :func:`encrypt_bytes`.
- Reading a stream: :func:`decrypt_iter`, :func:`decrypt_bytes` (binary or armored input).
- Reading a range: :class:`SeekableReader` over a ``read(offset, length)`` callback.
- Keys: :class:`X25519Identity` / :class:`X25519Recipient` (``AGE-SECRET-KEY-1...`` /
  ``age1...``), the post-quantum :class:`MLKEM768X25519Identity` /
  :class:`MLKEM768X25519Recipient` (``AGE-SECRET-KEY-PQ-1...`` / ``age1pq1...``),
  :func:`parse_recipient` / :func:`parse_identity` (either type from its text),
  :class:`ScryptRecipient` / :class:`ScryptIdentity` (passphrases),
  :class:`Secret`, :class:`~domicile.crypto.keyring.Keyring`.
- Arithmetic: :data:`CHUNK_SIZE`, :func:`plaintext_size`, :func:`ciphertext_size`.

Byte layouts are in ``docs/age-format.md``.
"""

from domicile.crypto.armor import armor, dearmor, dearmor_iter
from domicile.crypto.decrypt import StreamDecryptor, decrypt_bytes, decrypt_iter
from domicile.crypto.encrypt import Encryptor, encrypt_bytes, encrypt_iter
from domicile.crypto.header import Header, Stanza, parse_header
from domicile.crypto.hybrid import MLKEM768X25519Identity, MLKEM768X25519Recipient
from domicile.crypto.keyring import KeyEntry, Keyring
from domicile.crypto.keytext import AnyIdentity, AnyRecipient, parse_identity, parse_recipient
from domicile.crypto.recipients import (
    Identity,
    Recipient,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
    X25519Recipient,
)
from domicile.crypto.secret import Secret
from domicile.crypto.seekable import SeekableReader
from domicile.crypto.stream import (
    CHUNK_SIZE,
    ENC_CHUNK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    chunk_offset,
    ciphertext_size,
    plaintext_size,
)

__all__ = [
    "CHUNK_SIZE",
    "ENC_CHUNK_SIZE",
    "NONCE_SIZE",
    "TAG_SIZE",
    "AnyIdentity",
    "AnyRecipient",
    "Encryptor",
    "Header",
    "Identity",
    "KeyEntry",
    "Keyring",
    "MLKEM768X25519Identity",
    "MLKEM768X25519Recipient",
    "Recipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "Secret",
    "SeekableReader",
    "Stanza",
    "StreamDecryptor",
    "X25519Identity",
    "X25519Recipient",
    "armor",
    "chunk_offset",
    "ciphertext_size",
    "dearmor",
    "dearmor_iter",
    "decrypt_bytes",
    "decrypt_iter",
    "encrypt_bytes",
    "encrypt_iter",
    "parse_header",
    "parse_identity",
    "parse_recipient",
    "plaintext_size",
]
