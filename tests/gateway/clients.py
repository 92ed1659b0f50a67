"""The real command-line S3 clients against a live gateway (tests/gateway/live.py): the aws
CLI and rclone run as subprocesses with private environments (no user configuration is
read), a file tree with awkward names, and the checks on what reached the sites: blobs on
the allowed sites only, and no plaintext in any file there."""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from tests.engine.conftest import blob_files
from tests.gateway.live import ACCESS_KEY, SECRET, Live

#: No command of these tests needs longer, even the 100 MiB transfers.
TIMEOUT = 300
#: The test deployment's sites (tests/engine/conftest.py) and those eu-only allows.
SITES = ("fr", "de", "us")
ALLOWED = {"fr", "de"}

#: Relative paths of a tree with nested folders, unicode, spaces, ``+`` and ``%``.
TREE = (
    "top.txt",
    "deep/er/still deeper/leaf.txt",
    "café/naïve ü.txt",
    "日本語/ファイル 1.txt",
    "plus+sign/a+b=c.txt",
    "percent/100% done.txt",
    "percent/%41%2F%zz.txt",
    "spaced out/two  spaces.txt",
)


def require(name: str, hint: str) -> str:
    """The path of command ``name``; the test fails (never skips) when it is missing."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: {hint}", pytrace=False)
    return found


def aws_command() -> str:
    """The aws CLI of this virtual environment (awscli, a dev dependency)."""
    return require(str(Path(sys.executable).parent / "aws"), "pip install -e '.[dev]' (awscli)")


def unique(prefix: str) -> str:
    """A bucket name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def run(
    argv: list[str], env: Mapping[str, str], *, ok: bool | None = True
) -> subprocess.CompletedProcess[str]:
    """Run a client; ``ok`` True/False: it must succeed/fail (``None``: either)."""
    proc = subprocess.run(
        argv, env=dict(env), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    if ok is not None and (proc.returncode == 0) != ok:
        expected = "succeed" if ok else "fail"
        pytest.fail(
            f"expected to {expected}: $ {shlex.join(argv)}\nexit {proc.returncode}\n"
            f"--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}",
            pytrace=False,
        )
    return proc


def base_env(home: Path) -> dict[str, str]:
    """PATH and a private HOME: nothing of the user's configuration leaks in."""
    home.mkdir(parents=True, exist_ok=True)
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LC_ALL": "C.UTF-8"}


def aws_env(live: Live, home: Path, *, config: str = "") -> dict[str, str]:
    """The aws CLI's environment: the gateway's credentials, path-style addressing, one
    attempt per request (a failure shows instead of being retried away)."""
    cfg, creds = home / "aws-config", home / "aws-credentials"
    home.mkdir(parents=True, exist_ok=True)
    cfg.write_text("[default]\ns3 =\n    addressing_style = path\n" + config)
    creds.write_text("")
    return base_env(home) | {
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(cfg),
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def rclone_env(live: Live, home: Path, **overrides: str) -> dict[str, str]:
    """A remote ``gw:`` on the gateway, configured by environment variables only."""
    conf = home / "rclone.conf"
    home.mkdir(parents=True, exist_ok=True)
    conf.write_text("")
    remote = {
        "TYPE": "s3",
        "PROVIDER": "Other",
        "ENDPOINT": live.endpoint,
        "ACCESS_KEY_ID": ACCESS_KEY,
        "SECRET_ACCESS_KEY": SECRET,
        "FORCE_PATH_STYLE": "true",
        "LOCATION_CONSTRAINT": "eu-only",
    } | {name.upper(): value for name, value in overrides.items()}
    env = base_env(home) | {"RCLONE_CONFIG": str(conf)}
    return env | {f"RCLONE_CONFIG_GW_{name}": value for name, value in remote.items()}


# --- trees ------------------------------------------------------------------------------


def make_tree(folder: Path, names: Iterable[str] = TREE) -> dict[str, bytes]:
    """Write a file per name under ``folder`` (distinct, non-repeating contents)."""
    written = {}
    for name in names:
        data = f"plaintext {uuid.uuid4().hex}\n".encode() * 40 + os.urandom(500)
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written[name] = data
    return written


def read_tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by its relative path (``/``-separated)."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def write_random(path: Path, size: int) -> tuple[str, list[bytes]]:
    """A file of ``size`` random bytes; its SHA-256 and a few 32-byte samples of it."""
    digest, samples, chunk = hashlib.sha256(), [], 1024 * 1024
    with path.open("wb") as out:
        for offset in range(0, size, chunk):
            piece = os.urandom(min(chunk, size - offset))
            digest.update(piece)
            if offset % (16 * chunk) == 0:
                samples.append(piece[100:132])
            out.write(piece)
    return digest.hexdigest(), samples


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for piece in iter(lambda: f.read(1024 * 1024), b""):
            digest.update(piece)
    return digest.hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


# --- the sites --------------------------------------------------------------------------


def samples_of(data: bytes) -> list[bytes]:
    """Pieces of a plaintext that must never appear on a site: its start, middle and end."""
    size = min(32, len(data))
    middle = len(data) // 2
    return [data[:size], data[middle : middle + size], data[-size:]]


def assert_sealed(live: Live, samples: Iterable[bytes]) -> None:
    """No sample (of plaintext) appears in any file under the sites folders."""
    needles = [s for s in samples if len(s) >= 16]
    assert needles
    for path in (live.root / "sites").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            leaked = [n for n in needles if n in data]
            assert not leaked, f"plaintext {leaked[0][:32]!r} found in {path}"


def assert_resident(live: Live, bucket: str, keys: Iterable[str]) -> None:
    """Each object has copies on the allowed sites only; the ``us`` folder holds no blob."""
    for key in keys:
        sites = {c.site_id for c in live.engine.where(bucket, key)}
        assert sites == ALLOWED, f"{bucket}/{key} is on {sorted(sites)}"
    assert blob_files(live.root, "us") == []
    assert all(blob_files(live.root, site) for site in ALLOWED)
