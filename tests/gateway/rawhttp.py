"""Hand-made requests to a live gateway: SigV4 signed with our own canonical helpers (so a
test can sign at any time, with any secret, over any body), sent with http.client or a raw
socket (to cut a body short or disconnect mid-upload), and S3 error documents read back."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest

from domicile.errors import ObjectNotFound
from domicile.gateway import canonical as c
from domicile.gateway.chunked import chunk_signature, trailer_signature
from domicile.gateway.logs import JsonFormatter
from tests.engine.conftest import blob_files
from tests.gateway.live import ACCESS_KEY, OTHER_SECRET, SECRET

REGION = "us-east-1"
UNSIGNED = "UNSIGNED-PAYLOAD"


@dataclass(frozen=True)
class Signed:
    """The headers of a signed request, and what a streaming body chains from."""

    headers: dict[str, str]
    signature: str
    key: bytes
    amz_date: str
    scope: str


def sign(
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    *,
    payload: str = UNSIGNED,
    access_key: str = ACCESS_KEY,
    secret: str = SECRET,
    when: datetime | None = None,
) -> Signed:
    """SigV4 header auth over every header given (plus host, date and payload hash).

    ``path`` is the raw path as it will be sent; ``query`` decoded pairs; ``payload`` the
    ``x-amz-content-sha256`` value (a hex digest or a mode)."""
    amz_date = f"{(when or datetime.now(UTC)):%Y%m%dT%H%M%SZ}"
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    out = {k.lower(): v for k, v in (headers or {}).items()}
    out |= {"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload}
    names = sorted(out)
    request = c.canonical_request(
        method,
        c.canonical_uri(path),
        c.canonical_query(query),
        c.header_values(out.items()),
        signed=names,
        payload_hash=payload,
    )
    key = c.signing_key(secret, amz_date[:8], REGION)
    signature = c.sign(key, c.string_to_sign(amz_date, scope, request))
    out["authorization"] = (
        f"{c.ALGORITHM} Credential={access_key}/{scope},"
        f"SignedHeaders={';'.join(names)},Signature={signature}"
    )
    return Signed(out, signature, key, amz_date, scope)


@dataclass(frozen=True)
class Answer:
    """A response: status, headers (lowercase names) and the whole body."""

    status: int
    headers: dict[str, str]
    body: bytes

    def error(self) -> tuple[str, int]:
        """``(Code, status)`` of an S3 error document, checked for S3's shape: ``<Error>``
        with ``Code``, ``Message`` and the ``RequestId`` the ``x-amz-request-id`` header
        carries."""
        assert self.headers.get("content-type") == "application/xml", self.headers
        root = ElementTree.fromstring(self.body)
        assert root.tag == "Error", self.body
        code, message, rid = (root.findtext(n) for n in ("Code", "Message", "RequestId"))
        assert code and message, self.body
        assert rid and rid == self.headers.get("x-amz-request-id"), (rid, self.headers)
        return code, self.status


def host_of(endpoint: str) -> str:
    return urlsplit(endpoint).netloc


def send(
    endpoint: str,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]] | str = (),
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> Answer:
    """Send one request as given (no header added but Content-Length for a body)."""
    parts = urlsplit(endpoint)
    raw_query = query if isinstance(query, str) else c.canonical_query(query)
    target = path + (f"?{raw_query}" if raw_query else "")
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        given = {k.lower(): v for k, v in (headers or {}).items()}
        if "host" not in given:
            given["host"] = parts.netloc
        if body and "content-length" not in given:
            given["content-length"] = str(len(body))
        for name, value in given.items():
            conn.putheader(name, value)
        # Refused before the body's end: the answer is already on its way.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.endheaders(body or None)
        response = conn.getresponse()
        data = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def signed_request(
    endpoint: str,
    method: str,
    path: str,
    query: Sequence[tuple[str, str]] = (),
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    *,
    payload: str | None = None,
    **signing: Any,
) -> Answer:
    """Sign (payload: the body's SHA-256 unless given) and send one request."""
    given = dict(headers or {})
    if body:
        given.setdefault("content-length", str(len(body)))
    digest = hashlib.sha256(body).hexdigest() if payload is None else payload
    signed = sign(method, host_of(endpoint), path, query, given, payload=digest, **signing)
    return send(endpoint, method, path, query, signed.headers, body)


def signed_chunks(signed: Signed, chunks: Iterable[bytes]) -> list[bytes]:
    """The aws-chunked framing of ``chunks`` (then the final empty chunk), each signed in
    the chain that starts at the request's own signature."""
    previous, out = signed.signature, []
    for chunk in [*chunks, b""]:
        digest = hashlib.sha256(chunk).hexdigest()
        sig = chunk_signature(signed.key, signed.amz_date, signed.scope, previous, digest)
        out.append(f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n")
        previous = sig
    return out


def signed_trailer(signed: Signed, previous: str, trailers: Mapping[str, str]) -> bytes:
    """The trailers block of a signed streaming upload (after the final chunk)."""
    sig = trailer_signature(signed.key, signed.amz_date, signed.scope, previous, trailers)
    lines = "".join(f"{n}:{v}\r\n" for n, v in trailers.items())
    return f"{lines}x-amz-trailer-signature:{sig}\r\n\r\n".encode()


def send_cut(
    endpoint: str,
    head: str,
    body: bytes,
    *,
    during: Callable[[], None] | None = None,
    chunk: int = 1 << 20,
) -> None:
    """Send a request's head then ``body`` on a raw socket, call ``during`` (the upload
    still open), and close without reading: the body the head announces never ends."""
    parts = urlsplit(endpoint)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1"))
        view = memoryview(body)
        for start in range(0, len(body), chunk):
            sock.sendall(view[start : start + chunk])
        if during is not None:
            during()


def request_head(method: str, target: str, headers: Mapping[str, str]) -> str:
    lines = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
    return "\r\n".join(lines) + "\r\n\r\n"


def answered(gateway: Any) -> int:
    """How many requests the gateway has finished (every status, every operation)."""
    return int(
        sum(
            sample.value
            for metric in gateway.metrics.registry.collect()
            if metric.name == "domicile_s3_requests"
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
    )


def wait_answered(gateway: Any, before: int, timeout: float = 15.0) -> None:
    """Wait until a request sent after ``answered()`` was ``before`` has been finished
    (a cut upload has been aborted) and nothing else is in flight."""
    deadline = time.monotonic() + timeout
    while (answered(gateway) <= before or gateway.in_flight) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert answered(gateway) > before and gateway.in_flight == 0, "the request never ended"


# --- what a refused request must not leave behind -----------------------------------------

SITES = ("fr", "de", "us", "ch")


def blobs(live: Any) -> set[Path]:
    """Every blob file on every site of the live deployment."""
    return {path for site in SITES for path in blob_files(live.root, site)}


def assert_nothing_left(live: Any, bucket: str, key: str, before: set[Path]) -> None:
    """``bucket/key`` is not visible, and once orphans are swept no blob written since
    ``before`` (a :func:`blobs` snapshot) survives on any site."""
    with pytest.raises(ObjectNotFound):
        live.engine.head(bucket, key)
    assert key not in [o.key for o in live.engine.list(bucket, prefix=key).objects]
    live.engine.sweep(grace=0)
    assert blobs(live) - before == set()


def assert_no_secret(records: Iterable[logging.LogRecord], *secrets: str) -> None:
    """No log record (message, extra fields or traceback) holds a secret or a signing key
    derived from one."""
    today = f"{datetime.now(UTC):%Y%m%d}"
    needles = set()
    for secret in (SECRET, OTHER_SECRET, *secrets):
        key = c.signing_key(secret, today, REGION)
        needles |= {secret, key.hex(), repr(key)[2:-1]}
    formatter = JsonFormatter()
    for record in records:
        line = formatter.format(record)
        for needle in needles:
            assert needle not in line, f"a secret is logged: {line[:300]}"
