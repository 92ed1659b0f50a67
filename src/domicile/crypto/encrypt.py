"""Streaming age v1 encryption with bounded memory.

An age file is ``header`` followed by the payload (16-byte nonce, then STREAM chunks; see
:mod:`domicile.crypto.stream`). :class:`Encryptor` gives the header at construction and the
payload piece by piece, so a body of any size passes through holding at most one chunk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from domicile.crypto.header import Stanza, encode_header
from domicile.crypto.recipients import FILE_KEY_SIZE, Recipient
from domicile.crypto.stream import CHUNK_SIZE, NONCE_SIZE, chunk_nonce, payload_key
from domicile.errors import CryptoError

Buffer = bytes | bytearray | memoryview


def check_recipient_mix(recipients: Sequence[Recipient]) -> None:
    """Refuse post-quantum and classic recipients in one file, as age does: the file would
    be only as strong as its weakest stanza, so the post-quantum one would protect nothing."""
    kinds = {bool(getattr(r, "post_quantum", False)) for r in recipients}  # grease: classic
    if len(kinds) > 1:
        raise CryptoError(
            "cannot mix post-quantum (age1pq1...) and classic (age1...) recipients in one file",
            hint="a file wrapped to a classic recipient too is not protected against a "
            "quantum adversary; use only post-quantum recipients, or only classic ones",
        )


class Encryptor:
    """Encrypts one age file to ``recipients``.

    Usage: write :attr:`header`, then the output of every :meth:`update` call, then the
    output of :meth:`finalize`, in that order. The first ``update`` output is *not* prefixed
    by the header (so the caller knows :attr:`header_length` and can store the header on its
    own); it does start with the 16-byte payload nonce.

    Memory stays bounded: between calls the encryptor keeps either a partial plaintext chunk
    or the ciphertext of the latest full chunk (held back because the final chunk carries
    the "last" flag; if no more data comes, :meth:`finalize` re-seals it as the final
    chunk), never both. Full chunks present in the input are sealed straight from the
    caller's buffer without copying, so the caller may reuse its buffer after each call.
    """

    def __init__(self, recipients: Sequence[Recipient]) -> None:
        if not recipients:
            raise CryptoError(
                "cannot encrypt to no recipients",
                hint="give at least one age1... recipient or a passphrase",
            )
        check_recipient_mix(recipients)
        file_key = os.urandom(FILE_KEY_SIZE)
        stanzas: list[Stanza] = []
        for recipient in recipients:
            stanzas.extend(recipient.wrap(file_key))
        if any(s.type == "scrypt" for s in stanzas) and len(stanzas) != 1:
            raise CryptoError(
                "a passphrase (scrypt) recipient must be the file's only recipient",
                hint="encrypt either to a passphrase or to age1... recipients, not both",
            )
        self.header: bytes = encode_header(stanzas, file_key)
        nonce = os.urandom(NONCE_SIZE)
        self._aead = ChaCha20Poly1305(payload_key(file_key, nonce))
        self._prefix: bytes | None = nonce
        self._pending = bytearray()
        self._held: bytes | None = None
        self._index = 0
        self._finished = False

    @property
    def header_length(self) -> int:
        """Length of :attr:`header`: chunk ``i`` starts at ``header_length + 16 + i * 65552``."""
        return len(self.header)

    def update(self, data: Buffer) -> bytes:
        """Feed plaintext; returns the ciphertext ready so far (maybe empty)."""
        out = self._update(data)
        if len(out) == 1:
            return out[0]
        return b"".join(out)

    def finalize(self) -> bytes:
        """End the payload; returns the rest of the ciphertext, the final chunk included."""
        return b"".join(self._finalize())

    def _start(self) -> list[bytes]:
        if self._finished:
            raise CryptoError("the encryptor was already finalized")
        if self._prefix is None:
            return []
        out = [self._prefix]
        self._prefix = None
        return out

    def _seal_full(self, chunk: Buffer, out: list[bytes]) -> None:
        if self._held is not None:
            out.append(self._held)
        self._held = self._aead.encrypt(chunk_nonce(self._index, False), chunk, None)
        self._index += 1

    def _update(self, data: Buffer) -> list[bytes]:
        out = self._start()
        view = memoryview(data).cast("B")
        size = len(view)
        pos = 0
        pending = self._pending
        if pending:
            pos = min(CHUNK_SIZE - len(pending), size)
            pending += view[:pos]
            if len(pending) == CHUNK_SIZE:
                self._seal_full(pending, out)
                pending.clear()
        while size - pos >= CHUNK_SIZE:
            self._seal_full(view[pos : pos + CHUNK_SIZE], out)
            pos += CHUNK_SIZE
        if pos < size:
            if self._held is not None:
                out.append(self._held)
                self._held = None
            pending += view[pos:]
        return out

    def _finalize(self) -> list[bytes]:
        out = self._start()
        self._finished = True
        if self._pending:
            out.append(self._aead.encrypt(chunk_nonce(self._index, True), self._pending, None))
            self._pending = bytearray()
        elif self._held is not None:
            last = self._index - 1
            plain = self._aead.decrypt(chunk_nonce(last, False), self._held, None)
            out.append(self._aead.encrypt(chunk_nonce(last, True), plain, None))
            self._held = None
        else:
            out.append(self._aead.encrypt(chunk_nonce(0, True), b"", None))
        return out

    def __repr__(self) -> str:
        return f"Encryptor(header_length={len(self.header)}, chunks_sealed={self._index})"


def encrypt_iter(chunks: Iterable[Buffer], recipients: Sequence[Recipient]) -> Iterator[bytes]:
    """The age file for the concatenation of ``chunks``: header first, then ciphertext.

    Pieces are yielded as they are ready (empty pieces are skipped); memory stays bounded
    whatever the total size.
    """
    enc = Encryptor(recipients)
    yield enc.header
    for chunk in chunks:
        for piece in enc._update(chunk):
            if piece:
                yield piece
    yield from enc._finalize()


def encrypt_bytes(data: Buffer, recipients: Sequence[Recipient]) -> bytes:
    """The whole age file for ``data``."""
    return b"".join(encrypt_iter([data], recipients))
