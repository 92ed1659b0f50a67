"""Interop with the stock age CLI, both directions (needs /usr/bin/age: apt-get install age)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from domicile.crypto import (
    CHUNK_SIZE,
    Keyring,
    ScryptIdentity,
    ScryptRecipient,
    Secret,
    SeekableReader,
    X25519Identity,
    decrypt_iter,
    encrypt_iter,
)

from .conftest import run_age, run_age_tty

pytestmark = pytest.mark.age_cli

MIB = 1 << 20
SIZES = [
    0,
    1,
    CHUNK_SIZE - 1,
    CHUNK_SIZE,
    CHUNK_SIZE + 1,
    pytest.param(50 * MIB, marks=pytest.mark.slow, id="50MiB"),
]


def _plain(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "plain"
    with path.open("wb") as out:
        left = size
        while left:
            out.write(os.urandom(min(left, 4 * MIB)))
            left -= min(left, 4 * MIB)
    return path


def _pieces(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while piece := f.read(MIB):
            yield piece


def _write(path: Path, pieces: Iterable[bytes]) -> None:
    with path.open("wb") as out:
        for piece in pieces:
            out.write(piece)


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    if not path.exists() and path.name == "out":  # age creates -o lazily: empty output
        return h.hexdigest()
    with path.open("rb") as f:
        while piece := f.read(MIB):
            h.update(piece)
    return h.hexdigest()


@pytest.mark.parametrize("size", SIZES)
def test_we_encrypt_age_decrypts(
    tmp_path: Path, age_bin: str, identity: X25519Identity, identity_file: Path, size: int
) -> None:
    plain = _plain(tmp_path, size)
    other = X25519Identity.generate()
    _write(tmp_path / "f.age", encrypt_iter(_pieces(plain), [other.recipient, identity.recipient]))
    run_age(["-d", "-i", str(identity_file), "-o", str(tmp_path / "out"), str(tmp_path / "f.age")])
    assert _sha(tmp_path / "out") == _sha(plain)


@pytest.mark.parametrize("size", SIZES)
def test_age_encrypts_we_decrypt(
    tmp_path: Path, age_bin: str, identity: X25519Identity, size: int
) -> None:
    plain = _plain(tmp_path, size)
    enc = tmp_path / "f.age"
    run_age(["-r", str(identity.recipient), "-o", str(enc), str(plain)])
    _write(tmp_path / "out", decrypt_iter(_pieces(enc), [identity]))
    assert _sha(tmp_path / "out") == _sha(plain)
    # and random access into the file age wrote
    data = enc.read_bytes() if size <= 2 * MIB else None
    if data is not None:
        reader = SeekableReader(lambda o, n: data[o : o + n], len(data), [identity])
        assert reader.read(0, size) == plain.read_bytes()


#: Each passphrase case runs scrypt at age's work factor (2**18) twice, seconds of CPU:
#: make check runs the size that crosses a chunk boundary, make test every size.
PASSPHRASE_SIZES = [
    size
    if not isinstance(size, int) or size == CHUNK_SIZE + 1
    else pytest.param(size, marks=pytest.mark.slow, id=str(size))
    for size in SIZES
]


@pytest.mark.parametrize("size", PASSPHRASE_SIZES)
def test_age_passphrase_we_decrypt(tmp_path: Path, age_bin: str, size: int) -> None:
    plain = _plain(tmp_path, size)
    enc = tmp_path / "f.age"
    run_age_tty(["-p", "-o", str(enc), str(plain)], "interop passphrase")
    _write(tmp_path / "out", decrypt_iter(_pieces(enc), [ScryptIdentity("interop passphrase")]))
    assert _sha(tmp_path / "out") == _sha(plain)


@pytest.mark.parametrize("size", [0, CHUNK_SIZE + 1])
def test_we_use_a_passphrase_age_decrypts(tmp_path: Path, age_bin: str, size: int) -> None:
    plain = _plain(tmp_path, size)
    enc = tmp_path / "f.age"
    _write(enc, encrypt_iter(_pieces(plain), [ScryptRecipient("pw 2", work_factor=12)]))
    run_age_tty(["-d", "-o", str(tmp_path / "out"), str(enc)], "pw 2")
    assert _sha(tmp_path / "out") == _sha(plain)


def test_age_armor_we_decrypt(tmp_path: Path, age_bin: str, identity: X25519Identity) -> None:
    plain = _plain(tmp_path, 3 * CHUNK_SIZE + 5)
    armored = run_age(["-a", "-r", str(identity.recipient), str(plain)])
    assert armored.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert b"".join(decrypt_iter([armored], [identity])) == plain.read_bytes()


def test_keyring_files_work_with_age(tmp_path: Path, age_bin: str) -> None:
    plain_ring = Keyring.create(tmp_path / "plain.txt")
    plain_ring.add_new()
    secret_ring = Keyring.create(tmp_path / "secret.age", Secret("ring pw"), work_factor=12)
    msg = tmp_path / "msg"
    msg.write_bytes(b"hello keyring")
    for ring, recipient in [(plain_ring, plain_ring.recipients[1]), (secret_ring, None)]:
        target = recipient or ring.recipients[0]
        enc = tmp_path / "msg.age"
        _write(enc, encrypt_iter([msg.read_bytes()], [target]))
        out = tmp_path / "out"
        if ring.protected:
            run_age_tty(["-d", "-i", str(ring.path), "-o", str(out), str(enc)], "ring pw")
        else:
            run_age(["-d", "-i", str(ring.path), "-o", str(out), str(enc)])
        assert out.read_bytes() == b"hello keyring"
    # `age -d` on the protected keyring gives back the plain identity file
    run_age_tty(["-d", "-o", str(tmp_path / "ring.txt"), str(secret_ring.path)], "ring pw")
    text = (tmp_path / "ring.txt").read_text()
    assert secret_ring.identities[0].to_secret().reveal() in text


def test_age_keygen_identity_file_loads(tmp_path: Path, age_bin: str) -> None:
    path = tmp_path / "keys.txt"
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    ring = Keyring.load(path)
    public = next(line for line in path.read_text().splitlines() if "public key" in line)
    assert public.endswith(str(ring.recipients[0]))
