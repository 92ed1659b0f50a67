"""Root identities in a PKCS#11 token (SoftHSM2): the key agreement happens in the token."""

from __future__ import annotations

import os

import pkcs11
import pyrage
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from domicile.crypto import Secret, decrypt_bytes, encrypt_bytes
from domicile.crypto.p256tag import P256TagIdentity
from domicile.crypto.token import TokenKeyring, TokenURI
from domicile.errors import KeyringError, KeyringNotFound, NoIdentityMatch, WrongPassphrase
from tests.softhsm import SoftHSM

pytestmark = pytest.mark.softhsm


def _ring(hsm: SoftHSM, obj: str, **kw: float) -> TokenKeyring:
    return TokenKeyring(TokenURI.parse(hsm.uri(obj)), Secret(hsm.pin), **kw)


def test_uri_parsing() -> None:
    uri = TokenURI.parse(
        "pkcs11:token=My%20Token;object=root;id=%01%02?module-path=/x/lib.so&pin-value=12%3B4"
    )
    assert uri.token == "My Token" and uri.object == "root" and uri.id == b"\x01\x02"
    assert uri.module_path == "/x/lib.so"
    assert uri.pin is not None and uri.pin.reveal() == "12;4"
    assert "12;4" not in repr(uri)
    for bad in (
        "pkcs11:token=x",
        "pkcs11:token=x;bogus=1?module-path=/m",
        "file:/x",
        "pkcs11:type=public?module-path=/m",
    ):
        with pytest.raises(KeyringError):
            TokenURI.parse(bad)


def test_root_key_is_generated_in_the_token_and_never_leaves(softhsm: SoftHSM) -> None:
    ring = _ring(softhsm, "never-leaves")
    assert ring.identities == ()
    identity = ring.add_new()
    assert str(identity.recipient).startswith("age1tag1")
    again = _ring(softhsm, "never-leaves")
    assert again.recipients == (identity.recipient,)
    lib = pkcs11.lib(softhsm.module)
    # the keyring holds the login: PKCS#11 logs in the process, every session shares it
    with lib.get_token(token_label=softhsm.label).open() as session:
        (key,) = session.get_objects(
            {
                pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
                pkcs11.Attribute.LABEL: "never-leaves",
            }
        )
        assert key[pkcs11.Attribute.SENSITIVE] and not key[pkcs11.Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.AttributeSensitive):
            key[pkcs11.Attribute.VALUE]
    ring.close()
    again.close()


def test_the_token_unwraps_what_software_and_the_rust_crate_wrap(softhsm: SoftHSM) -> None:
    ring = _ring(softhsm, "unwraps")
    ring.add_new()
    plain = os.urandom(100_000)
    ours = encrypt_bytes(plain, ring.recipients_of(post_quantum=False))
    theirs = pyrage.encrypt(plain, [pyrage.tag.Recipient.from_str(str(ring.recipients[0]))])
    assert decrypt_bytes(ours, ring.identities) == plain
    assert decrypt_bytes(theirs, ring.identities) == plain
    stranger = P256TagIdentity.from_private_key(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(NoIdentityMatch):
        decrypt_bytes(encrypt_bytes(b"x", [stranger.recipient]), ring.identities)
    ring.close()


def test_unwraps_are_cached_for_a_bounded_time(softhsm: SoftHSM) -> None:
    ring = _ring(softhsm, "cached", cache_seconds=0.3, cache_size=2)
    ring.add_new()
    blobs = [encrypt_bytes(b"%d" % i, ring.recipients) for i in range(3)]
    decrypt_bytes(blobs[0], ring.identities)
    decrypt_bytes(blobs[0], ring.identities)
    assert ring.token_calls == 1  # the second read of that header cost no token call
    for blob in blobs:
        decrypt_bytes(blob, ring.identities)
    assert ring.token_calls == 3  # two new headers
    decrypt_bytes(blobs[0], ring.identities)
    assert ring.token_calls == 4  # evicted: at most cache_size entries
    import time

    time.sleep(0.35)
    decrypt_bytes(blobs[2], ring.identities)
    assert ring.token_calls == 5  # expired
    ring.close()


def test_no_post_quantum_identity_in_a_token(softhsm: SoftHSM) -> None:
    ring = _ring(softhsm, "no-pq")
    assert ring.recipients_of(post_quantum=True) == ()
    with pytest.raises(KeyringError, match="post-quantum"):
        ring.add_new(post_quantum=True)
    ring.close()


def test_clear_errors(softhsm: SoftHSM) -> None:
    with pytest.raises(WrongPassphrase):
        TokenKeyring(TokenURI.parse(softhsm.uri("x")), Secret("000000"))
    with _ring(softhsm, "x"), pytest.raises(WrongPassphrase):  # logged in: still checked
        TokenKeyring(TokenURI.parse(softhsm.uri("x")), Secret("000000"))
    with pytest.raises(KeyringNotFound):
        TokenKeyring(TokenURI.parse(softhsm.uri("x").replace(softhsm.label, "nope")), Secret("1"))
    with pytest.raises(KeyringError, match="PIN"):
        TokenKeyring(TokenURI.parse(softhsm.uri("x")))
    with pytest.raises(KeyringNotFound):
        TokenKeyring(TokenURI.parse("pkcs11:token=x?module-path=/nonexistent.so"), Secret("1"))


def test_keys_on_other_curves_are_not_root_keys(softhsm: SoftHSM) -> None:
    from pkcs11.util.ec import encode_named_curve_parameters

    with _ring(softhsm, "curves") as ring:
        ring.add_new()
        lib = pkcs11.lib(softhsm.module)
        with lib.get_token(token_label=softhsm.label).open(rw=True) as session:
            params = session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp384r1")},
                local=True,
            )
            params.generate_keypair(store=True, label="curves", id=b"p384")
        again = _ring(softhsm, "curves")
        assert again.recipients == ring.recipients  # the P-384 key is not taken for one
        again.close()
