"""Fixtures for the crypto tests: identities, and the stock age CLI driven through a pty."""

from __future__ import annotations

import os
import pty
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from domicile.crypto import X25519Identity
from tests.softhsm import softhsm  # noqa: F401 -- the SoftHSM2 token fixture

AGE_MISSING = "the stock age CLI is needed for interop tests: apt-get install age"


@pytest.fixture(scope="session")
def identity() -> X25519Identity:
    return X25519Identity.generate()


@pytest.fixture(scope="session")
def age_bin() -> str:
    """Path of the ``age`` binary; the test FAILS (not skips) if it is missing."""
    path = shutil.which("age")
    if path is None:
        pytest.fail(AGE_MISSING)
    return path


@pytest.fixture
def identity_file(tmp_path: Path, identity: X25519Identity) -> Path:
    path = tmp_path / "identity.txt"
    path.write_text(identity.to_secret().reveal() + "\n")
    path.chmod(0o600)
    return path


def run_age(args: list[str], stdin: bytes | None = None) -> bytes:
    """Run age with ``args``; its stdout; fail the test with its stderr on error."""
    proc = subprocess.run(["age", *args], input=stdin, capture_output=True, check=False)
    if proc.returncode != 0:
        pytest.fail(f"age {' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def run_age_tty(args: list[str], passphrase: str, timeout: float = 120) -> None:
    """Run age on a pseudo-terminal, answering every passphrase prompt with ``passphrase``.

    age reads passphrases from the terminal only, so ``-p`` and passphrase decryption need
    a pty. ``args`` must use ``-o`` for output and a file argument for input.
    """
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvp("age", ["age", *args])
    seen = b""
    answered = 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            seen += data
            while answered < seen.lower().count(b"passphrase"):
                os.write(fd, passphrase.encode() + b"\n")
                answered += 1
        else:
            os.kill(pid, 9)
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        pytest.fail(f"age {' '.join(args)} failed ({code}): {seen.decode(errors='replace')}")
