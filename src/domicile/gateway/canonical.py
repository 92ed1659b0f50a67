"""SigV4 building blocks: canonical request, string to sign, signing key, signature.

These follow AWS Signature Version 4 as S3 applies it:

- the canonical URI is the path URI-encoded once (S3 does not double-encode and does not
  normalise ``.``/``..`` segments); ``/`` stays as is;
- the canonical query is every parameter URI-encoded (``/`` too), sorted by encoded name
  then encoded value, joined as ``name=value`` with ``&``;
- canonical headers are the signed headers, lowercased, each value trimmed with inner
  runs of whitespace collapsed to one space, repeated headers joined with ``,``;
- UriEncode keeps only ``A-Z a-z 0-9 - _ . ~`` and writes every other byte as ``%XY``
  (uppercase hex) of its UTF-8 encoding.

Strings here are ``str`` decoded with ``surrogateescape`` so that any bytes a client sent
survive a decode / re-encode round trip (see :func:`parse_query`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from typing import Final
from urllib.parse import quote, unquote_to_bytes

ALGORITHM: Final = "AWS4-HMAC-SHA256"
TERMINATOR: Final = "aws4_request"
EMPTY_SHA256: Final = hashlib.sha256(b"").hexdigest()


def _bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def uri_encode(text: str, *, keep_slash: bool = False) -> str:
    """AWS UriEncode of ``text``: unreserved characters kept, every other byte ``%XY``."""
    return quote(_bytes(text), safe="/" if keep_slash else "")


def _decode(raw: str) -> str:
    return unquote_to_bytes(raw).decode("utf-8", "surrogateescape")


def parse_query(raw: str) -> list[tuple[str, str]]:
    """Split a raw query string into decoded ``(name, value)`` pairs, in order.

    ``+`` means a space (form encoding, as S3 reads it); a name without ``=`` has the value
    ``""``; empty segments are skipped; invalid UTF-8 survives via ``surrogateescape``.
    This is the form :func:`canonical_query` and :func:`~domicile.gateway.sigv4.verify_request`
    expect.
    """
    pairs = []
    for segment in raw.split("&"):
        if not segment:
            continue
        name, _, value = segment.partition("=")
        pairs.append((_decode(name.replace("+", " ")), _decode(value.replace("+", " "))))
    return pairs


def canonical_uri(raw_path: str) -> str:
    """The canonical URI of a raw (percent-encoded, as received) request path.

    The path is percent-decoded then URI-encoded once with ``/`` kept, so that clients
    that leave some safe characters unencoded still match.
    """
    if not raw_path:
        return "/"
    return quote(unquote_to_bytes(raw_path), safe="/")


def canonical_query(pairs: Iterable[tuple[str, str]], *, exclude: str | None = None) -> str:
    """The canonical query string of decoded ``pairs`` (``exclude``: a name to leave out)."""
    encoded = sorted(
        (uri_encode(name), uri_encode(value)) for name, value in pairs if name != exclude
    )
    return "&".join(f"{name}={value}" for name, value in encoded)


def header_values(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header values by lowercase name: trimmed, inner whitespace collapsed, repeats joined."""
    out: dict[str, list[str]] = {}
    for name, value in headers:
        out.setdefault(name.lower(), []).append(" ".join(value.split()))
    return {name: ",".join(values) for name, values in out.items()}


def canonical_request(
    method: str,
    uri: str,
    query: str,
    values: dict[str, str],
    *,
    signed: Sequence[str],
    payload_hash: str,
) -> str:
    """The canonical request: method, URI, query, headers, signed list, payload hash.

    ``uri`` and ``query`` are already canonical; ``values`` are from :func:`header_values`;
    ``signed`` are lowercase names, each present in ``values``.
    """
    headers = "".join(f"{name}:{values[name]}\n" for name in signed)
    return "\n".join([method, uri, query, headers, ";".join(signed), payload_hash])


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    """``AWS4-HMAC-SHA256``, the timestamp, the scope and the canonical request's hash."""
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    """The SigV4 signing key: HMAC chain over date, region, service and ``aws4_request``."""
    key = _hmac(b"AWS4" + secret.encode("utf-8"), date)
    for part in (region, service, TERMINATOR):
        key = _hmac(key, part)
    return key


def sign(key: bytes, text: str) -> str:
    """The lowercase hex HMAC-SHA256 of ``text`` under ``key``."""
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


def same_signature(expected: str, given: str) -> bool:
    """Constant-time equality of two signatures (ASCII hex strings)."""
    return hmac.compare_digest(expected.encode("ascii"), given.encode("ascii", "replace"))
