"""The on-disk layout of a local site folder, and the file-system steps it is built with.

::

    <root>/.domicile-site     the marker: "domicile-site 1\\n"; no site id, no secret
    <root>/.tmp/<random>      uploads in progress (32 random hex digits)
    <root>/<fan>/<blob_id>    a blob, byte for byte; <fan> = fan_of(blob_id)

Nothing else is ever written: the layout reveals blob ids (random) and blob sizes only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
from pathlib import Path

MARKER = ".domicile-site"
MARKER_TEXT = b"domicile-site 1\n"
TEMP = ".tmp"

#: open() flags of a new temp file (never follows or reuses an existing entry).
WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: open() flags of a blob being read (a symbolic link in its place fails with ELOOP).
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC

_FAN = re.compile(r"[0-9a-f]{2}")


def fan_of(blob_id: str) -> str:
    """The fan-out folder of ``blob_id``: 2 hex digits of BLAKE2b(id), so at most 256."""
    return hashlib.blake2b(blob_id.encode("ascii"), digest_size=1).hexdigest()


def is_fan(name: str) -> bool:
    """Whether ``name`` can be a fan-out folder."""
    return _FAN.fullmatch(name) is not None


def fsync_dir(path: Path) -> None:
    """Make the entries of folder ``path`` (creations, renames, removals) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: Path) -> None:
    """Remove ``path`` if possible; if not (gone, or the disk is gone), sweeps do it later."""
    with contextlib.suppress(OSError):
        path.unlink()


def write_marker(root: Path) -> None:
    """Write the marker into ``root`` atomically and durably."""
    tmp = root / f"{MARKER}.{secrets.token_hex(8)}"
    fd = os.open(tmp, WRITE_FLAGS, 0o600)
    try:
        os.write(fd, MARKER_TEXT)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(root / MARKER)
    fsync_dir(root)
