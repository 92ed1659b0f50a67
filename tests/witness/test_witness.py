"""The witness over real HTTP: it cosigns a log that only grows, refuses rollbacks and
forks (two divergent catalogs signed by the same key), survives a restart, and never
rolls its state back under concurrent requests."""

from __future__ import annotations

import base64
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from domicile.audit.merkle import consistency_proof, leaf_hash, root
from domicile.audit.note import Note, NoteSigner, parse_note, parse_vkey
from domicile.audit.tlog import CosignatureVerifier, TreeHead, cosignatures
from domicile.cli.main import cli
from domicile.witness import WitnessFolder
from domicile.witness.http import WitnessServer

ORIGIN = "domicile.test/eu-prod"


class Log:
    """A toy log: leaves, a key, checkpoints and proofs, as a deployment makes them."""

    def __init__(self, signer: NoteSigner, salt: str = "") -> None:
        self.signer = signer
        self.leaves: list[bytes] = []
        self.salt = salt

    def grow(self, n: int) -> None:
        self.leaves += [leaf_hash(f"{self.salt}{len(self.leaves) + i}".encode()) for i in range(n)]

    def checkpoint(self, size: int | None = None) -> Note:
        size = len(self.leaves) if size is None else size
        body = TreeHead(ORIGIN, size, root(self.leaves[:size])).body()
        return Note(body, (self.signer.sign(body),))

    def request(self, old: int, size: int | None = None, proof: list[bytes] | None = None) -> bytes:
        size = len(self.leaves) if size is None else size
        proof = consistency_proof(self.leaves, old, size) if proof is None else proof
        lines = [f"old {old}\n", *(base64.b64encode(p).decode() + "\n" for p in proof)]
        return ("".join(lines) + "\n").encode() + self.checkpoint(size).to_bytes()


def post(url: str, body: bytes) -> tuple[int, str, bytes]:
    req = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers["Content-Type"], err.read()


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def folder(tmp_path: Path, signer: NoteSigner) -> WitnessFolder:
    made = WitnessFolder.init(tmp_path / "w", "witness.test/ch-1")
    made.follow(ORIGIN, signer.vkey())
    return WitnessFolder(tmp_path / "w")


@pytest.fixture
def server(folder: WitnessFolder) -> Iterator[WitnessServer]:
    srv = WitnessServer(folder, "127.0.0.1", 0)
    srv.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def cosigned_by(folder: WitnessFolder, note: Note, answer: bytes) -> list[int]:
    full = parse_note(note.to_bytes() + answer)
    found = cosignatures(full, [folder.cosigner.verifier()])
    return [c.timestamp for c in found]


def test_cosigns_a_growing_log_and_refuses_rollback_and_fork(
    server: WitnessServer, folder: WitnessFolder, signer: NoteSigner
) -> None:
    log = Log(signer)
    log.grow(5)
    status, _, body = post(server.url, log.request(0))
    assert status == 200, body
    assert len(cosigned_by(folder, log.checkpoint(), body)) == 1
    log.grow(4)
    status, _, body = post(server.url, log.request(5))
    assert status == 200, body
    assert cosigned_by(folder, log.checkpoint(), body)
    # Re-submitting the same checkpoint is fine (same size, same root).
    assert post(server.url, log.request(9))[0] == 200

    # A rollback: a smaller checkpoint.
    status, ctype, body = post(server.url, log.request(5, size=5))
    assert (status, ctype, body) == (409, "text/x.tlog.size", b"9\n")
    assert post(server.url, log.request(9, size=5, proof=[]))[0] == 400

    # A fork: another catalog under the same key, rewritten after leaf 3, grown to 12.
    fork = Log(signer, salt="forged")
    fork.leaves = log.leaves[:3]
    fork.grow(9)
    assert post(server.url, fork.request(9))[0] == 422  # its own proof does not reach 9's root
    assert post(server.url, fork.request(9, proof=consistency_proof(log.leaves, 5, 9)))[0] == 422
    status, ctype, body = post(server.url, fork.request(0, size=9))
    assert (status, body) == (409, b"9\n")  # the witness says where it stands
    assert post(server.url, fork.request(9, size=9, proof=[]))[0] == 409  # same size, other root

    # The state survived every refusal, and a restart.
    again = WitnessFolder(folder.root)
    assert again.seen(ORIGIN) is not None and again.seen(ORIGIN).size == 9  # type: ignore[union-attr]
    log.grow(1)
    assert post(server.url, log.request(9))[0] == 200


def test_unknown_logs_bad_signatures_and_malformed_requests(
    server: WitnessServer, signer: NoteSigner
) -> None:
    log = Log(signer)
    log.grow(3)
    stranger = Log(NoteSigner(ORIGIN, Ed25519PrivateKey.generate()))
    stranger.grow(3)
    assert post(server.url, stranger.request(0))[0] == 403
    other = Log(NoteSigner("elsewhere.test/log", Ed25519PrivateKey.generate()))
    other.grow(2)
    body = other.request(0).replace(ORIGIN.encode(), b"elsewhere.test/log")
    assert post(server.url, body)[0] == 404
    for bad in [
        b"",
        b"old 01\n\n",
        b"new 0\n\n" + log.checkpoint().to_bytes(),
        b"old 0\nnot-base64!\n\n" + log.checkpoint().to_bytes(),
        b"old 0\n" + b"x" * 10,
    ]:
        assert post(server.url, bad)[0] == 400, bad
    too_long = b"old 0\n" + b"AAAA\n" * 14000
    assert post(server.url, too_long)[0] == 413
    assert post(server.url, log.request(0, proof=[leaf_hash(b"x")]))[0] == 422


def test_concurrent_requests_never_roll_the_state_back(
    server: WitnessServer, folder: WitnessFolder, signer: NoteSigner
) -> None:
    log = Log(signer)
    log.grow(40)
    assert post(server.url, log.request(0, size=8))[0] == 200
    results: dict[int, int] = {}

    def submit(size: int) -> None:
        results[size] = post(server.url, log.request(8, size=size))[0]

    threads = [threading.Thread(target=submit, args=(s,)) for s in range(9, 41)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [s for s, status in results.items() if status == 200]
    assert len(winners) == 1
    assert all(status == 409 for s, status in results.items() if s not in winners)
    assert folder.seen(ORIGIN).size == winners[0]  # type: ignore[union-attr]


def test_cli_creates_follows_and_prints_keys(tmp_path: Path, signer: NoteSigner) -> None:
    runner = CliRunner()
    where = tmp_path / "wit"
    made = runner.invoke(cli, ["--json", "witness", "init", str(where), "--name", "w.test/1"])
    assert made.exit_code == 0, made.output
    assert (
        runner.invoke(cli, ["witness", "follow", str(where), ORIGIN, signer.vkey()]).exit_code == 0
    )
    shown = runner.invoke(cli, ["witness", "public-key", str(where)])
    name, kind, _ = parse_vkey(shown.output.strip())
    assert (name, kind) == ("w.test/1", 4)
    assert WitnessFolder(where).logs[ORIGIN].key == signer.vkey()
    refused = runner.invoke(cli, ["witness", "init", str(where), "--name", "w.test/1"])
    assert refused.exit_code != 0
    bad = runner.invoke(cli, ["witness", "follow", str(where), ORIGIN, "not+a+key"])
    assert bad.exit_code != 0
    assert isinstance(WitnessFolder(where).cosigner.verifier(), CosignatureVerifier)
