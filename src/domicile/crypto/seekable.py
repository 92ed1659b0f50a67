"""Random access into an age file: decrypt any plaintext range by reading only its chunks.

The reader callback fetches ciphertext byte ranges, so the same code serves local files and
remote objects. With header length ``H`` and ciphertext length ``C`` known (the catalog keeps
both), plaintext byte ``p`` lives in chunk ``i = p // 65536`` which starts at
``H + 16 + i * 65552``; a range ``[start, end)`` needs chunks ``start // 65536`` through
``(end - 1) // 65536`` and nothing else, plus one read of the header and nonce.

Every chunk is authenticated before any of its bytes is released, with its index (so a
moved chunk fails) and with the final flag exactly when it is the last chunk that ``C``
implies: a tail read thus proves the file ends there (a cut file, whose supposed last chunk
is not flagged final, raises TruncatedError; a file with data appended raises
TrailingDataError).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from domicile.crypto.decrypt import open_chunk, unwrap_file_key
from domicile.crypto.header import MAX_HEADER_SIZE, Header, parse_header
from domicile.crypto.recipients import Identity
from domicile.crypto.stream import (
    CHUNK_SIZE,
    ENC_CHUNK_SIZE,
    NONCE_SIZE,
    chunk_count,
    chunk_offset,
    payload_key,
    plaintext_size,
)
from domicile.errors import HeaderError, InvalidRange, PayloadError, TruncatedError
from domicile.types import RangeReader

_FIRST_HEADER_READ = 4096


class SeekableReader:
    """Decrypts plaintext ranges of one age file through ``read(offset, length)``.

    Construction reads the header (and the payload nonce), unwraps the file key with
    ``identities`` and verifies the header MAC; it raises the usual header errors
    (HeaderError, NoIdentityMatch, HeaderMacError) and, for a ``ciphertext_length`` that no
    age file can have, TruncatedError or PayloadError. When ``header_length`` is given (from
    the catalog) the header is read in one call and must have exactly that length; otherwise
    it is read in growing pieces until its MAC line.

    The reader may return fewer bytes than asked only at the end of the data; a short answer
    is reported as :class:`TruncatedError`, a longer one as :class:`PayloadError`.
    """

    def __init__(
        self,
        read: RangeReader,
        ciphertext_length: int,
        identities: Sequence[Identity],
        header_length: int | None = None,
    ) -> None:
        self._read = read
        self.ciphertext_length = ciphertext_length
        #: How many reader calls and ciphertext bytes this reader made (for tests, benches).
        self.reads = 0
        self.bytes_read = 0
        if header_length is not None:
            plaintext_size(ciphertext_length, header_length)  # fail fast, before any I/O
        header, nonce = self._read_header(header_length)
        self.header: Header = header
        self.header_length: int = header.length
        self.plaintext_size: int = plaintext_size(ciphertext_length, header.length)
        self._chunks = chunk_count(self.plaintext_size)
        file_key = unwrap_file_key(header, identities)
        self._aead = ChaCha20Poly1305(payload_key(file_key, nonce))

    def _fetch(self, offset: int, length: int) -> bytes | memoryview:
        data = self._read(offset, length)
        self.reads += 1
        self.bytes_read += len(data)
        if len(data) < length:
            raise TruncatedError(
                f"the blob returned {len(data)} bytes at offset {offset} where "
                f"{length} were expected: it is shorter than its recorded "
                f"{self.ciphertext_length} bytes",
                hint="the blob is truncated; read another copy",
                offset=offset,
            )
        if len(data) > length:
            raise PayloadError(
                f"the range reader returned {len(data)} bytes for a {length}-byte request",
                hint="this is a bug in the storage adapter's ranged read",
                offset=offset,
            )
        return data

    def _read_header(self, header_length: int | None) -> tuple[Header, bytes]:
        limit = min(self.ciphertext_length, MAX_HEADER_SIZE + NONCE_SIZE)
        if header_length is not None:
            data = bytes(self._fetch(0, min(header_length + NONCE_SIZE, limit)))
            header = parse_header(data, complete=True)
            assert header is not None
            if header.length != header_length:
                raise HeaderError(
                    f"the blob's header is {header.length} bytes, not the recorded {header_length}",
                    hint="the blob was replaced or the catalog is wrong; read another copy",
                )
            return header, data[header.length :]
        size = min(_FIRST_HEADER_READ, limit)
        while True:
            data = bytes(self._fetch(0, size))
            header = parse_header(data, complete=size >= limit)
            if header is not None and len(data) >= header.length + NONCE_SIZE:
                return header, data[header.length : header.length + NONCE_SIZE]
            if size >= limit:
                raise HeaderError(
                    "the age file ends before its payload nonce",
                    hint="the blob is truncated; read another copy",
                )
            size = min(size * 4, limit)

    def _check_range(self, start: int, end: int) -> None:
        if not 0 <= start <= end <= self.plaintext_size:
            raise InvalidRange(
                f"range [{start}, {end}) is outside the {self.plaintext_size}-byte plaintext",
                hint="ask for a range within the object",
                start=start,
                end=end,
                size=self.plaintext_size,
            )

    def iter_range(self, start: int, end: int, window_chunks: int = 16) -> Iterator[bytes]:
        """Plaintext ``[start, end)``, yielded chunk by chunk, reading ``window_chunks``
        chunks per reader call: memory stays bounded by one window whatever the range."""
        self._check_range(start, end)
        if window_chunks < 1:
            raise ValueError("window_chunks must be at least 1")
        if start == end:
            return
        first, last = start // CHUNK_SIZE, (end - 1) // CHUNK_SIZE
        for win in range(first, last + 1, window_chunks):
            win_last = min(win + window_chunks - 1, last)
            offset = chunk_offset(win, self.header_length)
            stop = min(chunk_offset(win_last + 1, self.header_length), self.ciphertext_length)
            view = memoryview(self._fetch(offset, stop - offset))
            for index in range(win, win_last + 1):
                rel = (index - win) * ENC_CHUNK_SIZE
                plain = open_chunk(
                    self._aead,
                    index,
                    view[rel : rel + ENC_CHUNK_SIZE],
                    last=index == self._chunks - 1,
                )
                base = index * CHUNK_SIZE
                lo, hi = max(start - base, 0), min(end - base, len(plain))
                yield plain if (lo, hi) == (0, len(plain)) else plain[lo:hi]

    def read(self, start: int, end: int) -> bytes:
        """Plaintext ``[start, end)`` in one reader call for the chunks it covers."""
        self._check_range(start, end)
        if start == end:
            return b""
        window = (end - 1) // CHUNK_SIZE - start // CHUNK_SIZE + 1
        return b"".join(self.iter_range(start, end, window_chunks=window))

    def verify(self, window_chunks: int = 16) -> None:
        """Authenticate every chunk (a deep scrub); raises the payload error found first."""
        for _ in self.iter_range(0, self.plaintext_size, window_chunks):
            pass
        if self.plaintext_size == 0:
            offset = chunk_offset(0, self.header_length)
            open_chunk(
                self._aead, 0, self._fetch(offset, self.ciphertext_length - offset), last=True
            )

    def __repr__(self) -> str:
        return (
            f"SeekableReader(ciphertext_length={self.ciphertext_length}, "
            f"header_length={getattr(self, 'header_length', None)}, "
            f"plaintext_size={getattr(self, 'plaintext_size', None)})"
        )
