"""``domicile shred``: the confirmation names what becomes unreadable; the receipt."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.cli.conftest import Run


def test_shred_asks_then_prints_a_signed_receipt(
    deployment: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = ("--config", str(deployment))
    src = tmp_path / "in.txt"
    src.write_bytes(b"to be shredded")
    assert run(*cfg, "put", str(src), "reports/a.txt").code == 0
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"n\n")))
    refused = run(*cfg, "shred", "reports")
    assert refused.code != 0 and "shred bucket reports?" in refused.err
    assert "1 object versions become unreadable" in refused.out
    assert "its data identity: 1 versions" in refused.out
    assert run(*cfg, "get", "reports/a.txt", str(tmp_path / "out.txt")).code == 0
    done = run(*cfg, "--json", "shred", "reports", "--yes")
    assert done.code == 0, done.err
    receipt = done.json()
    assert receipt["bucket"] == "reports" and receipt["key_versions"] == 1
    assert receipt["key_copies_destroyed"] == 2 and receipt["unreadable"] == []
    assert receipt["checkpoint"]["seq"] >= receipt["record"]["seq"] > 0
    tail = run(*cfg, "--json", "audit", "tail", "-n", "5").json()
    assert any(r["action"] == "bucket_shred" and r["bucket"] == "reports" for r in tail)


def test_keys_rotate_rewraps_the_bucket_identities(
    deployment: Path, run: Run, tmp_path: Path
) -> None:
    cfg = ("--config", str(deployment))
    src = tmp_path / "in.txt"
    src.write_bytes(b"kept readable")
    assert run(*cfg, "put", str(src), "reports/a.txt").code == 0
    old = run(*cfg, "--json", "keys", "list").json()["recipients"][0]
    assert run(*cfg, "keys", "new").code == 0
    done = run(*cfg, "--json", "keys", "rotate", "--drop", old)
    assert done.code == 0, done.err
    assert done.json() == {"keys": 1, "buckets": ["reports"], "left": []}
    out = tmp_path / "out.txt"
    assert run(*cfg, "get", "reports/a.txt", str(out)).code == 0
    assert out.read_bytes() == b"kept readable"
