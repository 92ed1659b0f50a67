"""C2SP signed notes (c2sp.org/signed-note): text signed by one or more named keys.

A note is UTF-8 text ending in a newline, a blank line, then one signature line per
signature::

    <text>\\n
    \\n
    — <key name> <base64(4-byte key ID || signature)>\\n

The key ID is ``SHA-256(name || 0x0A || type || public key)[:4]`` for the signature type
byte (0x01 Ed25519 over the note text; 0x04 the timestamped witness cosignatures of
:mod:`domicile.audit.tlog`). A verifier is configured with (name, key, type): signature
lines from other keys are ignored; a line from a known key that does not verify rejects the
whole note; a note with no verified known signature is rejected.

A verifier key is written as a *vkey*: ``<name>+<key ID, 8 hex digits>+<base64(type ||
public key)>``, the form handed to an auditor or a witness operator.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domicile.errors import AuditFormatError

#: Signature type bytes (c2sp.org/signed-note, "Signature types").
ED25519 = 0x01
COSIGNATURE_V1 = 0x04

EM_DASH = "\u2014"
#: The most signature lines a note may carry (the spec asks verifiers to accept 16).
MAX_SIGNATURES = 64
#: The largest note accepted, in bytes (a checkpoint is a few hundred).
MAX_NOTE_BYTES = 1 << 16

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


def _bad(message: str) -> AuditFormatError:
    return AuditFormatError(
        message,
        hint="a signed note is text, a blank line, then '\u2014 name base64' lines",
        operation="audit-note",
    )


def check_key_name(name: str) -> str:
    """``name`` if it can name a key: non-empty, no whitespace, no ``+``. Else ValueError."""
    if not name or any(c.isspace() or c == "+" for c in name) or _CONTROL.search(name):
        raise ValueError(f"a note key name is non-empty, with no spaces or '+': {name!r}")
    return name


def key_id(name: str, kind: int, public: bytes) -> int:
    """The 32-bit key ID of a key: ``SHA-256(name || 0x0A || kind || public)[:4]``."""
    digest = hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([kind]) + public).digest()
    return int.from_bytes(digest[:4], "big")


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: the key's name and ID and the signature bytes after the ID."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{EM_DASH} {self.name} {base64.b64encode(blob).decode('ascii')}\n"


@dataclass(frozen=True, slots=True)
class Note:
    """A note's text (ending in a newline) and its signatures, in the order written."""

    text: str
    signatures: tuple[NoteSignature, ...] = ()

    def to_bytes(self) -> bytes:
        return (self.text + "\n" + "".join(s.line() for s in self.signatures)).encode("utf-8")

    def with_signatures(self, extra: Iterable[NoteSignature]) -> Note:
        """This note with ``extra`` appended, skipping exact duplicates."""
        known = set(self.signatures)
        added = [s for s in extra if s not in known]
        return Note(self.text, (*self.signatures, *added))


def parse_note(data: bytes | str) -> Note:
    """Parse a signed note; AuditFormatError when it does not have the format (signatures
    are not checked here: see :func:`verify_note`)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_NOTE_BYTES:
        raise _bad(f"a note of {len(raw)} bytes is larger than {MAX_NOTE_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise _bad("a note is UTF-8 text") from err
    if _CONTROL.search(text):
        raise _bad("a note has no control characters but newlines")
    cut = text.rfind("\n\n")
    if cut < 0 or not text.endswith("\n"):
        raise _bad("a note's text is followed by a blank line and signature lines")
    body, lines = text[: cut + 1], text[cut + 2 :].split("\n")[:-1]
    if not lines:
        raise _bad("a note has at least one signature line")
    if len(lines) > MAX_SIGNATURES:
        raise _bad(f"a note has at most {MAX_SIGNATURES} signatures, not {len(lines)}")
    return Note(body, tuple(_parse_signature(line) for line in lines))


def _parse_signature(line: str) -> NoteSignature:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != EM_DASH:
        raise _bad(f"a signature line is '\u2014 name base64': {line[:80]!r}")
    try:
        name = check_key_name(parts[1])
        blob = base64.b64decode(parts[2], validate=True)
    except (ValueError, binascii.Error) as err:
        raise _bad(f"a malformed signature line: {line[:80]!r}") from err
    if len(blob) < 5:
        raise _bad("a signature holds a 4-byte key ID and a signature")
    return NoteSignature(name, int.from_bytes(blob[:4], "big"), blob[4:])


@dataclass(frozen=True, slots=True)
class Verifier:
    """Checks signatures of one key: ``check(text, signature) -> bool``."""

    name: str
    key_id: int
    check: Callable[[str, bytes], bool] = field(compare=False, repr=False)

    def matches(self, sig: NoteSignature) -> bool:
        return sig.name == self.name and sig.key_id == self.key_id


class NoteSigner:
    """Signs note texts with an Ed25519 key under ``name`` (signature type 0x01)."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        self.name = check_key_name(name)
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(name, ED25519, raw_public(self.public))

    def sign(self, text: str) -> NoteSignature:
        sig = self._private.sign(text.encode("utf-8"))
        return NoteSignature(self.name, self.key_id, sig)

    def verifier(self) -> Verifier:
        return ed25519_verifier(self.name, self.public)

    def vkey(self) -> str:
        return vkey(self.name, ED25519, raw_public(self.public))

    def __repr__(self) -> str:
        return f"NoteSigner({self.name!r}, key_id={self.key_id:08x}, private=**redacted**)"


def ed25519_verifier(name: str, public: Ed25519PublicKey) -> Verifier:
    """A verifier of plain Ed25519 note signatures (type 0x01) by ``name``'s ``public``."""

    def check(text: str, signature: bytes) -> bool:
        try:
            public.verify(signature, text.encode("utf-8"))
        except InvalidSignature:
            return False
        return True

    return Verifier(check_key_name(name), key_id(name, ED25519, raw_public(public)), check)


def verify_note(note: Note, verifiers: Sequence[Verifier]) -> list[Verifier]:
    """The verifiers whose signatures on ``note`` verify. AuditFormatError when a signature
    of a known key does not verify, or when no known key signed the note at all."""
    good: list[Verifier] = []
    for sig in note.signatures:
        for v in verifiers:
            if not v.matches(sig):
                continue
            if not v.check(note.text, sig.signature):
                raise _bad(f"the signature of {v.name} ({v.key_id:08x}) does not verify")
            if v not in good:
                good.append(v)
    if not good:
        raise _bad("no signature on the note is from a known key")
    return good


def vkey(name: str, kind: int, public: bytes) -> str:
    """A verifier key in text: ``name+<8 hex>+<base64(kind || public)>``."""
    check_key_name(name)
    blob = base64.b64encode(bytes([kind]) + public).decode("ascii")
    return f"{name}+{key_id(name, kind, public):08x}+{blob}"


def parse_vkey(text: str) -> tuple[str, int, bytes]:
    """``(name, type, public key bytes)`` of a vkey; ValueError when it is malformed or its
    key ID does not match its key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not re.fullmatch(r"[0-9a-f]{8}", parts[1]):
        raise ValueError("a verifier key is name+<8 hex digits>+<base64>")
    name = check_key_name(parts[0])
    try:
        blob = base64.b64decode(parts[2], validate=True)
    except binascii.Error as err:
        raise ValueError("a verifier key ends in base64") from err
    if len(blob) < 2:
        raise ValueError("a verifier key holds a type byte and a key")
    kind, public = blob[0], blob[1:]
    if key_id(name, kind, public) != int(parts[1], 16):
        raise ValueError("the verifier key's ID does not match its key")
    return name, kind, public


def verifier_from_vkey(text: str) -> Verifier:
    """The verifier of an Ed25519 note key given as a vkey; ValueError unless it is one."""
    name, kind, public = parse_vkey(text)
    if kind != ED25519 or len(public) != 32:
        raise ValueError("not an Ed25519 note key (type 0x01)")
    return ed25519_verifier(name, Ed25519PublicKey.from_public_bytes(public))
