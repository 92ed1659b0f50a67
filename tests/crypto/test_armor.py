"""ASCII armor: our encoder's output decodes, in any piece size, with age's rules."""

from __future__ import annotations

import os

import pytest

from domicile.crypto import (
    X25519Identity,
    armor,
    dearmor,
    dearmor_iter,
    decrypt_bytes,
    encrypt_bytes,
)
from domicile.errors import ArmorError


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 1000])
def test_armor_round_trip(size: int) -> None:
    data = os.urandom(size)
    text = armor(data)
    assert all(len(line) <= 64 for line in text.splitlines())
    assert dearmor(text) == data
    pieces = [text[i : i + 5] for i in range(0, len(text), 5)]
    assert b"".join(dearmor_iter(pieces)) == data
    assert dearmor(b"\r\n \t" + text.replace(b"\n", b"\r\n") + b"\n\n") == data


def test_armored_files_decrypt(identity: X25519Identity) -> None:
    blob = encrypt_bytes(os.urandom(100_000), [identity.recipient])
    assert decrypt_bytes(armor(blob), [identity]) == decrypt_bytes(blob, [identity])


@pytest.mark.parametrize(
    "text",
    [
        b"",
        b"-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n",
        b"-----BEGIN AGE ENCRYPTED FILE-----\nAAAA\n-----END AGE ENCRYPTED FILE-----\nx",
        b"-----BEGIN AGE ENCRYPTED FILE-----\n" + b"A" * 68 + b"\n",
        b"-----BEGIN AGE ENCRYPTED FILE-----\nAA\nAAAA\n-----END AGE ENCRYPTED FILE-----\n",
    ],
)
def test_bad_armor(text: bytes) -> None:
    with pytest.raises(ArmorError):
        dearmor(text)
