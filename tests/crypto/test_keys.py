"""Keys and secrets: age's Bech32 formats, and secrets that never print."""

from __future__ import annotations

import logging
import pickle

import pytest

from domicile.crypto import Secret, X25519Identity, X25519Recipient, bech32
from domicile.errors import MalformedKey

# From the C2SP CCTV vectors; the recipient is what `age-keygen -y` prints for it.
VECTOR_IDENTITY = "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0"
VECTOR_RECIPIENT = "age1xmwwc06ly3ee5rytxm9mflaz2u56jjj36s0mypdrwsvlul66mv4q47ryef"


def test_known_identity_gives_known_recipient() -> None:
    ident = X25519Identity.from_string(VECTOR_IDENTITY)
    assert str(ident.recipient) == VECTOR_RECIPIENT
    assert ident.to_secret().reveal() == VECTOR_IDENTITY
    assert X25519Recipient.from_string(VECTOR_RECIPIENT) == ident.recipient


def test_generated_keys_round_trip() -> None:
    ident = X25519Identity.generate()
    text = ident.to_secret().reveal()
    assert text.startswith("AGE-SECRET-KEY-1") and len(text) == 74
    assert X25519Identity.from_string(text).recipient == ident.recipient
    rec = str(ident.recipient)
    assert rec.startswith("age1") and len(rec) == 62
    assert hash(X25519Recipient.from_string(rec)) == hash(ident.recipient)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "age1",
        VECTOR_IDENTITY.lower(),  # identities are uppercase
        VECTOR_IDENTITY[:-1] + "Q",  # checksum
        VECTOR_IDENTITY[:20] + VECTOR_IDENTITY[20:].lower(),  # mixed case
        VECTOR_RECIPIENT,  # a recipient is not an identity
        bech32.encode("AGE-SECRET-KEY-", b"\x01" * 31),  # wrong length
    ],
)
def test_malformed_identities(text: str) -> None:
    with pytest.raises(MalformedKey) as info:
        X25519Identity.from_string(text)
    assert info.value.hint
    if len(text) > 20:
        assert text[16:40] not in str(info.value)  # the error never echoes key material


@pytest.mark.parametrize(
    "text", ["", "age1xyz", VECTOR_RECIPIENT.upper(), VECTOR_IDENTITY, VECTOR_RECIPIENT[:-1] + "q"]
)
def test_malformed_recipients(text: str) -> None:
    with pytest.raises(MalformedKey):
        X25519Recipient.from_string(text)


def test_secrets_never_print(caplog: pytest.LogCaptureFixture) -> None:
    value = "correct horse battery staple"
    secret = Secret(value)
    ident = X25519Identity.from_string(Secret(VECTOR_IDENTITY))
    renderings = [
        str(secret),
        repr(secret),
        f"{secret}",
        f"{secret!r:>40}",
        "%s" % secret,  # noqa: UP031
        repr([secret]),
        repr(ident),
        str(ident),
        repr(ident.to_secret()),
    ]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").warning("passphrase %s identity %r", secret, ident)
    renderings.append(caplog.text)
    for text in renderings:
        assert value not in text and VECTOR_IDENTITY not in text, text
    assert "**redacted**" in str(secret)
    assert secret.reveal() == value
    assert secret == Secret(value) and secret != Secret("other")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        Secret(b"bytes")  # type: ignore[arg-type]


def test_bech32_rejects_garbage() -> None:
    for text in ["1abcdef", "age1" + "b" * 10, "age\x7f1qqqqqqq"]:
        with pytest.raises(bech32.Bech32Error):
            bech32.decode(text)
    hrp, data = bech32.decode(bech32.encode("age", b"\x00\xff" * 16))
    assert (hrp, data) == ("age", b"\x00\xff" * 16)
