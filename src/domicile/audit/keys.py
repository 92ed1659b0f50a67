"""The deployment's audit key (Ed25519): generate, identify, save and load.

The private key is stored as unencrypted PEM PKCS#8 in a file readable by its owner only
(mode 0600), written atomically. The public key is read from PEM (SubjectPublicKeyInfo), the
raw 32 bytes, or those 32 bytes in base64 on one line: the form :func:`public_key_text`
prints, which an auditor can paste into a file. The private key is never printed: an
:class:`AuditKey` renders as ``**redacted**``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from domicile.errors import AuditKeyError

_RAW = serialization.Encoding.Raw
_PRIVATE_HINT = (
    "restore the audit key from backup, or create a new one "
    "(checkpoints signed before stay verifiable with the old public key)"
)
_PUBLIC_HINT = "ask the deployment's operator for its audit public key (PEM, raw or base64)"
_RAW_PUBLIC = serialization.PublicFormat.Raw


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short public name for a key: hex of the first 8 bytes of SHA-256(raw key)."""
    return hashlib.sha256(public_key.public_bytes(_RAW, _RAW_PUBLIC)).hexdigest()[:16]


def public_key_text(public_key: Ed25519PublicKey) -> str:
    """The raw public key in standard base64 (44 characters), for files and docs."""
    return base64.b64encode(public_key.public_bytes(_RAW, _RAW_PUBLIC)).decode("ascii")


@dataclass(frozen=True, repr=False)
class AuditKey:
    """The deployment's Ed25519 signing key; prints as ``AuditKey(<id>, **redacted**)``."""

    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> AuditKey:
        """A fresh random key."""
        return cls(Ed25519PrivateKey.generate())

    @property
    def public(self) -> Ed25519PublicKey:
        """The public half, which verifiers need."""
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        """See :func:`key_id`."""
        return key_id(self.public)

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message``."""
        return self.private.sign(message)

    def to_pem(self) -> bytes:
        """PEM PKCS#8, unencrypted: protect the file, not the bytes."""
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @classmethod
    def from_pem(cls, data: bytes, *, source: str = "<bytes>") -> AuditKey:
        """Parse PEM PKCS#8; raises :class:`AuditKeyError` if it is not an Ed25519 key."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise AuditKeyError(
                "the audit key is not an unencrypted PEM PKCS#8 private key",
                hint=_PRIVATE_HINT,
                file=source,
            ) from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditKeyError(
                f"the audit key is a {type(key).__name__}, not an Ed25519 key",
                hint="audit checkpoints are signed with Ed25519 only",
                file=source,
            )
        return cls(key)

    def __repr__(self) -> str:
        return f"AuditKey({self.key_id}, **redacted**)"

    __str__ = __repr__


def parse_public_key(data: bytes, *, source: str = "<bytes>") -> Ed25519PublicKey:
    """Parse a public key given as PEM, 32 raw bytes or one line of base64."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
            if isinstance(key, Ed25519PublicKey):
                return key
            raise ValueError(f"a {type(key).__name__}, not Ed25519")
        if len(data) == 32:
            return Ed25519PublicKey.from_public_bytes(data)
        raw = base64.b64decode(data.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm, binascii.Error) as exc:
        raise AuditKeyError(
            f"not an Ed25519 public key (PEM, 32 raw bytes or base64): {exc}",
            hint=_PUBLIC_HINT,
            file=source,
        ) from exc


def save_private_key(path: Path, key: AuditKey) -> None:
    """Write ``key`` to ``path`` atomically with mode 0600 (temp, fsync, rename, fsync dir)."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(prefix=".audit-key-", dir=folder)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.to_pem())
            out.flush()
            os.fsync(out.fileno())
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(tmp).unlink()
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_private_key(path: Path) -> AuditKey:
    """Read a key written by :func:`save_private_key`; :class:`AuditKeyError` if unusable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise AuditKeyError(
            "no audit key file",
            hint=_PRIVATE_HINT,
            file=str(path),
        ) from exc
    return AuditKey.from_pem(data, source=str(path))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a public key file (PEM, raw or base64); :class:`AuditKeyError` if unusable."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise AuditKeyError(
            "no public key file",
            hint=_PUBLIC_HINT,
            file=str(path),
        ) from exc
    return parse_public_key(data, source=str(path))
