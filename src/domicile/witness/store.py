"""A witness's folder: its key, the logs it follows, and what it last cosigned for each.

Layout (created by :meth:`WitnessFolder.init`)::

    witness.key          Ed25519 private key, PEM PKCS#8, mode 0600
    witness.toml         name = "<key name>", and one [[logs]] table per followed log:
                         origin = "<checkpoint origin>", key = "<the log's vkey>"
    state/<h>.json       {"origin", "size", "root"}: the largest checkpoint cosigned
    state/<h>.lock       held (flock) while a request for that origin is decided

``<h>`` is the SHA-256 of the origin in hex, so hostile origins never become paths. The
state file is replaced atomically (temp file, fsync, rename, fsync of the folder) while the
origin's lock is held, so two requests (threads or processes on this machine) never roll
it back; the folder must not be shared between machines.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from domicile.audit import AuditKey, load_private_key, save_private_key
from domicile.audit.note import Verifier, check_key_name, verifier_from_vkey
from domicile.audit.tlog import Cosigner
from domicile.audit.witness import Seen
from domicile.errors import ConfigError

KEY_FILE = "witness.key"
CONFIG_FILE = "witness.toml"
STATE_DIR = "state"


@dataclass(frozen=True, slots=True)
class FollowedLog:
    """A log the witness cosigns for: its origin line and its key (a type 0x01 vkey)."""

    origin: str
    key: str

    def verifier(self) -> Verifier:
        return verifier_from_vkey(self.key)


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with tmp.open("wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    _fsync_dir(path.parent)


class WitnessFolder:
    """The witness at ``root`` (see the module docstring for the layout)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        config = root / CONFIG_FILE
        try:
            data = tomllib.loads(config.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ConfigError(
                f"{root} is not a witness folder",
                hint="create one with: domicile witness init FOLDER --name NAME",
            ) from err
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
            raise ConfigError(f"{config} is not valid TOML: {err}") from err
        self.name = check_key_name(str(data.get("name", "")))
        self.logs: dict[str, FollowedLog] = {}
        for entry in data.get("logs", []):
            log = FollowedLog(str(entry.get("origin", "")), str(entry.get("key", "")))
            try:
                log.verifier()
            except ValueError as err:
                raise ConfigError(f"{config}: log {log.origin!r} has a bad key: {err}") from err
            self.logs[log.origin] = log
        self.cosigner = Cosigner(self.name, load_private_key(root / KEY_FILE).private)

    @classmethod
    def init(cls, root: Path, name: str) -> WitnessFolder:
        """Create a witness folder with a new key; ConfigError if one is already there."""
        check_key_name(name)
        if (root / CONFIG_FILE).exists() or (root / KEY_FILE).exists():
            raise ConfigError(f"{root} already holds a witness", hint="use it, or another folder")
        (root / STATE_DIR).mkdir(parents=True, exist_ok=True)
        save_private_key(root / KEY_FILE, AuditKey.generate())
        _write_atomic(root / CONFIG_FILE, f"name = {_toml_string(name)}\n".encode())
        return cls(root)

    def follow(self, origin: str, key: str) -> FollowedLog:
        """Add a log (or change the key of one); rewrites witness.toml."""
        log = FollowedLog(origin, key)
        if not origin or "\n" in origin:
            raise ConfigError("a log's origin is one non-empty line")
        try:
            log.verifier()
        except ValueError as err:
            raise ConfigError(f"not a log key: {err}") from err
        self.logs[origin] = log
        lines = [f"name = {_toml_string(self.name)}\n"]
        for each in self.logs.values():
            lines.append(
                f"\n[[logs]]\norigin = {_toml_string(each.origin)}\n"
                f"key = {_toml_string(each.key)}\n"
            )
        _write_atomic(self.root / CONFIG_FILE, "".join(lines).encode())
        return log

    def _state_path(self, origin: str) -> Path:
        return self.root / STATE_DIR / hashlib.sha256(origin.encode("utf-8")).hexdigest()

    def seen(self, origin: str) -> Seen | None:
        """What the witness last cosigned for ``origin`` (None: nothing yet)."""
        try:
            data = json.loads(self._state_path(origin).with_suffix(".json").read_bytes())
        except FileNotFoundError:
            return None
        if data.get("origin") != origin:
            raise ConfigError(f"the witness state of {origin!r} names another origin")
        return Seen(int(data["size"]), base64.b64decode(data["root"]))

    @contextlib.contextmanager
    def locked(self, origin: str) -> Iterator[None]:
        """Hold ``origin``'s lock (between threads and processes of this machine)."""
        (self.root / STATE_DIR).mkdir(exist_ok=True)
        with self._state_path(origin).with_suffix(".lock").open("a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def persist(self, origin: str, seen: Seen) -> None:
        """Record ``seen`` durably (call with the origin's lock held)."""
        body = {"origin": origin, "size": seen.size, "root": base64.b64encode(seen.root).decode()}
        _write_atomic(self._state_path(origin).with_suffix(".json"), json.dumps(body).encode())
