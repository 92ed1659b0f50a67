"""Principle 3, no hostage: the stock age tool and the keyring recover objects without us."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import domicile
from tests.engine.conftest import blob_files

MiB = 1024 * 1024


def _age_decrypt(identity: Path, blob: Path) -> bytes:
    age = shutil.which("age")
    if age is None:
        pytest.fail("the stock age tool is missing: apt-get install age")
    return subprocess.run(
        [age, "-d", "-i", str(identity), str(blob)], check=True, capture_output=True
    ).stdout


def _identities(root: Path, site: str) -> Path:
    """The keyring plus the bucket identities it opens from ``site``'s ``bkey-`` blobs
    (blobs are wrapped to their bucket's identity, which is wrapped to the keyring)."""
    keyring = root / "keyring.txt"
    lines = [keyring.read_bytes()]
    lines += [_age_decrypt(keyring, p) for p in (root / "sites" / site).rglob("bkey-*")]
    both = root / f"identities-{site}.txt"
    both.write_bytes(b"\n".join(lines))
    return both


@pytest.mark.age_cli
def test_object_recovered_with_stock_age_from_one_site(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    body = os.urandom(2 * MiB + 333)  # three segments
    engine.put("docs", "reports/q3.pdf", body, metadata={"owner": "cfo"})
    site = engine.where("docs", "reports/q3.pdf")[0].site_id
    files = {p.name: p for p in blob_files(tmp_path, site)}
    keyring = _identities(tmp_path, site)
    [manifest_file] = [p for name, p in files.items() if name.startswith("m")]
    manifest = json.loads(_age_decrypt(keyring, manifest_file))
    assert manifest["key"] == "reports/q3.pdf"
    assert manifest["meta"]["user"] == {"owner": "cfo"}
    recovered = b"".join(_age_decrypt(keyring, files[s["blob_id"]]) for s in manifest["segments"])
    assert recovered == body


@pytest.mark.age_cli
def test_small_object_recovered_with_stock_age_tail_and_head(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    body = b"line one\nline two\n" + os.urandom(70_000) + b"\n"  # newlines, one at the end
    engine.put("docs", "notes.txt", body, metadata={"owner": "dpo"})
    site = engine.where("docs", "notes.txt")[0].site_id
    [blob] = blob_files(tmp_path, site)  # inline: the object and its manifest in one blob
    plaintext = _age_decrypt(_identities(tmp_path, site), blob)

    def shell(*command: str) -> bytes:
        return subprocess.run(command, input=plaintext, check=True, capture_output=True).stdout

    manifest = json.loads(shell("tail", "-n", "1"))
    assert manifest["key"] == "notes.txt" and manifest["inline"] is True
    assert manifest["meta"]["user"] == {"owner": "dpo"}
    assert shell("head", "-c", str(manifest["size"])) == body


def test_nothing_on_a_site_reveals_names_or_plaintext(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    secret = b"TOP-SECRET-PAYLOAD-" * 100
    engine.put("docs", "board/secret-minutes.txt", secret, metadata={"who": "alice"})
    for site in ("fr", "de"):
        for blob in blob_files(tmp_path, site):
            data = blob.read_bytes()
            assert b"TOP-SECRET" not in data
            assert b"secret-minutes" not in data and b"alice" not in data
            assert "secret" not in str(blob.relative_to(tmp_path / "sites"))
