"""Signed checkpoints over the head of the chain, and when to make the next one.

The signed message is the fixed domain-separation prefix followed by canonical JSON::

    b"domicile-audit-checkpoint-v1\\n" + {"head":"<64 hex>","seq":<int>,"time":<int µs>}

(sorted keys, no whitespace, UTF-8; see :func:`checkpoint_message`). The signature is
Ed25519 over exactly those bytes, stored in standard base64 with padding.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from domicile.audit.keys import AuditKey, key_id
from domicile.audit.record import MAX_INT, encode_canonical
from domicile.errors import AuditFormatError

#: Prefix of every signed checkpoint message; a signature over it means nothing else.
CHECKPOINT_DOMAIN = b"domicile-audit-checkpoint-v1\n"

_HEX64 = re.compile(r"[0-9a-f]{64}")
_KEY_ID = re.compile(r"[0-9a-f]{16}")


def _bad(message: str, **context: Any) -> AuditFormatError:
    return AuditFormatError(
        message,
        hint="checkpoints are written by domicile; a malformed one was edited or truncated",
        operation="audit-checkpoint",
        **context,
    )


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signature by the audit key ``key_id`` over ``(seq, head_hash, time)``.

    ``seq`` is the last record covered (>= 1), ``head_hash`` that record's hash, ``time``
    integer microseconds since the epoch, ``signature`` base64 of 64 bytes. Construction
    checks the shapes, never the signature: use :func:`verify_checkpoint`.
    """

    seq: int
    head_hash: str
    time: int
    key_id: str
    signature: str

    def __post_init__(self) -> None:
        if type(self.seq) is not int or not 1 <= self.seq <= MAX_INT:
            raise _bad(f"checkpoint seq must be an integer >= 1, got {self.seq!r}")
        if type(self.time) is not int or not 0 <= self.time <= MAX_INT:
            raise _bad(f"checkpoint time must be integer microseconds, got {self.time!r}")
        if not isinstance(self.head_hash, str) or not _HEX64.fullmatch(self.head_hash):
            raise _bad(f"checkpoint head must be 64 lowercase hex, got {self.head_hash!r}")
        if not isinstance(self.key_id, str) or not _KEY_ID.fullmatch(self.key_id):
            raise _bad(f"checkpoint key_id must be 16 lowercase hex, got {self.key_id!r}")
        if not isinstance(self.signature, str):
            raise _bad("checkpoint signature must be a base64 string", seq=self.seq)

    @property
    def message(self) -> bytes:
        """The exact bytes the signature covers."""
        return checkpoint_message(self.seq, self.head_hash, self.time)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (the export and the copies written to sites use it)."""
        return {
            "seq": self.seq,
            "head": self.head_hash,
            "time": self.time,
            "key_id": self.key_id,
            "signature": self.signature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Inverse of :meth:`to_dict`; raises :class:`AuditFormatError` on a bad shape."""
        expected = {"seq", "head", "time", "key_id", "signature"}
        if set(data) != expected:
            raise _bad(f"checkpoint fields must be {sorted(expected)}, got {sorted(data)}")
        return cls(data["seq"], data["head"], data["time"], data["key_id"], data["signature"])

    def to_bytes(self) -> bytes:
        """Canonical JSON of :meth:`to_dict`: the file written to every site."""
        return encode_canonical(self.to_dict())


def checkpoint_message(seq: int, head_hash: str, time: int) -> bytes:
    """``CHECKPOINT_DOMAIN`` + canonical JSON of ``{"head", "seq", "time"}``."""
    return CHECKPOINT_DOMAIN + encode_canonical({"head": head_hash, "seq": seq, "time": time})


def sign_checkpoint(
    private_key: AuditKey | Ed25519PrivateKey, seq: int, head_hash: str, time: int
) -> Checkpoint:
    """Sign the head ``(seq, head_hash)`` at ``time`` (integer microseconds)."""
    key = private_key if isinstance(private_key, AuditKey) else AuditKey(private_key)
    # Validate the fields before signing anything: a bad shape raises here.
    unsigned = Checkpoint(seq, head_hash, time, key.key_id, "")
    signature = base64.b64encode(key.sign(unsigned.message)).decode("ascii")
    return Checkpoint(seq, head_hash, time, key.key_id, signature)


def verify_checkpoint(public_key: Ed25519PublicKey, cp: Checkpoint) -> bool:
    """True if ``cp`` was signed by ``public_key`` over its own seq, head and time."""
    if cp.key_id != key_id(public_key):
        return False
    try:
        signature = base64.b64decode(cp.signature, validate=True)
        public_key.verify(signature, cp.message)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """Checkpoint after ``every_records`` records or ``every_seconds`` seconds, whichever first."""

    every_records: int = 1000
    every_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.every_records < 1 or self.every_seconds <= 0:
            raise ValueError("checkpoint intervals must be positive")

    def due(self, seq: int, now: int, last_cp: Checkpoint | None) -> bool:
        """Whether the head ``seq`` should be signed now (``now`` in microseconds).

        Never due for an empty chain or a head already covered; always due when records
        exist and none is checkpointed yet, so a new log is anchored at once.
        """
        if seq < 1:
            return False
        if last_cp is None:
            return True
        if seq <= last_cp.seq:
            return False
        return (
            seq - last_cp.seq >= self.every_records
            or now - last_cp.time >= self.every_seconds * 1_000_000
        )
