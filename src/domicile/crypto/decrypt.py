"""Streaming age v1 decryption: header, file key, then authenticated chunks in order.

Chunks are released only after they authenticate, in order, so a consumer may see a prefix
of the plaintext before an error; it never sees an unauthenticated byte. Failures map to the
error tree: :class:`HeaderError` (malformed header), :class:`NoIdentityMatch` (no identity
opens a stanza), :class:`HeaderMacError` (header changed), :class:`ChunkAuthError` (a chunk
changed, was reordered or belongs to another file), :class:`TruncatedError` (the payload
ends before a chunk flagged final), :class:`TrailingDataError` (bytes after it).

Like the reference implementation, a full-size chunk is first opened as a non-final chunk
and, if that fails, as the final one; a short chunk can only be final.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from domicile.crypto.armor import dearmor_iter, is_armored
from domicile.crypto.header import Header, parse_header, verify_mac
from domicile.crypto.recipients import Identity
from domicile.crypto.stream import (
    ENC_CHUNK_SIZE,
    NONCE_SIZE,
    TAG_SIZE,
    chunk_nonce,
    payload_key,
)
from domicile.errors import (
    ChunkAuthError,
    HeaderError,
    NoIdentityMatch,
    PayloadError,
    TrailingDataError,
    TruncatedError,
)

Buffer = bytes | bytearray | memoryview
_ARMOR_SNIFF = 64


def unwrap_file_key(header: Header, identities: Sequence[Identity]) -> bytes:
    """The file key of ``header``, from the first identity that opens a stanza.

    Enforces that an scrypt stanza is alone, then verifies the header MAC.
    """
    stanzas = header.stanzas
    if any(s.type == "scrypt" for s in stanzas) and len(stanzas) != 1:
        raise HeaderError(
            "malformed age header: an scrypt stanza must be the only stanza",
            hint="the file header is damaged or was not written by an age implementation",
        )
    file_key = None
    for identity in identities:
        file_key = identity.unwrap(stanzas)
        if file_key is not None:
            break
    if file_key is None:
        raise NoIdentityMatch(
            f"none of the {len(identities)} identities can decrypt this file "
            f"({len(stanzas)} recipient stanzas)",
            hint="use the identity (or passphrase) this file was encrypted to",
        )
    verify_mac(header, file_key)
    return file_key


def open_chunk(aead: ChaCha20Poly1305, index: int, chunk: Buffer, *, last: bool) -> bytes:
    """Authenticate and decrypt chunk ``index`` expected to be (or not be) the final one.

    When the expected flag fails, the other flag is tried only to name the fault: a chunk
    expected final that opens as non-final means the payload was cut (TruncatedError); a
    chunk expected non-final that opens as final means data was appended
    (TrailingDataError). Anything else is a ChunkAuthError.
    """
    try:
        return aead.decrypt(chunk_nonce(index, last), chunk, None)
    except InvalidTag:
        pass
    try:
        aead.decrypt(chunk_nonce(index, not last), chunk, None)
    except InvalidTag:
        raise ChunkAuthError(
            f"payload chunk {index} failed authentication: it was changed, moved, or "
            "belongs to another file",
            hint="the blob is corrupt or was tampered with; read another copy",
            chunk=index,
        ) from None
    if last:
        raise TruncatedError(
            f"payload chunk {index} should be the final chunk but is not: the blob was cut",
            hint="the blob is truncated; read another copy",
            chunk=index,
        )
    raise TrailingDataError(
        f"payload chunk {index} is flagged final but more data follows it",
        hint="the blob has data appended or its recorded length is wrong; read another copy",
        chunk=index,
    )


class StreamDecryptor:
    """Push-style decryption: :meth:`feed` pieces of an age file, then :meth:`finish`.

    Both are generators of plaintext pieces; consume them fully, in order. Memory is bounded
    by the header (at most 1 MiB) and one encrypted chunk.
    """

    def __init__(self, identities: Sequence[Identity]) -> None:
        self._identities = tuple(identities)
        if not self._identities:
            raise NoIdentityMatch("no identity given to decrypt with", hint="load a keyring")
        self._buf = bytearray()
        self._aead: ChaCha20Poly1305 | None = None
        self._file_key: bytes | None = None
        self._index = 0
        self._done = False
        self.header: Header | None = None

    def feed(self, data: Buffer) -> Iterator[bytes]:
        """Consume a piece of the file; yields the plaintext chunks it completes."""
        if self._aead is None:
            self._buf += data
            if not self._start():
                return
            rest = bytes(self._buf)
            self._buf.clear()
            yield from self._chunks(memoryview(rest))
        else:
            yield from self._chunks(memoryview(data).cast("B"))

    def finish(self) -> Iterator[bytes]:
        """End of input: yields the final chunk, or raises if the payload is incomplete."""
        if self._aead is None:
            if self.header is None:
                parse_header(self._buf, complete=True)
            raise HeaderError(
                "the age file ends before its payload nonce",
                hint="the blob is truncated; read another copy",
            )
        if self._done:
            return
        chunk = self._buf
        if not chunk:
            raise TruncatedError(
                f"the payload ends after {self._index} chunks without a final chunk",
                hint="the blob is truncated; read another copy",
                chunks=self._index,
            )
        if len(chunk) < TAG_SIZE:
            raise TruncatedError(
                f"payload chunk {self._index} is shorter than its authentication tag",
                hint="the blob is truncated; read another copy",
                chunk=self._index,
            )
        if len(chunk) == TAG_SIZE and self._index > 0:
            raise PayloadError(
                f"payload chunk {self._index} is an empty final chunk, which age forbids",
                hint="the file was written by a non-conforming encoder",
                chunk=self._index,
            )
        assert self._aead is not None
        yield open_chunk(self._aead, self._index, chunk, last=True)
        self._done = True
        self._buf = bytearray()

    def _start(self) -> bool:
        if self.header is None:
            self.header = parse_header(self._buf, complete=False)
            if self.header is None:
                return False
            self._file_key = unwrap_file_key(self.header, self._identities)
            del self._buf[: self.header.length]
        if len(self._buf) < NONCE_SIZE:
            return False
        assert self._file_key is not None
        self._aead = ChaCha20Poly1305(payload_key(self._file_key, bytes(self._buf[:NONCE_SIZE])))
        self._file_key = None
        del self._buf[:NONCE_SIZE]
        return True

    def _open_full(self, chunk: Buffer) -> bytes:
        assert self._aead is not None
        nonce = chunk_nonce(self._index, False)
        try:
            out = self._aead.decrypt(nonce, chunk, None)
        except InvalidTag:
            out = open_chunk(self._aead, self._index, chunk, last=True)
            self._done = True
        self._index += 1
        return out

    def _trailing(self) -> TrailingDataError:
        return TrailingDataError(
            f"data follows the final payload chunk (chunk {self._index - 1})",
            hint="the blob has data appended; read another copy",
            chunk=self._index - 1,
        )

    def _chunks(self, view: memoryview) -> Iterator[bytes]:
        size = len(view)
        pos = 0
        buf = self._buf
        if size and self._done:
            raise self._trailing()
        if buf:
            pos = min(ENC_CHUNK_SIZE - len(buf), size)
            buf += view[:pos]
            if len(buf) == ENC_CHUNK_SIZE:
                yield self._open_full(buf)
                buf.clear()
        while size - pos >= ENC_CHUNK_SIZE:
            if self._done:
                raise self._trailing()
            yield self._open_full(view[pos : pos + ENC_CHUNK_SIZE])
            pos += ENC_CHUNK_SIZE
        if pos < size:
            if self._done:
                raise self._trailing()
            buf += view[pos:]


def _sniff(chunks: Iterable[Buffer]) -> tuple[bool, Iterator[Buffer]]:
    """Whether the stream is armored, and the stream with the sniffed bytes put back."""
    it = iter(chunks)
    head = bytearray()
    for chunk in it:
        head += chunk
        if len(head.lstrip(b" \t\r\n")) >= _ARMOR_SNIFF or len(head) > 1 << 16:
            break

    def rest() -> Iterator[Buffer]:
        if head:
            yield bytes(head)
        yield from it

    return is_armored(bytes(head)), rest()


def decrypt_iter(
    chunks: Iterable[Buffer], identities: Sequence[Identity], *, armored: bool | None = None
) -> Iterator[bytes]:
    """The plaintext of the age file made of ``chunks``, chunk by chunk.

    ``armored``: true for ASCII-armored input, false for binary, ``None`` to detect it (the
    input is armored if it starts, whitespace aside, with ``-----``). Each yielded piece is
    authenticated; on any failure the iterator raises after the pieces that were authentic.
    """
    decryptor = StreamDecryptor(identities)
    sniffed, stream = _sniff(chunks)
    if armored is None:
        armored = sniffed
    source: Iterable[Buffer] = dearmor_iter(stream) if armored else stream
    for piece in source:
        yield from decryptor.feed(piece)
    yield from decryptor.finish()


def decrypt_bytes(
    data: Buffer, identities: Sequence[Identity], *, armored: bool | None = None
) -> bytes:
    """The plaintext of a whole age file (binary or armored, see :func:`decrypt_iter`)."""
    return b"".join(decrypt_iter([data], identities, armored=armored))
