"""Bech32 (BIP 173 checksum, no length limit) as age uses it for keys.

age encodes recipients as ``age1...`` (lowercase) and identities as
``AGE-SECRET-KEY-1...`` (uppercase). Mixed case is invalid; the checksum is the original
Bech32 constant (not Bech32m). Unlike BIP 173, no 90-character limit applies.
"""

from __future__ import annotations

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_INDEX = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


class Bech32Error(ValueError):
    """The string is not valid Bech32; the message says why (never echoes the string)."""


def _polymod(values: list[int]) -> int:
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, *, pad: bool) -> list[int]:
    acc = 0
    bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        raise Bech32Error("invalid padding in the data part")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Bech32-encode ``data`` under ``hrp``; the result is lowercase unless ``hrp`` is upper."""
    upper = hrp.isupper()
    low_hrp = hrp.lower()
    values = _convert_bits(data, 8, 5, pad=True)
    checksum_in = _hrp_expand(low_hrp) + values + [0] * 6
    mod = _polymod(checksum_in) ^ 1
    checksum = [(mod >> 5 * (5 - i)) & 31 for i in range(6)]
    text = low_hrp + "1" + "".join(CHARSET[v] for v in values + checksum)
    return text.upper() if upper else text


def decode(text: str) -> tuple[str, bytes]:
    """``(hrp, data)`` of a Bech32 string; ``hrp`` keeps the case of the input."""
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("mixed case")
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise Bech32Error("invalid character")
    pos = text.rfind("1")
    if pos < 1 or pos + 7 > len(text):
        raise Bech32Error("separator '1' missing or misplaced")
    hrp = text[:pos]
    try:
        values = [_INDEX[c] for c in text[pos + 1 :].lower()]
    except KeyError:
        raise Bech32Error("invalid character in the data part") from None
    if _polymod(_hrp_expand(hrp.lower()) + values) != 1:
        raise Bech32Error("checksum mismatch")
    return hrp, bytes(_convert_bits(values[:-6], 5, 8, pad=False))
