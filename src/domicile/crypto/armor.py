"""ASCII armor for age files (``age -a``), as the C2SP age spec defines it.

::

    -----BEGIN AGE ENCRYPTED FILE-----
    base64 of the age file, standard alphabet with padding, 64 columns per line,
    the last line shorter or equal, never empty
    -----END AGE ENCRYPTED FILE-----

Lines end with LF or CRLF. Whitespace (space, tab, CR, LF) may surround the armored block;
nothing else may. No armor headers, no checksum, canonical base64 only. Decoding streams
line by line, so memory stays bounded whatever the file size.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Iterator

from domicile.errors import ArmorError

BEGIN = b"-----BEGIN AGE ENCRYPTED FILE-----"
END = b"-----END AGE ENCRYPTED FILE-----"
COLUMNS = 64
_WHITESPACE = b" \t\r\n"
_HINT = "the armored file is damaged; armored age files are produced by 'age -a'"


def is_armored(prefix: bytes) -> bool:
    """Whether data starting with ``prefix`` (whitespace aside) looks like armor."""
    return prefix.lstrip(_WHITESPACE).startswith(b"-----")


def _fail(message: str) -> ArmorError:
    return ArmorError(f"invalid armor: {message}", hint=_HINT)


def _decode_line(line: bytes) -> bytes:
    if len(line) % 4:
        raise _fail("a line is not a whole number of base64 quanta (padding missing?)")
    try:
        data = base64.b64decode(line, validate=True)
    except binascii.Error:
        raise _fail("a line is not valid base64") from None
    if base64.b64encode(data) != line:
        raise _fail("a line is not canonical base64")
    return data


class _Dearmor:
    def __init__(self) -> None:
        self.buf = bytearray()
        self.state = "leading"  # leading -> begin -> body -> trailing
        self.short_seen = False

    def feed(self, data: bytes | bytearray | memoryview) -> Iterator[bytes]:
        if self.state == "trailing":
            self._check_trailing(bytes(data))
            return
        self.buf += data
        if self.state == "leading":
            stripped = self.buf.lstrip(_WHITESPACE)
            del self.buf[: len(self.buf) - len(stripped)]
            if not self.buf:
                return
            self.state = "begin"
        while self.state in ("begin", "body"):
            end = self.buf.find(b"\n")
            if end < 0:
                if len(self.buf) > COLUMNS + 1 and self.buf[: len(END)] != END:
                    raise _fail("a line is longer than 64 columns")
                return
            line = bytes(self.buf[:end])
            del self.buf[: end + 1]
            out = self._line(line.removesuffix(b"\r"))
            if out:
                yield out
        if self.state == "trailing":
            rest = bytes(self.buf)
            self.buf.clear()
            self._check_trailing(rest)

    def _line(self, line: bytes) -> bytes:
        if self.state == "begin":
            if line != BEGIN:
                raise _fail("the first line is not '-----BEGIN AGE ENCRYPTED FILE-----'")
            self.state = "body"
            return b""
        if line == END:
            self.state = "trailing"
            return b""
        if self.short_seen:
            raise _fail("a short line is followed by more data")
        if not line:
            raise _fail("empty line")
        if len(line) > COLUMNS:
            raise _fail("a line is longer than 64 columns")
        self.short_seen = len(line) < COLUMNS or line.endswith(b"=")
        return _decode_line(line)

    def _check_trailing(self, data: bytes) -> None:
        if data.strip(_WHITESPACE):
            raise _fail("data follows the END line")

    def finish(self) -> None:
        if self.state in ("begin", "body") and self.buf.removesuffix(b"\r") == END:
            self.state = "trailing"
            self.buf.clear()
        if self.state == "leading":
            raise _fail("the file is empty")
        if self.state != "trailing":
            raise _fail("the END line is missing")


def dearmor_iter(chunks: Iterable[bytes | bytearray | memoryview]) -> Iterator[bytes]:
    """The binary age file inside an armored stream, decoded piece by piece.

    Raises :class:`ArmorError` as soon as the armor is found malformed (pieces decoded
    before that point have been yielded already; they are still ciphertext).
    """
    decoder = _Dearmor()
    for chunk in chunks:
        yield from decoder.feed(chunk)
    decoder.finish()


def dearmor(data: bytes) -> bytes:
    """The binary age file inside armored ``data``."""
    return b"".join(dearmor_iter([data]))


def armor(data: bytes) -> bytes:
    """``data`` (a binary age file) armored, LF line endings, final LF included."""
    encoded = base64.b64encode(data)
    lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
    return b"\n".join([BEGIN, *lines, END]) + b"\n"
