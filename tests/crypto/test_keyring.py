"""The keyring file: create, load, add, protect; clear errors for every way it goes wrong."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from domicile.crypto import (
    Keyring,
    MLKEM768X25519Identity,
    Secret,
    X25519Identity,
    decrypt_bytes,
    encrypt_bytes,
)
from domicile.errors import KeyringError, KeyringNotFound, MalformedKey, WrongPassphrase

FAST = 10  # scrypt work factor for tests (the default, 18, takes about a second)


def test_create_load_add(tmp_path: Path) -> None:
    path = tmp_path / "keyring.txt"
    ring = Keyring.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(ring.identities) == 1 and not ring.protected
    text = path.read_text()
    assert text.startswith("# created: ")
    assert f"# public key: {ring.recipients[0]}" in text
    assert ring.identities[0].to_secret().reveal() in text
    added = ring.add_new()
    again = Keyring.load(path)
    assert again.recipients == (ring.recipients[0], added.recipient)
    assert [e.created is not None for e in again.entries] == [True, True]
    assert list(tmp_path.iterdir()) == [path]  # no temp file left behind
    blob = encrypt_bytes(b"data", again.recipients)
    assert decrypt_bytes(blob, [again.identities[1]]) == b"data"


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keyring.txt"
    path.write_text("precious\n")
    with pytest.raises(KeyringError, match="already exists") as info:
        Keyring.create(path)
    assert info.value.hint and path.read_text() == "precious\n"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(KeyringNotFound) as info:
        Keyring.load(tmp_path / "nope.txt")
    assert "domicile init" in (info.value.hint or "")


def test_protected_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring.age"
    ring = Keyring.create(path, Secret("s3cret"), work_factor=FAST)
    assert ring.protected
    raw = path.read_bytes()
    assert raw.startswith(b"age-encryption.org/v1\n-> scrypt ")
    assert ring.identities[0].to_secret().reveal().encode() not in raw
    loaded = Keyring.load(path, Secret("s3cret"))
    assert loaded.recipients == ring.recipients
    loaded.add_new()  # saved re-encrypted under the same passphrase
    assert len(Keyring.load(path, Secret("s3cret")).identities) == 2
    with pytest.raises(WrongPassphrase) as info:
        Keyring.load(path, Secret("wrong"))
    assert "s3cret" not in str(info.value) and info.value.hint
    with pytest.raises(KeyringError, match="passphrase-protected"):
        Keyring.load(path)


def test_malformed_keyring(tmp_path: Path) -> None:
    path = tmp_path / "keyring.txt"
    good = X25519Identity.generate().to_secret().reveal()
    bad = good[:-1] + ("Q" if good[-1] != "Q" else "P")  # checksum broken
    path.write_text(f"# a comment\n{good}\n\n{bad}\n")
    with pytest.raises(MalformedKey, match="line 4") as info:
        Keyring.load(path)
    assert good[20:60] not in str(info.value)
    path.write_text("# only comments\n")
    with pytest.raises(MalformedKey, match="no identity"):
        Keyring.load(path)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(MalformedKey):
        Keyring.load(path)


def test_keyring_repr_shows_no_key(tmp_path: Path) -> None:
    ring = Keyring.create(tmp_path / "k.txt", Secret("pw"), work_factor=FAST)
    text = repr(ring) + repr(ring.entries) + repr(ring.identities)
    assert "AGE-SECRET-KEY" not in text and "pw'" not in text


def test_post_quantum_identities_live_beside_classic_ones(tmp_path: Path) -> None:
    path = tmp_path / "keyring.txt"
    ring = Keyring.create(path, Secret("pass phrase"), work_factor=10)
    pq = ring.add_new(post_quantum=True)
    assert isinstance(pq, MLKEM768X25519Identity)
    again = Keyring.load(path, Secret("pass phrase"))
    assert [type(i).__name__ for i in again.identities] == [
        "X25519Identity",
        "MLKEM768X25519Identity",
    ]
    assert again.recipients_of(post_quantum=True) == (pq.recipient,)
    assert again.recipients_of(post_quantum=False) == (ring.identities[0].recipient,)
    blob = encrypt_bytes(b"pq", again.recipients_of(post_quantum=True))
    assert decrypt_bytes(blob, again.identities) == b"pq"


def test_a_plain_pq_keyring_is_an_age_keygen_pq_file(tmp_path: Path) -> None:
    path = tmp_path / "keyring.txt"
    ring = Keyring.create(path)
    pq = ring.add_new(post_quantum=True)
    text = path.read_text()
    assert f"# public key: {pq.recipient}\n{pq.to_secret().reveal()}\n" in text
    assert Keyring.load(path).identities[1].recipient == pq.recipient
