"""The post-quantum hybrid recipient type (``mlkem768x25519``): keys, stanzas, mixing."""

from __future__ import annotations

import hashlib
import os

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from domicile.crypto import (
    MLKEM768X25519Identity,
    MLKEM768X25519Recipient,
    X25519Identity,
    X25519Recipient,
    decrypt_bytes,
    encrypt_bytes,
    parse_header,
    parse_identity,
    parse_recipient,
)
from domicile.crypto.encoding import b64decode_raw
from domicile.crypto.hybrid import (
    _LOW_ORDER,
    BODY_SIZE,
    ENC_SIZE,
    PUBLIC_SIZE,
    STANZA_TYPE,
    is_low_order,
)
from domicile.errors import CryptoError, MalformedKey, NoIdentityMatch

# The example of the C2SP age spec: this identity's recipient is the 1,959-character
# age1pq1x34nzsvr0rx... string printed there (compared by its SHA-256 to keep this short).
SPEC_IDENTITY = "AGE-SECRET-KEY-PQ-1XX76JRALNLXDMEW0CRK45QMCCH4X06SE84UN3VPM33W6HWDX0H3SK3ZQFR"
SPEC_RECIPIENT_START = "age1pq1x34nzsvr0rxjsgdn8zgyhfe8j7ceq5r9rdelkjuh3y235jzxshfg87pzf5z"
SPEC_RECIPIENT_END = "k3tlhl53k2ykx3qheyty7saeq0d3fzv49zc0k"
SPEC_RECIPIENT_SHA256 = "a091dd7e0ee9d62b75173dcc98441a0424baa941e66a8776e570a4ae60ff61ea"


@pytest.fixture(scope="module")
def pq() -> MLKEM768X25519Identity:
    return MLKEM768X25519Identity.generate()


def test_the_spec_example_identity_gives_the_spec_recipient() -> None:
    identity = MLKEM768X25519Identity.from_string(SPEC_IDENTITY)
    text = str(identity.recipient)
    assert len(text) == 1959
    assert text.startswith(SPEC_RECIPIENT_START) and text.endswith(SPEC_RECIPIENT_END)
    assert hashlib.sha256(text.encode()).hexdigest() == SPEC_RECIPIENT_SHA256
    assert identity.to_secret().reveal() == SPEC_IDENTITY
    assert MLKEM768X25519Recipient.from_string(text) == identity.recipient
    assert len(identity.recipient.public_bytes) == PUBLIC_SIZE


def test_round_trip_and_stanza_shape(pq: MLKEM768X25519Identity) -> None:
    blob = encrypt_bytes(b"harvest now, decrypt never", [pq.recipient])
    header = parse_header(blob)
    assert header is not None
    (stanza,) = header.stanzas
    assert stanza.type == STANZA_TYPE and len(stanza.args) == 1
    assert len(b64decode_raw(stanza.args[0])) == ENC_SIZE
    assert len(stanza.body) == BODY_SIZE
    assert decrypt_bytes(blob, [pq]) == b"harvest now, decrypt never"


def test_every_wrap_is_fresh(pq: MLKEM768X25519Identity) -> None:
    one, two = (pq.recipient.wrap(bytes(16))[0] for _ in range(2))
    assert one.args != two.args and one.body != two.body


def test_another_identity_does_not_match(pq: MLKEM768X25519Identity) -> None:
    blob = encrypt_bytes(b"x", [pq.recipient])
    with pytest.raises(NoIdentityMatch):
        decrypt_bytes(blob, [MLKEM768X25519Identity.generate(), X25519Identity.generate()])


def test_several_pq_recipients_each_read(pq: MLKEM768X25519Identity) -> None:
    other = MLKEM768X25519Identity.generate()
    blob = encrypt_bytes(b"both", [pq.recipient, other.recipient])
    assert decrypt_bytes(blob, [other]) == b"both"
    assert decrypt_bytes(blob, [pq]) == b"both"


def test_pq_and_classic_recipients_are_never_mixed(pq: MLKEM768X25519Identity) -> None:
    classic = X25519Identity.generate().recipient
    with pytest.raises(CryptoError, match="cannot mix post-quantum"):
        encrypt_bytes(b"x", [pq.recipient, classic])
    with pytest.raises(CryptoError, match="cannot mix post-quantum"):
        encrypt_bytes(b"x", [classic, pq.recipient])
    assert pq.recipient.post_quantum and not classic.post_quantum


def test_parse_dispatches_on_the_prefix(pq: MLKEM768X25519Identity) -> None:
    classic = X25519Identity.generate()
    assert isinstance(parse_recipient(str(pq.recipient)), MLKEM768X25519Recipient)
    assert isinstance(parse_recipient(str(classic.recipient)), X25519Recipient)
    assert isinstance(parse_identity(pq.to_secret()), MLKEM768X25519Identity)
    assert isinstance(parse_identity(classic.to_secret()), X25519Identity)


def test_malformed_keys_are_refused_without_echo(pq: MLKEM768X25519Identity) -> None:
    text = str(pq.recipient)
    broken = text[:-1] + ("q" if text[-1] != "q" else "p")
    with pytest.raises(MalformedKey, match="checksum"):
        parse_recipient(broken)
    classic_as_pq = str(X25519Identity.generate().recipient).replace("age1", "age1pq1", 1)
    with pytest.raises(MalformedKey):
        MLKEM768X25519Recipient.from_string(classic_as_pq)
    secret = pq.to_secret().reveal()
    with pytest.raises(MalformedKey) as info:
        parse_identity(secret[:-2] + "QQ")
    assert secret[20:40] not in str(info.value)
    with pytest.raises(MalformedKey, match="not an mlkem768x25519 identity"):
        MLKEM768X25519Identity.from_string(X25519Identity.generate().to_secret())
    assert secret[20:40] not in repr(pq)


def test_the_low_order_table_is_exactly_the_shares_giving_a_zero_secret() -> None:
    """Every listed share (top bit clear or set) makes X25519 fail with the all-zero
    secret; random shares and their neighbours do not."""
    key = X25519PrivateKey.generate()

    def zero(share: bytes) -> bool:
        try:
            key.exchange(X25519PublicKey.from_public_bytes(share))
        except ValueError:
            return True
        return False

    for value in _LOW_ORDER:
        for top in (0, 1 << 255):
            share = (value | top).to_bytes(32, "little")
            assert is_low_order(share) and zero(share), value
        near = (value + 3).to_bytes(32, "little")  # 3 apart: no two listed values are
        assert not is_low_order(near) and not zero(near)
    for _ in range(50):
        share = os.urandom(32)
        assert is_low_order(share) == zero(share)
