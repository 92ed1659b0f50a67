"""The age v1 header: parse, encode and MAC.

Layout (every line ends with LF, never CRLF)::

    age-encryption.org/v1
    -> TYPE ARG ARG...           one line per stanza: "-> " then arguments
    BASE64 BODY LINE             64 columns while full; the last line is shorter (maybe empty)
    ...
    --- BASE64(HMAC-SHA256)      the MAC covers everything up to and including "---"

Parsing is strict, as the C2SP spec asks: arguments are non-empty runs of printable ASCII
separated by single spaces, bodies are canonical unpadded base64 and end with a line shorter
than 64 columns, and the MAC is 32 bytes in canonical base64. Strictness makes the encoding
unique, so the MAC computed over the raw bytes equals the MAC over a re-encoding.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domicile.crypto.encoding import b64decode_raw, b64encode_raw
from domicile.errors import HeaderError, HeaderMacError

INTRO = b"age-encryption.org/v1\n"
STANZA_PREFIX = b"-> "
FOOTER_PREFIX = b"---"
COLUMNS = 64
BYTES_PER_LINE = 48
MAC_SIZE = 32
#: A header larger than this is refused (bounded memory); about 7,000 X25519 recipients.
MAX_HEADER_SIZE = 1 << 20

_HINT = "the file is not an age v1 file, or its header was damaged; restore it from another copy"


@dataclass(frozen=True, slots=True)
class Stanza:
    """One recipient stanza: its type (first argument), further arguments and body."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def encode(self) -> bytes:
        """The stanza's lines, body wrapped at 64 columns, ending with a short line."""
        line = " ".join((self.type, *self.args))
        encoded = b64encode_raw(self.body)
        lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
        if not lines or len(lines[-1]) == COLUMNS:
            lines.append("")
        return ("-> " + line + "\n" + "".join(s + "\n" for s in lines)).encode("ascii")


@dataclass(frozen=True, slots=True)
class Header:
    """A parsed header: stanzas, MAC, the bytes the MAC covers, and its total length."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    mac_input: bytes
    length: int


def _valid_arg(arg: bytes) -> bool:
    return bool(arg) and all(33 <= c <= 126 for c in arg)


def _fail(message: str) -> HeaderError:
    return HeaderError(f"malformed age header: {message}", hint=_HINT)


class _Lines:
    """Yields LF-terminated lines of a buffer; ``None`` when the buffer ends mid-line."""

    def __init__(self, buf: bytes | bytearray, complete: bool) -> None:
        self.buf = buf
        self.pos = 0
        self.complete = complete

    def next(self) -> bytes | None:
        end = self.buf.find(b"\n", self.pos, self.pos + MAX_HEADER_SIZE)
        if end < 0:
            if self.complete or len(self.buf) - self.pos >= MAX_HEADER_SIZE:
                raise _fail("the header ends before its MAC line")
            return None
        line = bytes(self.buf[self.pos : end])
        self.pos = end + 1
        if self.pos > MAX_HEADER_SIZE:
            raise _fail(f"header larger than {MAX_HEADER_SIZE} bytes")
        return line


def parse_header(buf: bytes | bytearray, *, complete: bool = True) -> Header | None:
    """Parse the header at the start of ``buf``.

    Returns ``None`` if ``buf`` ends before the header does and ``complete`` is false (the
    caller should read more and try again); raises :class:`HeaderError` if the header is
    malformed, or ends early while ``complete`` is true.
    """
    if len(buf) < len(INTRO):
        if complete or not INTRO.startswith(bytes(buf)):
            raise _fail("not an age v1 file (missing 'age-encryption.org/v1' line)")
        return None
    if not buf.startswith(INTRO):
        raise HeaderError(
            "not an age v1 file: unknown or unsupported version line",
            hint="domicile reads age v1 files (age-encryption.org/v1)",
        )
    lines = _Lines(buf, complete)
    lines.pos = len(INTRO)
    stanzas: list[Stanza] = []
    while True:
        start = lines.pos
        line = lines.next()
        if line is None:
            return None
        if line.startswith(FOOTER_PREFIX):
            parts = line.split(b" ")
            if parts[0] != FOOTER_PREFIX or len(parts) != 2:
                raise _fail("malformed MAC line")
            try:
                mac = b64decode_raw(parts[1])
            except ValueError:
                raise _fail("the MAC is not canonical base64") from None
            if len(mac) != MAC_SIZE:
                raise _fail("the MAC is not 32 bytes")
            return Header(tuple(stanzas), mac, bytes(buf[: start + len(FOOTER_PREFIX)]), lines.pos)
        stanza = _parse_stanza(line, lines)
        if stanza is None:
            return None
        stanzas.append(stanza)


def _parse_stanza(first: bytes, lines: _Lines) -> Stanza | None:
    parts = first.split(b" ")
    if parts[0] != b"->" or len(parts) < 2:
        raise _fail("a stanza line must start with '-> ' and name a type")
    if not all(_valid_arg(a) for a in parts[1:]):
        raise _fail("a stanza argument is empty or has a character outside printable ASCII")
    body = bytearray()
    while True:
        line = lines.next()
        if line is None:
            return None
        if len(line) > COLUMNS:
            raise _fail("a stanza body line is longer than 64 columns")
        try:
            chunk = b64decode_raw(line)
        except ValueError:
            raise _fail(
                "a stanza body line is not canonical base64 or the stanza has no final short line"
            ) from None
        body += chunk
        if len(line) < COLUMNS:
            args = tuple(a.decode("ascii") for a in parts[1:])
            return Stanza(args[0], args[1:], bytes(body))


def _mac_key(file_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"header").derive(file_key)


def compute_mac(file_key: bytes, mac_input: bytes) -> bytes:
    """HMAC-SHA256 of the header bytes up to ``---``, keyed by HKDF(file key, "header")."""
    return hmac.new(_mac_key(file_key), mac_input, hashlib.sha256).digest()


def verify_mac(header: Header, file_key: bytes) -> None:
    """Raise :class:`HeaderMacError` unless the header MAC verifies under ``file_key``."""
    if not hmac.compare_digest(compute_mac(file_key, header.mac_input), header.mac):
        raise HeaderMacError(
            "the age header MAC does not verify: the header was changed after it was written",
            hint="the blob was tampered with or damaged; read another copy",
        )


def encode_header(stanzas: Sequence[Stanza], file_key: bytes) -> bytes:
    """The complete header (intro, stanzas, MAC line) for ``stanzas`` under ``file_key``."""
    mac_input = INTRO + b"".join(s.encode() for s in stanzas) + FOOTER_PREFIX
    mac = compute_mac(file_key, mac_input)
    return mac_input + b" " + b64encode_raw(mac).encode("ascii") + b"\n"
