"""The encryption core: age v1 files (C2SP spec) and the keyring.

A pure core: no knowledge of sites, catalogs or HTTP, and no I/O beyond the keyring file.

- Writing: :class:`Encryptor` (header, then ``update``/``finalize`` pieces),
  :func:`encrypt_iter`, :func:`encrypt_bytes`.
- Reading a stream: :func:`decrypt_iter`, :func:`decrypt_bytes` (binary or armored input).
- Reading a range: :class:`SeekableReader` over a ``read(offset, length)`` callback.
- Keys: :class:`X25519Identity` / :class:`X25519Recipient` (``AGE-SECRET-KEY-1...`` /
  ``age1...``), :class:`ScryptRecipient` / :class:`ScryptIdentity` (passphrases),
  :class:`Secret`, :class:`~domicile.crypto.keyring.Keyring`.
- Arithmetic: :data:`CHUNK_SIZE`, :func:`plaintext_size`, :func:`ciphertext_size`.

Byte layouts are in ``docs/age-format.md``.
"""

from domicile.crypto.armor import armor, dearmor, dearmor_iter
from domicile.crypto.decrypt import StreamDecryptor, decrypt_bytes, decrypt_iter
from domicile.crypto.encrypt import Encryptor, encrypt_bytes, encrypt_iter
from domicile.crypto.header import Header, Stanza, parse_header
from domicile.crypto.keyring import KeyEntry, Keyring
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
    "Encryptor",
    "Header",
    "Identity",
    "KeyEntry",
    "Keyring",
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
    "plaintext_size",
]
