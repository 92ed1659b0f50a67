"""Copies as they come: a flat folder (an S3 prefix synced), a corrupt or missing segment,
a second folder, a protected keyring, and refusals that write nothing."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
from pathlib import Path

import pytest

from domicile.crypto import Keyring
from domicile.crypto.secret import Secret
from tests.exit.deployment import (
    BARE,
    SCRIPT,
    Deployment,
    check_recovered,
    read_index,
    run_exit,
    site_copy,
)

pytestmark = pytest.mark.age_cli


def test_a_corrupt_segment_fails_alone_and_another_copy_serves(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-corrupt", lingering=False), dep.root / "out-corrupt"
    segments = dep.segments["media", "film.mkv"]
    blob = next(copy.rglob(segments[1]))
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 1  # same length: only the SHA-256 (and age) can tell
    blob.write_bytes(bytes(data))
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, copy)
    assert done.returncode == 1
    assert "media/film.mkv" in done.stderr and segments[1] in done.stderr
    [entry] = [e for e in read_index(out) if e["key"] == "film.mkv"]
    assert entry["status"] == "failed" and entry["file"] is None
    assert not (out / "objects" / "media" / "film.mkv").exists()
    others = {k: v for k, v in dep.expected.items() if k != ("media", "film.mkv")}
    check_recovered(others, out, [e for e in read_index(out) if e["key"] != "film.mkv"])

    # the second site's folder holds a good copy of that segment
    out2 = dep.root / "out-corrupt-2"
    done = run_exit(
        "--keyring", dep.root / "keyring.txt", "--out", out2, copy, dep.root / "sites" / "de"
    )
    assert done.returncode == 0, done.stderr
    check_recovered(dep.expected, out2, read_index(out2))


def test_a_flat_folder_as_synced_from_an_s3_site(dep: Deployment) -> None:
    """An S3 site stores blob <id> as <prefix><id>: a sync of the prefix is a flat folder."""
    flat, out = dep.root / "flat", dep.root / "out-flat"
    flat.mkdir()
    for path in (dep.root / "sites" / "fr").rglob("*"):
        if path.is_file() and path.parent.name != ".tmp" and path.name != ".domicile-site":
            shutil.copy2(path, flat / path.name)
    (flat / "README.txt").write_text("another tool's file")
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, flat)
    assert done.returncode == 0, done.stderr
    check_recovered(dep.expected, out, read_index(out))
    assert json.loads((out / "summary.json").read_text())["skipped"]["ignored_files"] == 1


def test_a_passphrase_protected_keyring(dep: Deployment, tmp_path: Path) -> None:
    """age asks for the passphrase once, on the terminal (here a pseudo-terminal on stdin,
    with no controlling terminal), then every blob is opened with the identities in memory."""
    plain = Keyring.load(dep.root / "keyring.txt")
    keyring = tmp_path / "protected.txt"  # as `domicile init --passphrase` writes it
    Keyring(keyring, list(plain.entries), Secret("correct horse battery")).save()
    assert keyring.read_bytes().startswith(b"age-encryption.org/v1\n-> scrypt ")
    out = tmp_path / "out"
    master, terminal = pty.openpty()
    command = [*BARE, str(SCRIPT), "--keyring", str(keyring), "--out", str(out)]
    proc = subprocess.Popen(
        [*command, str(dep.root / "sites" / "fr")],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        os.write(master, b"correct horse battery\n")
        _, stderr = proc.communicate(timeout=120)
    finally:
        os.close(master)
    assert proc.returncode == 0, stderr
    check_recovered(dep.expected, out, read_index(out))

    # no terminal to ask the passphrase on: nothing is written, exit 2
    wrong = run_exit("--keyring", keyring, "--out", tmp_path / "out2", dep.root / "sites" / "fr")
    assert wrong.returncode == 2 and "protected keyring" in wrong.stderr
    assert not (tmp_path / "out2").exists()


def test_a_missing_segment_makes_its_version_incomplete(dep: Deployment) -> None:
    copy, out = site_copy(dep, "copy-missing", lingering=False), dep.root / "out-missing"
    segments = dep.segments["media", "film.mkv"]
    next(copy.rglob(segments[2])).unlink()
    done = run_exit("--keyring", dep.root / "keyring.txt", "--out", out, copy)
    assert done.returncode == 1 and "media/film.mkv" in done.stderr
    [entry] = [e for e in read_index(out) if e["bucket"] == "media" and e["key"] == "film.mkv"]
    assert entry["status"] == "incomplete" and entry["file"] is None


def test_refusals_write_nothing(dep: Deployment, tmp_path: Path) -> None:
    site = dep.root / "sites" / "fr"
    keyring = ["--keyring", str(dep.root / "keyring.txt")]
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("mine")
    cases = [
        ([*keyring, "--out", tmp_path / "taken", site], "must be a new or empty folder"),
        ([*keyring, "--out", tmp_path / "o1", "--strict", site], "--strict needs"),
        ([*keyring, "--out", tmp_path / "o2", "--age", tmp_path / "no-age", site], "missing"),
        (["--keyring", site / ".domicile-site", "--out", tmp_path / "o3", site], "no age identity"),
        ([*keyring, "--out", tmp_path / "o4", tmp_path / "nowhere"], "is not a folder"),
    ]
    for args, message in cases:
        done = run_exit(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]
    assert (tmp_path / "taken" / "file").read_text() == "mine"
