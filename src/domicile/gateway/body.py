"""A request body as the engine must see it: decoded, and proven whole and authentic.

:class:`VerifiedBody` wraps the raw pieces of a body and yields its payload. Every check
that needs the whole body runs when the last piece has been read and *before* the iterator
ends, so the engine, which commits an object only after its body's end, never commits a
body that fails one; the failure aborts the upload and nothing is visible:

- the byte count against ``Content-Length`` (``IncompleteBody``; a client that disconnects
  mid-body ends the same way);
- aws-chunked decoding with every chunk signature (:mod:`.chunked`);
- the signed ``x-amz-content-sha256`` (``XAmzContentSHA256Mismatch``);
- ``Content-MD5`` (``BadDigest`` / ``InvalidDigest``);
- ``x-amz-checksum-*`` from the headers or the trailers (:mod:`.checksums`), whose values
  are kept in :attr:`VerifiedBody.checksums` for the response and for the engine to
  store with the object or part (it asks for them once the body has ended).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Iterator
from typing import Final

from domicile.gateway import checksums as cs
from domicile.gateway.chunked import ChunkedDecoder, decoder_for
from domicile.gateway.payload import PayloadMode, PayloadVerifier
from domicile.gateway.request import S3Request
from domicile.gateway.s3errors import reject
from domicile.gateway.sigv4 import AuthResult

#: The largest body of one PutObject or UploadPart, as on S3.
MAX_UPLOAD: Final = 5 * 1024**3


class VerifiedBody:
    """The payload of ``raw`` (an iterable of the body's pieces as received)."""

    def __init__(
        self, req: S3Request, auth: AuthResult, raw: Iterable[bytes], *, limit: int = MAX_UPLOAD
    ) -> None:
        self._raw = raw
        self._declared = _content_length(req)
        self._decoder: ChunkedDecoder | None = None
        decoded = self._declared
        if auth.payload_mode.chunked:
            self._decoder = decoder_for(auth, req.headers)
            decoded = int(req.header("x-amz-decoded-content-length") or "0")
        if decoded is not None and decoded > limit:
            raise reject(
                "EntityTooLarge",
                f"a body of {decoded} bytes is over the {limit}-byte limit of one upload",
                hint="send objects over 5 GiB as a multipart upload (any S3 client does)",
            )
        self._limit = limit
        #: The payload size the request announced (the decoded length for aws-chunked).
        self.declared_size = decoded
        self._sha = (
            PayloadVerifier(auth.payload_sha256)
            if auth.payload_mode is PayloadMode.SHA256 and auth.payload_sha256
            else None
        )
        self._md5_expected = _content_md5(req.header("content-md5"))
        self._md5 = hashlib.md5(usedforsecurity=False) if self._md5_expected else None
        self._expected = cs.expected_from_headers(req.headers)
        trailing = [
            cs.algorithm_for_header(name.strip())
            for name in (req.header("x-amz-trailer") or "").split(",")
            if name.strip().lower().startswith("x-amz-checksum-")
        ]
        self._sums = cs.ChecksumSet([*self._expected, *trailing])
        self.raw_size = 0
        self.size = 0
        #: The checksums computed over the payload, S3-encoded, once the body is read.
        self.checksums: dict[str, str] = {}

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The checksum algorithms the request announced (headers and ``x-amz-trailer``)."""
        return self._sums.algorithms

    def __iter__(self) -> Iterator[bytes]:
        for piece in self._raw:
            self.raw_size += len(piece)
            if self._declared is not None and self.raw_size > self._declared:
                raise _length_error(self.raw_size, self._declared, "more than")
            if self._decoder is None:
                self._take(piece)
                yield piece
                continue
            for out in self._decoder.feed(piece):
                self._take(out)
                yield out
        self._finish()

    def read_all(self) -> bytes:
        """The whole payload (for small XML bodies; the caller bounds the size)."""
        return b"".join(self)

    def _take(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._limit:
            raise reject("EntityTooLarge", f"the body is over the {self._limit}-byte limit")
        if self._sha is not None:
            self._sha.update(data)
        if self._md5 is not None:
            self._md5.update(data)
        self._sums.update(data)

    def _finish(self) -> None:
        if self._declared is not None and self.raw_size != self._declared:
            raise _length_error(self.raw_size, self._declared, "only")
        trailers: dict[str, str] = {}
        if self._decoder is not None:
            trailers = self._decoder.finish()
        if self._sha is not None:
            self._sha.finish()
        if self._md5 is not None and not hmac.compare_digest(
            self._md5.digest(), self._md5_expected
        ):
            raise reject(
                "BadDigest",
                "the Content-MD5 you sent does not match the body received",
                hint="the body was altered in transit; send the request again",
            )
        expected = dict(self._expected)
        for name, value in trailers.items():
            if name.startswith("x-amz-checksum-"):
                expected[cs.algorithm_for_header(name)] = value
        self.checksums = self._sums.verify(expected)


def _content_length(req: S3Request) -> int | None:
    value = req.header("content-length")
    if value is None:
        return None
    if not value.isascii() or not value.isdigit():
        raise reject("InvalidArgument", f"Content-Length {value[:40]!r} is not a byte count")
    return int(value)


def _content_md5(value: str | None) -> bytes:
    if value is None:
        return b""
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise reject(
            "InvalidDigest",
            "the Content-MD5 you sent is not the base64 of a 16-byte MD5",
            hint="send base64(md5(body)), not its hex form",
        )
    return raw


def _length_error(received: int, declared: int, qualifier: str) -> Exception:
    return reject(
        "IncompleteBody",
        f"the body holds {qualifier} {received} bytes; Content-Length says {declared}",
        hint="send exactly the number of bytes announced in Content-Length",
    )
