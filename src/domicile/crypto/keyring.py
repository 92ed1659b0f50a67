"""The keyring: the customer's age identities in an age identity file.

Plain format (what ``age-keygen`` writes, so ``age -d -i keyring.txt`` reads it)::

    # created: 2024-05-01T12:00:00Z
    # public key: age1...
    AGE-SECRET-KEY-1...

one such block per identity, oldest first. An identity is X25519 (``AGE-SECRET-KEY-1...``)
or post-quantum hybrid (``AGE-SECRET-KEY-PQ-1...``, public key ``age1pq1...``, as
``age-keygen -pq`` writes it; age 1.3 or later reads it). Protected format: that whole
text encrypted with an age scrypt passphrase stanza, exactly as ``age -p`` writes it
(``age -d keyring.txt`` prompts for the passphrase; ``age -d -i keyring.txt`` also accepts
it). The file is written atomically (temp file, fsync, rename, fsync of the folder) with mode 0600.

This module is the one place in the crypto core that does file I/O: its own key file.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from domicile.crypto.armor import is_armored
from domicile.crypto.decrypt import decrypt_bytes
from domicile.crypto.encrypt import encrypt_bytes
from domicile.crypto.header import INTRO
from domicile.crypto.hybrid import MLKEM768X25519Identity
from domicile.crypto.keytext import AnyIdentity, AnyRecipient, parse_identity
from domicile.crypto.recipients import (
    DEFAULT_SCRYPT_WORK_FACTOR,
    ScryptIdentity,
    ScryptRecipient,
    X25519Identity,
)
from domicile.crypto.secret import Secret
from domicile.errors import (
    CryptoError,
    KeyringError,
    KeyringNotFound,
    MalformedKey,
    NoIdentityMatch,
    WrongPassphrase,
)


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """One identity of the keyring and when it was created (if the file says so)."""

    identity: AnyIdentity
    created: str | None


class Keyring:
    """age identities loaded from (and saved to) one file, optionally passphrase-protected.

    ``identities`` are ordered oldest first; new files are encrypted to every recipient so any
    identity can read them. The passphrase, when there is one, is kept (as a :class:`Secret`)
    to re-encrypt the file on :meth:`save`.
    """

    def __init__(
        self,
        path: Path,
        entries: list[KeyEntry],
        passphrase: Secret | None = None,
        *,
        work_factor: int = DEFAULT_SCRYPT_WORK_FACTOR,
    ) -> None:
        self.path = Path(path)
        self._entries = list(entries)
        self._passphrase = passphrase
        self.work_factor = work_factor

    # --- opening ----------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path | str,
        passphrase: Secret | None = None,
        *,
        work_factor: int = DEFAULT_SCRYPT_WORK_FACTOR,
    ) -> Keyring:
        """A new keyring file at ``path`` with one fresh identity; never overwrites."""
        path = Path(path)
        if path.exists():
            raise KeyringError(
                f"a keyring already exists at {path}",
                hint="refusing to overwrite keys; move it away or use it with 'keys list'",
                path=str(path),
            )
        keyring = cls(path, [_new_entry()], passphrase or None, work_factor=work_factor)
        keyring._write(exclusive=True)
        return keyring

    @classmethod
    def load(cls, path: Path | str, passphrase: Secret | None = None) -> Keyring:
        """The keyring at ``path``; ``passphrase`` is needed if the file is protected (and
        ignored for a plain file, whose :attr:`protected` stays false)."""
        path = Path(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyringNotFound(
                f"no keyring at {path}",
                hint="create one with 'domicile keys init' ('domicile init' writes a whole new "
                "deployment), or point the configuration at yours",
                path=str(path),
            ) from None
        except OSError as exc:
            raise KeyringError(
                f"cannot read the keyring at {path}: {exc.strerror}",
                hint="check the file's permissions",
                path=str(path),
            ) from None
        if data.startswith(INTRO) or is_armored(data[:64]):
            return cls._load_protected(path, data, passphrase)
        return cls(path, _parse(data, path))

    @classmethod
    def _load_protected(cls, path: Path, data: bytes, passphrase: Secret | None) -> Keyring:
        if not passphrase:
            raise KeyringError(
                f"the keyring at {path} is passphrase-protected and no passphrase was given",
                hint="set DOMICILE_PASSPHRASE or answer the passphrase prompt",
                path=str(path),
            )
        try:
            text = decrypt_bytes(data, [ScryptIdentity(passphrase)])
        except NoIdentityMatch:
            raise WrongPassphrase(
                f"the passphrase does not unlock the keyring at {path}",
                hint="check the passphrase (DOMICILE_PASSPHRASE); keys cannot be recovered "
                "without it",
                path=str(path),
            ) from None
        except CryptoError as exc:
            raise KeyringError(
                f"the protected keyring at {path} is damaged: {exc.message}",
                hint="restore the keyring file from your backup",
                path=str(path),
            ) from None
        return cls(path, _parse(text, path), passphrase)

    # --- contents ---------------------------------------------------------------------

    @property
    def entries(self) -> tuple[KeyEntry, ...]:
        """Every identity with its creation time, oldest first."""
        return tuple(self._entries)

    @property
    def identities(self) -> tuple[AnyIdentity, ...]:
        """Every identity, oldest first."""
        return tuple(e.identity for e in self._entries)

    @property
    def recipients(self) -> tuple[AnyRecipient, ...]:
        """The public recipient (``age1...``/``age1pq1...``) of each identity, oldest first."""
        return tuple(e.identity.recipient for e in self._entries)

    def recipients_of(self, *, post_quantum: bool) -> tuple[AnyRecipient, ...]:
        """The recipients of one kind only, oldest first: a file never mixes kinds."""
        return tuple(r for r in self.recipients if r.post_quantum == post_quantum)

    @property
    def protected(self) -> bool:
        """Whether the file is passphrase-protected."""
        return self._passphrase is not None

    def add_new(self, *, post_quantum: bool = False) -> AnyIdentity:
        """Append a fresh identity (X25519, or the hybrid post-quantum type) and save the
        file atomically; returns the identity."""
        entry = _new_entry(post_quantum=post_quantum)
        self._entries.append(entry)
        try:
            self.save()
        except BaseException:
            self._entries.pop()
            raise
        return entry.identity

    def save(self) -> None:
        """Write the keyring atomically (re-encrypting it if protected)."""
        self._write(exclusive=False)

    def close(self) -> None:
        """Nothing to release: the file is read whole and closed at load."""

    # --- writing ----------------------------------------------------------------------

    def _render(self) -> bytes:
        lines: list[str] = []
        for entry in self._entries:
            if entry.created:
                lines.append(f"# created: {entry.created}")
            lines.append(f"# public key: {entry.identity.recipient}")
            lines.append(entry.identity.to_secret().reveal())
        text = ("\n".join(lines) + "\n").encode("ascii")
        if self._passphrase is None:
            return text
        return encrypt_bytes(text, [ScryptRecipient(self._passphrase, self.work_factor)])

    def _write(self, *, exclusive: bool) -> None:
        folder = self.path.parent
        tmp = folder / f".{self.path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._render())
                handle.flush()
                os.fsync(handle.fileno())
            if exclusive:
                os.link(tmp, self.path)
                tmp.unlink()
            else:
                tmp.replace(self.path)
            _fsync_dir(folder)
        except FileExistsError:
            raise KeyringError(
                f"a keyring already exists at {self.path}",
                hint="refusing to overwrite keys; move it away first",
                path=str(self.path),
            ) from None
        except OSError as exc:
            raise KeyringError(
                f"cannot write the keyring at {self.path}: {exc.strerror}",
                hint="check that the folder exists and is writable",
                path=str(self.path),
            ) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()

    def __repr__(self) -> str:
        return (
            f"Keyring(path={str(self.path)!r}, identities={len(self._entries)}, "
            f"protected={self.protected})"
        )


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_entry(*, post_quantum: bool = False) -> KeyEntry:
    created = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    identity: AnyIdentity = (
        MLKEM768X25519Identity.generate() if post_quantum else X25519Identity.generate()
    )
    return KeyEntry(identity, created)


def _parse(data: bytes, path: Path) -> list[KeyEntry]:
    """Identities of an age identity file; comments give creation times."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedKey(
            f"the keyring at {path} is not an age identity file (non-ASCII bytes)",
            hint="a keyring holds AGE-SECRET-KEY-1... lines and # comments",
            path=str(path),
        ) from None
    entries: list[KeyEntry] = []
    created: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            if line.startswith("# created:"):
                created = line.removeprefix("# created:").strip()
            continue
        try:
            identity = parse_identity(Secret(line))
        except MalformedKey as exc:
            raise MalformedKey(
                f"the keyring at {path}, line {number}: {exc.message}",
                hint=exc.hint,
                path=str(path),
                line=number,
            ) from None
        entries.append(KeyEntry(identity, created))
        created = None
    if not entries:
        raise MalformedKey(
            f"the keyring at {path} holds no identity",
            hint="a keyring holds AGE-SECRET-KEY-1... lines; 'domicile keys new' adds one",
            path=str(path),
        )
    return entries
