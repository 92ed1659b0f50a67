"""Canonical, unpadded base64 as the age header uses it."""

from __future__ import annotations

import base64
import binascii

_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")


def b64encode_raw(data: bytes) -> str:
    """Standard base64 without ``=`` padding."""
    return base64.b64encode(data).decode("ascii").rstrip("=")


def b64decode_raw(text: str | bytes) -> bytes:
    """Decode unpadded standard base64, accepting only the canonical encoding.

    Raises ``ValueError`` on padding, on any character outside the alphabet (including
    CR, LF and spaces), on an impossible length, and on non-zero trailing bits (the
    encoding would not round-trip), so that one value has exactly one spelling.
    """
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    if not _ALPHABET.issuperset(raw):
        raise ValueError("invalid base64 character")
    if len(raw) % 4 == 1:
        raise ValueError("invalid base64 length")
    try:
        data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid base64") from exc
    if base64.b64encode(data).rstrip(b"=") != raw:
        raise ValueError("non-canonical base64")
    return data
