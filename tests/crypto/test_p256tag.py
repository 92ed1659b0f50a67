"""The age spec's ``p256tag`` hardware recipient type: tag, HPKE wrap and token-style unwrap."""

from __future__ import annotations

import os

import pyrage
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from domicile.crypto import X25519Identity, decrypt_bytes, encrypt_bytes, parse_header
from domicile.crypto.encoding import b64decode_raw
from domicile.crypto.p256tag import (
    BODY_SIZE,
    ENC_SIZE,
    STANZA_TYPE,
    P256TagIdentity,
    P256TagRecipient,
)
from domicile.errors import HeaderError, MalformedKey, NoIdentityMatch

# The example recipient of the C2SP age spec (its tagged recipient types section; the
# spec's example stanza is not addressed to it, so the tag is checked against pyrage).
SPEC_RECIPIENT = "age1tag1qt8lw0ual6avlwmwatk888yqnmdamm7xfd0wak53ut6elz5c4swx2yqdj4e"


@pytest.fixture(scope="module")
def identity() -> P256TagIdentity:
    return P256TagIdentity.from_private_key(ec.generate_private_key(ec.SECP256R1()))


def test_the_spec_example_recipient_parses() -> None:
    recipient = P256TagRecipient.from_string(SPEC_RECIPIENT)
    assert str(recipient) == SPEC_RECIPIENT and len(recipient.uncompressed) == 65
    assert P256TagRecipient(recipient.uncompressed) == recipient


def test_round_trip_and_stanza_shape(identity: P256TagIdentity) -> None:
    blob = encrypt_bytes(b"held by hardware", [identity.recipient])
    header = parse_header(blob)
    assert header is not None
    (stanza,) = header.stanzas
    assert stanza.type == STANZA_TYPE and len(stanza.args) == 2
    enc = b64decode_raw(stanza.args[1])
    assert len(enc) == ENC_SIZE and len(stanza.body) == BODY_SIZE
    assert b64decode_raw(stanza.args[0]) == identity.recipient.tag(enc)
    assert decrypt_bytes(blob, [identity]) == b"held by hardware"


def test_only_stanzas_tagged_for_us_cost_a_dh(identity: P256TagIdentity) -> None:
    calls: list[bytes] = []
    key = ec.generate_private_key(ec.SECP256R1())
    counting = P256TagIdentity.from_private_key(key)

    def dh(enc: bytes) -> bytes:
        calls.append(enc)
        return key.exchange(
            ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
        )

    counted = P256TagIdentity(counting.recipient, dh)
    others = [
        P256TagIdentity.from_private_key(ec.generate_private_key(ec.SECP256R1())) for _ in range(3)
    ]
    blob = encrypt_bytes(b"x", [o.recipient for o in others] + [counted.recipient])
    assert decrypt_bytes(blob, [counted]) == b"x"
    assert len(calls) == 1
    with pytest.raises(NoIdentityMatch):
        decrypt_bytes(encrypt_bytes(b"x", [others[0].recipient]), [counted])
    assert len(calls) == 1


def test_the_rust_age_crate_encrypts_we_decrypt(identity: P256TagIdentity) -> None:
    """pyrage (the Rust age crate) writes p256tag stanzas; a token-style identity reads."""
    plain = os.urandom(70_000)
    blob = pyrage.encrypt(plain, [pyrage.tag.Recipient.from_str(str(identity.recipient))])
    header = parse_header(blob, complete=False)
    assert header is not None
    (stanza,) = [s for s in header.stanzas if s.type == STANZA_TYPE]
    assert b64decode_raw(stanza.args[0]) == identity.recipient.tag(b64decode_raw(stanza.args[1]))
    assert decrypt_bytes(blob, [identity]) == plain


def test_p256tag_is_classic_and_mixes_with_x25519(identity: P256TagIdentity) -> None:
    other = X25519Identity.generate()
    blob = encrypt_bytes(b"recovery", [identity.recipient, other.recipient])
    assert decrypt_bytes(blob, [other]) == b"recovery"
    assert identity.recipient.post_quantum is False


def test_malformed(identity: P256TagIdentity) -> None:
    with pytest.raises(MalformedKey):
        P256TagRecipient.from_string(str(X25519Identity.generate().recipient))
    with pytest.raises(MalformedKey):
        P256TagRecipient(b"\x02" + b"\xff" * 32)
    blob = encrypt_bytes(b"x", [identity.recipient])
    header = parse_header(blob)
    assert header is not None
    stanza = header.stanzas[0]
    from domicile.crypto.header import Stanza

    bad = Stanza(STANZA_TYPE, (stanza.args[0],), stanza.body)
    with pytest.raises(HeaderError):
        identity.unwrap([bad])
    not_a_point = Stanza(STANZA_TYPE, (*stanza.args[:1], "A" * 87), stanza.body)
    assert identity.unwrap([not_a_point]) is None  # the tag does not match first
