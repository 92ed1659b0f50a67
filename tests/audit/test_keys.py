"""The audit key: generated, saved 0600, loaded back; public keys in three forms; no leaks."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from domicile.audit import (
    AuditKey,
    key_id,
    load_private_key,
    load_public_key,
    parse_public_key,
    public_key_text,
    save_private_key,
)
from domicile.errors import AuditKeyError

RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw


def test_private_key_round_trip(tmp_path: Path, key: AuditKey) -> None:
    path = tmp_path / "audit.key"
    save_private_key(path, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    loaded = load_private_key(path)
    assert loaded.key_id == key.key_id
    assert loaded.sign(b"m") == key.sign(b"m")
    assert [p.name for p in tmp_path.iterdir()] == ["audit.key"]  # no temp file left


def test_saving_replaces_an_existing_key(
    tmp_path: Path, key: AuditKey, other_key: AuditKey
) -> None:
    path = tmp_path / "audit.key"
    save_private_key(path, other_key)
    save_private_key(path, key)
    assert load_private_key(path).key_id == key.key_id


def test_the_private_key_never_prints(key: AuditKey) -> None:
    pem_body = key.to_pem().decode().splitlines()[1]
    for text in (repr(key), str(key), f"{key}"):
        assert "**redacted**" in text and key.key_id in text
        assert pem_body not in text


def test_key_id_is_sha256_prefix(key: AuditKey) -> None:
    import hashlib

    raw = key.public.public_bytes(*RAW)
    assert key_id(key.public) == hashlib.sha256(raw).hexdigest()[:16] == key.key_id


@pytest.mark.parametrize("form", ["pem", "raw", "base64", "base64-newline"])
def test_public_key_forms(tmp_path: Path, key: AuditKey, form: str) -> None:
    data = {
        "pem": key.public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "raw": key.public.public_bytes(*RAW),
        "base64": public_key_text(key.public).encode(),
        "base64-newline": public_key_text(key.public).encode() + b"\n",
    }[form]
    path = tmp_path / "audit.pub"
    path.write_bytes(data)
    assert key_id(load_public_key(path)) == key.key_id


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not a key",
        b"QUJD",  # base64 of 3 bytes
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    ],
    ids=["empty", "text", "short", "ec-key"],
)
def test_bad_public_keys_are_refused(data: bytes) -> None:
    with pytest.raises(AuditKeyError) as info:
        parse_public_key(data, source="pub")
    assert info.value.hint and info.value.context["file"] == "pub"


def test_bad_private_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(AuditKeyError, match="no audit key file"):
        load_private_key(tmp_path / "missing")
    with pytest.raises(AuditKeyError, match="no public key file"):
        load_public_key(tmp_path / "missing")
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(AuditKeyError, match="PEM"):
        load_private_key(garbage)
    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(AuditKeyError, match="not an Ed25519"):
        AuditKey.from_pem(ec_pem)
