"""Post-quantum interop, both directions, with age's reference TypeScript implementation
(typage, npm ``age-encryption``, by age's author; driven by ``tools/agejs/age.mjs``).

The stock ``age`` of Debian (1.1) predates the ``mlkem768x25519`` type (age 1.3), and no
PyPI package carries it (``pyrage`` has only the ``tag``/``tagpq`` types), so typage is the
stock implementation these tests use. Missing node or ``tools/agejs/node_modules`` fails the
test (run ``npm ci --prefix tools/agejs``), as a missing ``age`` does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from domicile.crypto import (
    CHUNK_SIZE,
    Keyring,
    MLKEM768X25519Identity,
    X25519Identity,
    decrypt_bytes,
    encrypt_bytes,
    parse_header,
    parse_identity,
)

pytestmark = pytest.mark.agejs

TOOL = Path(__file__).resolve().parents[2] / "tools" / "agejs"
SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 17]


@pytest.fixture(scope="module")
def node() -> str:
    path = shutil.which("node")
    if path is None or not (TOOL / "node_modules" / "age-encryption").is_dir():
        pytest.fail(
            "node and typage are needed: apt-get install nodejs; npm ci --prefix tools/agejs"
        )
    return path


def _agejs(node: str, args: list[str], stdin: bytes) -> bytes:
    proc = subprocess.run(
        [node, str(TOOL / "age.mjs"), *args], input=stdin, capture_output=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"agejs {' '.join(args)[:60]} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


@pytest.fixture(scope="module")
def pq() -> MLKEM768X25519Identity:
    return MLKEM768X25519Identity.generate()


@pytest.mark.parametrize("size", SIZES)
def test_domicile_encrypts_typage_decrypts(
    node: str, pq: MLKEM768X25519Identity, tmp_path: Path, size: int
) -> None:
    keyring = Keyring.create(tmp_path / "keyring.txt")
    keyring.add_new(post_quantum=True)
    plain = os.urandom(size)
    blob = encrypt_bytes(plain, [pq.recipient, *keyring.recipients_of(post_quantum=True)])
    ids = tmp_path / "ids.txt"
    ids.write_text(pq.to_secret().reveal() + "\n")
    assert _agejs(node, ["-d", "-i", str(ids)], blob) == plain
    # the keyring file itself is an identity file typage reads (its PQ entry opens the blob)
    assert _agejs(node, ["-d", "-i", str(keyring.path)], blob) == plain


@pytest.mark.parametrize("size", SIZES)
def test_typage_encrypts_domicile_decrypts(node: str, size: int) -> None:
    identity_line, recipient_line = _agejs(node, ["--keygen-pq"], b"").decode().split()
    identity = parse_identity(identity_line)
    assert str(identity.recipient) == recipient_line  # same key derivation
    plain = os.urandom(size)
    blob = _agejs(node, ["-r", recipient_line], plain)
    header = parse_header(blob, complete=False)
    assert header is not None and [s.type for s in header.stanzas] == ["mlkem768x25519"]
    assert decrypt_bytes(blob, [identity]) == plain


def test_a_mixed_file_from_elsewhere_still_reads(node: str, pq: MLKEM768X25519Identity) -> None:
    """typage 0.3.1 writes a file to a post-quantum and a classic recipient (Go age 1.3
    refuses to, as domicile does); such a file is valid, and either identity reads it."""
    classic = X25519Identity.generate()
    blob = _agejs(node, ["-r", str(pq.recipient), "-r", str(classic.recipient)], b"mixed")
    assert decrypt_bytes(blob, [pq]) == b"mixed"
    assert decrypt_bytes(blob, [classic]) == b"mixed"
