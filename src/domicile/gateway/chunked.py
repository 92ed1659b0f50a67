"""The ``aws-chunked`` body decoder: chunk signatures, decoded length and trailers.

A streaming upload's body is a series of chunks, then trailing headers::

    <hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n      (repeated; the last has size 0)
    <name>:<value>\\r\\n ...                                (trailers, if announced)
    [x-amz-trailer-signature:<sig>\\r\\n]                     (signed-trailer mode)
    \\r\\n

In the signed modes every chunk's signature (the last, empty one too) is an HMAC, under the
request's signing key, of ``AWS4-HMAC-SHA256-PAYLOAD``, the request time, the scope, the
previous signature (the request's own for the first chunk), the empty string's hash and
the chunk's hash: dropping, reordering, changing or truncating chunks breaks the chain.
The trailer signature chains from the last chunk's over ``name:value\\n`` of each trailer.

:class:`ChunkedDecoder` is incremental and bounded: feed it any pieces of the body; it
returns payload pieces as soon as they arrive and buffers at most one header line
(``max_line`` bytes) and the trailers (``max_trailers`` bytes). Payload released before a
chunk's signature is checked is *not yet authentic*: the caller must not commit anything
before :meth:`ChunkedDecoder.finish` returns (the engine commits a version only at the end
of its body, so a failure here aborts the upload). Errors are
:class:`~domicile.errors.RequestRejected`: ``SignatureDoesNotMatch`` for a bad chunk or
trailer signature, ``IncompleteBody`` for a truncated body or a wrong decoded length,
``InvalidRequest`` for broken framing, ``MalformedTrailerError`` for bad trailers.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping, Sequence
from typing import Final

from domicile.errors import RequestRejected
from domicile.gateway import canonical as c
from domicile.gateway.s3errors import reject
from domicile.gateway.sigv4 import AuthResult

PAYLOAD_ALGORITHM: Final = "AWS4-HMAC-SHA256-PAYLOAD"
TRAILER_ALGORITHM: Final = "AWS4-HMAC-SHA256-TRAILER"
MAX_LINE: Final = 4096
MAX_TRAILERS: Final = 16 * 1024
_SIGNED_HEADER: Final = re.compile(rb"([0-9a-fA-F]{1,16});chunk-signature=([0-9a-f]{64})")
_UNSIGNED_HEADER: Final = re.compile(rb"([0-9a-fA-F]{1,16})")
_TRAILER_LINE: Final = re.compile(rb"([A-Za-z0-9-]{1,128}):[ \t]*([\x21-\x7e]{0,1024})[ \t]*")
_TRAILER_SIGNATURE: Final = "x-amz-trailer-signature"


def chunk_signature(
    signing_key: bytes, amz_date: str, scope: str, previous: str, chunk_sha256: str
) -> str:
    """The signature of one chunk whose hex SHA-256 is ``chunk_sha256``."""
    text = "\n".join([PAYLOAD_ALGORITHM, amz_date, scope, previous, c.EMPTY_SHA256, chunk_sha256])
    return c.sign(signing_key, text)


def trailer_signature(
    signing_key: bytes, amz_date: str, scope: str, previous: str, trailers: Mapping[str, str]
) -> str:
    """The signature of the trailers (``name:value\\n`` each, in order) after ``previous``."""
    block = "".join(f"{name}:{value}\n" for name, value in trailers.items())
    digest = hashlib.sha256(block.encode("ascii")).hexdigest()
    return c.sign(signing_key, "\n".join([TRAILER_ALGORITHM, amz_date, scope, previous, digest]))


class ChunkedDecoder:
    """Decode (and authenticate) an aws-chunked body fed in arbitrary pieces.

    ``auth`` is the request's :class:`AuthResult` (its mode must be chunked);
    ``decoded_length`` the ``x-amz-decoded-content-length`` (``None``: not checked);
    ``trailers`` the names announced in ``x-amz-trailer`` (lowercase compared); every
    announced trailer must arrive and no other may.
    """

    def __init__(
        self,
        auth: AuthResult,
        *,
        decoded_length: int | None,
        trailers: Iterable[str] = (),
        max_line: int = MAX_LINE,
        max_trailers: int = MAX_TRAILERS,
    ) -> None:
        mode = auth.payload_mode
        if not mode.chunked:
            raise ValueError(f"{mode.value} is not an aws-chunked mode")
        self._auth = auth
        self._signed = mode.signed_chunks
        self._trailer_mode = mode.trailer
        self._announced = tuple(dict.fromkeys(t.strip().lower() for t in trailers if t.strip()))
        if self._announced and not self._trailer_mode:
            raise reject("InvalidRequest", f"x-amz-trailer is not allowed with {mode.value}")
        self._decoded_length = decoded_length
        self._max_line = max_line
        self._max_trailers = max_trailers
        self._previous = auth.seed_signature
        self._buffer = bytearray()
        self._state = "header"
        self._remaining = 0
        self._chunk_hash = hashlib.sha256()
        self._chunk_claim = ""
        self._trailer_bytes = 0
        self._blank_skipped = False
        self.size = 0
        self.chunks = 0
        self.trailers: dict[str, str] = {}
        self._trailer_sig: str | None = None

    @property
    def done(self) -> bool:
        """True once the final empty line was read (the body is complete and verified)."""
        return self._state == "done"

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Consume the next piece of the body; return the payload bytes it completes."""
        out: list[bytes] = []
        buf = data if isinstance(data, bytes) else bytes(data)
        pos = 0
        while pos < len(buf):
            if self._state == "data":
                take = min(self._remaining, len(buf) - pos)
                piece = buf[pos : pos + take]
                pos += take
                self._remaining -= take
                if self._signed:
                    self._chunk_hash.update(piece)
                out.append(piece)
                if self._remaining == 0:
                    self._state = "data-crlf"
            elif self._state == "done":
                raise _framing("bytes follow the end of the aws-chunked body")
            else:
                pos = self._take_line(buf, pos)
        return out

    def finish(self) -> dict[str, str]:
        """Check that the body ended where it should; return the trailers (lowercase names).

        Trailers that end at the end of the stream without the final empty line are
        accepted (some SDKs omit it); anything else unfinished is ``IncompleteBody``.
        """
        if self._state == "trailers" and self.trailers and not self._buffer:
            self._end_trailers()
        if self._state != "done":
            raise reject(
                "IncompleteBody",
                f"the aws-chunked body ended early, after {self.size} payload bytes in "
                f"{self.chunks} chunks",
                hint="the upload was cut off; send it again",
            )
        return dict(self.trailers)

    # --- lines --------------------------------------------------------------------------

    def _take_line(self, buf: bytes, pos: int) -> int:
        """Accumulate up to the next LF; handle the line; return the new position."""
        end = buf.find(b"\n", pos, pos + self._max_line + 1)
        stop = min(len(buf), pos + self._max_line + 1) if end < 0 else end + 1
        self._buffer += buf[pos:stop]
        if len(self._buffer) > self._max_line:
            raise _framing(f"a chunk header or trailer line is longer than {self._max_line} bytes")
        if end < 0:
            return stop
        line = bytes(self._buffer)
        self._buffer.clear()
        if not line.endswith(b"\r\n") or b"\r" in line[:-2]:
            raise _framing("lines of an aws-chunked body must end with CRLF")
        self._handle(line[:-2])
        return stop

    def _handle(self, line: bytes) -> None:
        if self._state == "data-crlf":
            if line:
                raise _framing(f"chunk {self.chunks} is longer than its declared size")
            self._end_chunk()
            self._state = "header"
        elif self._state == "header":
            self._start_chunk(line)
        elif self._state == "trailers":
            if line:
                self._add_trailer(line)
            elif self._trailer_mode and not self._blank_skipped and not self._trailer_bytes:
                # Some clients end the final chunk with its own CRLF before the trailers.
                self._blank_skipped = True
            else:
                self._end_trailers()
        else:  # pragma: no cover - states are exhaustive
            raise AssertionError(self._state)

    def _start_chunk(self, line: bytes) -> None:
        match = (_SIGNED_HEADER if self._signed else _UNSIGNED_HEADER).fullmatch(line)
        if match is None:
            form = "SIZE;chunk-signature=SIG" if self._signed else "SIZE"
            raise _framing(f"chunk header {line[:80]!r} is not of the form {form} (hex size)")
        size = int(match.group(1), 16)
        self._chunk_claim = match.group(2).decode() if self._signed else ""
        self._chunk_hash = hashlib.sha256()
        self.chunks += 1
        self.size += size
        if self._decoded_length is not None and self.size > self._decoded_length:
            raise _length(self.size, self._decoded_length, "at least")
        if size:
            self._remaining = size
            self._state = "data"
            return
        self._end_chunk()
        self._check_length()
        self._state = "trailers"

    def _end_chunk(self) -> None:
        if not self._signed:
            return
        auth = self._auth
        expected = chunk_signature(
            auth.signing_key,
            auth.amz_date,
            auth.scope,
            self._previous,
            self._chunk_hash.hexdigest(),
        )
        if not c.same_signature(expected, self._chunk_claim):
            raise reject(
                "SignatureDoesNotMatch",
                f"the signature of chunk {self.chunks} does not match its data and position",
                hint="a chunk was changed, dropped or reordered in transit; send the upload again",
                access_key=auth.access_key,
            )
        self._previous = expected

    def _check_length(self) -> None:
        if self._decoded_length is not None and self.size != self._decoded_length:
            raise _length(self.size, self._decoded_length, "")

    def _add_trailer(self, line: bytes) -> None:
        self._trailer_bytes += len(line)
        if self._trailer_bytes > self._max_trailers:
            raise _trailer(f"the trailers are longer than {self._max_trailers} bytes")
        if not self._trailer_mode:
            raise _framing("the final chunk must be followed by an empty line")
        match = _TRAILER_LINE.fullmatch(line)
        if match is None:
            raise _trailer(f"trailer line {line[:80]!r} is not NAME:VALUE")
        name, value = match.group(1).decode().lower(), match.group(2).decode()
        if name == _TRAILER_SIGNATURE and self._signed and self._trailer_sig is None:
            self._trailer_sig = value
        elif name not in self._announced or name in self.trailers or self._trailer_sig:
            raise _trailer(f"trailer {name!r} was not announced in x-amz-trailer, or repeats")
        else:
            self.trailers[name] = value

    def _end_trailers(self) -> None:
        missing = [name for name in self._announced if name not in self.trailers]
        if missing:
            raise _trailer(f"announced trailers did not arrive: {', '.join(missing)}")
        if self._signed and self._trailer_mode:
            self._check_trailer_signature()
        self._state = "done"

    def _check_trailer_signature(self) -> None:
        auth = self._auth
        if self._trailer_sig is None:
            raise reject("SignatureDoesNotMatch", "the trailers carry no x-amz-trailer-signature")
        expected = trailer_signature(
            auth.signing_key, auth.amz_date, auth.scope, self._previous, self.trailers
        )
        if not c.same_signature(expected, self._trailer_sig):
            raise reject(
                "SignatureDoesNotMatch",
                "the trailer signature does not match the trailers",
                hint="the trailers were changed in transit; send the upload again",
                access_key=auth.access_key,
            )


def decoder_for(
    auth: AuthResult, headers: Sequence[tuple[str, str]], **limits: int
) -> ChunkedDecoder:
    """A decoder for a request whose ``auth.payload_mode`` is chunked, from its headers.

    ``x-amz-decoded-content-length`` is required (``MissingContentLength``); in the trailer
    modes ``x-amz-trailer`` names the trailers (``InvalidRequest`` if absent).
    """
    values = c.header_values(headers)
    length = values.get("x-amz-decoded-content-length")
    if length is None or not length.isascii() or not length.isdigit():
        raise reject(
            "MissingContentLength",
            "a streaming upload needs an x-amz-decoded-content-length header (a byte count)",
            hint="send the payload's length before aws-chunked encoding",
        )
    announced = values.get("x-amz-trailer", "")
    if auth.payload_mode.trailer and not announced:
        raise reject(
            "InvalidRequest",
            f"{auth.payload_mode.value} needs an x-amz-trailer header naming the trailers",
        )
    return ChunkedDecoder(auth, decoded_length=int(length), trailers=announced.split(","), **limits)


def iter_decoded(decoder: ChunkedDecoder, body: Iterable[bytes]) -> Iterator[bytes]:
    """The payload of ``body`` (a sync iterable of pieces); ``decoder.finish()`` at the end."""
    for piece in body:
        yield from decoder.feed(piece)
    decoder.finish()


async def aiter_decoded(
    decoder: ChunkedDecoder, body: AsyncIterable[bytes]
) -> AsyncIterator[bytes]:
    """The payload of ``body`` (an async iterable of pieces); ``decoder.finish()`` at the end."""
    async for piece in body:
        for out in decoder.feed(piece):
            yield out
    decoder.finish()


def _framing(problem: str) -> RequestRejected:
    return reject("InvalidRequest", f"malformed aws-chunked body: {problem}")


def _trailer(problem: str) -> RequestRejected:
    return reject("MalformedTrailerError", problem, hint="send the trailers named in x-amz-trailer")


def _length(size: int, declared: int, qualifier: str) -> RequestRejected:
    return reject(
        "IncompleteBody",
        f"the aws-chunked body holds {qualifier + ' ' if qualifier else ''}{size} payload bytes; "
        f"x-amz-decoded-content-length says {declared}",
        hint="send the payload's exact length in x-amz-decoded-content-length",
    )
