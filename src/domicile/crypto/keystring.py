"""The Bech32 strings of age keys: one parse, one kind of error for every key type."""

from __future__ import annotations

from domicile.crypto import bech32
from domicile.errors import MalformedKey


def decode_key(text: str, *, hrp: str, size: int, what: str, expected: str, hint: str) -> bytes:
    """The ``size`` bytes of a Bech32 key string of prefix ``hrp``. MalformedKey ``invalid
    {what}: ...`` (saying it is not ``expected``) otherwise, never echoing the text."""
    try:
        found, data = bech32.decode(text)
    except bech32.Bech32Error as exc:
        raise MalformedKey(f"invalid {what}: {exc}", hint=hint) from None
    if found != hrp or len(data) != size:
        raise MalformedKey(f"invalid {what}: not {expected}", hint=hint)
    return data
