"""Transparency-log checkpoints (c2sp.org/tlog-checkpoint) and witness cosignatures
(c2sp.org/tlog-cosignature, Ed25519 ``cosignature/v1``).

A checkpoint is the body of a signed note (:mod:`domicile.audit.note`)::

    <origin>\\n            the log's unique name (a schema-less URL)
    <tree size>\\n         decimal, no leading zeros
    <root hash>\\n         base64 of the 32-byte RFC 9162 root (:mod:`domicile.audit.merkle`)
    [extension lines]\\n   optional, opaque here

signed by the log's key (Ed25519 note signature, type 0x01). A witness that checked the
checkpoint is consistent with the largest one it saw before adds a cosignature: a note
signature of type 0x04 whose bytes are ``timestamp (8 bytes, big-endian) || Ed25519
signature`` over::

    cosignature/v1\\n
    time <timestamp>\\n
    <the whole checkpoint body>

(timestamp in POSIX seconds). It states "as of that time, this is the largest consistent
tree I have seen for this origin"; it says nothing about the extension lines.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from domicile.audit.merkle import HASH_SIZE
from domicile.audit.note import (
    COSIGNATURE_V1,
    Note,
    NoteSignature,
    Verifier,
    check_key_name,
    key_id,
    parse_vkey,
    raw_public,
    vkey,
)
from domicile.errors import AuditFormatError

COSIGNATURE_HEADER = "cosignature/v1\n"
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}")
MAX_TIMESTAMP = 2**63 - 1


def _bad(message: str) -> AuditFormatError:
    return AuditFormatError(
        message,
        hint="a checkpoint is three lines: origin, tree size, base64 root hash",
        operation="audit-checkpoint",
    )


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The first three lines of a checkpoint, and any extension lines after them."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or self.origin != self.origin.strip():
            raise _bad(f"a checkpoint's origin is one non-empty line: {self.origin!r}")
        if not 0 <= self.size <= MAX_TIMESTAMP:
            raise _bad(f"a tree size is a non-negative 63-bit integer, not {self.size}")
        if len(self.root) != HASH_SIZE:
            raise _bad(f"a root hash is {HASH_SIZE} bytes, not {len(self.root)}")
        if any(not e or "\n" in e for e in self.extensions):
            raise _bad("extension lines are non-empty single lines")

    def body(self) -> str:
        """The note text: the lines above, each ending in a newline."""
        root = base64.b64encode(self.root).decode("ascii")
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )


def parse_tree_head(text: str) -> TreeHead:
    """The :class:`TreeHead` of a checkpoint's note text; AuditFormatError if malformed."""
    if not text.endswith("\n"):
        raise _bad("a checkpoint body ends in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise _bad("a checkpoint body has an origin, a size and a root hash line")
    origin, size, root_b64, *ext = lines
    if not _SIZE.fullmatch(size):
        raise _bad(f"a tree size is decimal without leading zeros: {size[:30]!r}")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error as err:
        raise _bad("a checkpoint's root hash is base64") from err
    return TreeHead(origin, int(size), root, tuple(ext))


def cosigned_message(body: str, timestamp: int) -> bytes:
    """The bytes a ``cosignature/v1`` signs for a checkpoint body at ``timestamp``."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError(f"a cosignature timestamp is a 63-bit count of seconds: {timestamp}")
    return f"{COSIGNATURE_HEADER}time {timestamp}\n{body}".encode()


@dataclass(frozen=True, slots=True)
class Cosignature:
    """A verified cosignature: which witness vouched for the checkpoint, and when."""

    witness: str
    timestamp: int


class Cosigner:
    """A witness key: Ed25519 ``cosignature/v1`` signatures under ``name``."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(name, COSIGNATURE_V1, raw_public(self.public))

    def cosign(self, body: str, timestamp: int) -> NoteSignature:
        sig = self._private.sign(cosigned_message(body, timestamp))
        return NoteSignature(self.name, self.key_id, timestamp.to_bytes(8, "big") + sig)

    def vkey(self) -> str:
        return vkey(self.name, COSIGNATURE_V1, raw_public(self.public))

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self.name, self.public)

    def __repr__(self) -> str:
        return f"Cosigner({self.name!r}, key_id={self.key_id:08x}, private=**redacted**)"


class CosignatureVerifier:
    """Checks one witness's cosignatures on checkpoint notes."""

    def __init__(self, name: str, public: Ed25519PublicKey) -> None:
        self.name = check_key_name(name)
        self.public = public
        self.key_id = key_id(name, COSIGNATURE_V1, raw_public(public))

    @classmethod
    def from_vkey(cls, text: str) -> CosignatureVerifier:
        """The verifier of a witness's vkey; ValueError unless it is a type 0x04 key."""
        name, kind, public = parse_vkey(text)
        if kind != COSIGNATURE_V1 or len(public) != 32:
            raise ValueError("not a witness cosignature key (type 0x04, Ed25519)")
        return cls(name, Ed25519PublicKey.from_public_bytes(public))

    def timestamp_of(self, body: str, sig: NoteSignature) -> int | None:
        """The cosignature's timestamp when ``sig`` is this witness's valid cosignature of
        ``body``; None when it is from another key; AuditFormatError when it is this key's
        and does not verify."""
        if sig.name != self.name or sig.key_id != self.key_id:
            return None
        if len(sig.signature) != 8 + 64:
            raise _bad(f"a cosignature by {self.name} is 72 bytes, not {len(sig.signature)}")
        timestamp = int.from_bytes(sig.signature[:8], "big")
        try:
            self.public.verify(sig.signature[8:], cosigned_message(body, timestamp))
        except (InvalidSignature, ValueError) as err:
            raise _bad(f"the cosignature of {self.name} does not verify") from err
        return timestamp

    def as_note_verifier(self) -> Verifier:
        """This witness as a :class:`~domicile.audit.note.Verifier` (for ``verify_note``)."""

        def check(text: str, signature: bytes) -> bool:
            try:
                return (
                    self.timestamp_of(text, NoteSignature(self.name, self.key_id, signature))
                    is not None
                )
            except AuditFormatError:
                return False

        return Verifier(self.name, self.key_id, check)


def cosignatures(note: Note, witnesses: Sequence[CosignatureVerifier]) -> list[Cosignature]:
    """The valid cosignatures of ``note`` by ``witnesses`` (one per witness, the newest).
    AuditFormatError when a known witness's cosignature does not verify."""
    found: dict[str, int] = {}
    for sig in note.signatures:
        for w in witnesses:
            ts = w.timestamp_of(note.text, sig)
            if ts is not None:
                found[w.name] = max(ts, found.get(w.name, ts))
    return [Cosignature(name, ts) for name, ts in found.items()]
