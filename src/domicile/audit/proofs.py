"""Proof bundles an auditor verifies offline: inclusion of records, consistency of two
checkpoints. Pure: the engine builds them from the catalog; anyone with the log's key
(a vkey) and the witnesses' keys verifies them, without domicile's catalog or sites.

Leaf *i* of the tree is the canonical bytes of record ``seq = i + 1`` (docs/audit.md), so
a bundle carries records as their JSON objects and the verifier re-derives every hash.

Inclusion bundle (one JSON object)::

    {"format": "domicile-audit-inclusion", "version": 1,
     "checkpoint": "<signed checkpoint note, with any cosignatures>",
     "entries": [{"record": {<the record's fields>}, "proof": ["<base64 hash>", ...]}, ...]}

Consistency bundle::

    {"format": "domicile-audit-consistency", "version": 1,
     "old": "<signed checkpoint note>", "new": "<signed checkpoint note>",
     "proof": ["<base64 hash>", ...]}
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domicile.audit.merkle import (
    HASH_SIZE,
    CompactRange,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from domicile.audit.note import Note, Verifier, ed25519_verifier, parse_note, verify_note
from domicile.audit.record import Record
from domicile.audit.tlog import (
    Cosignature,
    CosignatureVerifier,
    TreeHead,
    cosignatures,
    parse_tree_head,
)
from domicile.audit.verify import Problem, ProblemKind
from domicile.errors import AuditFormatError, ProofInvalid

INCLUSION_FORMAT = "domicile-audit-inclusion"
CONSISTENCY_FORMAT = "domicile-audit-consistency"
BUNDLE_VERSION = 1


#: A proof bundle does not prove what it claims (or is malformed).
ProofError = ProofInvalid


def _fail(message: str) -> ProofError:
    return ProofInvalid(
        message,
        hint="the bundle, the checkpoint or the records were altered, or were made for "
        "another log or with other keys",
        operation="audit-proof",
    )


def record_leaf(record: Record) -> bytes:
    """The Merkle leaf hash of one audit record."""
    return leaf_hash(record.canonical)


@dataclass(frozen=True, slots=True)
class TrustedHead:
    """A checkpoint whose log signature (and witness quorum) verified."""

    head: TreeHead
    note: Note
    cosigned_by: tuple[Cosignature, ...]


def open_checkpoint(
    note_text: str | bytes,
    log: Verifier,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
) -> TrustedHead:
    """Verify a checkpoint note: the log's signature, its origin (the log key's name) and
    at least ``quorum`` cosignatures by distinct ``witnesses``. ProofError otherwise."""
    try:
        note = parse_note(note_text)
        head = parse_tree_head(note.text)
        verify_note(note, [log])
        cosigned = cosignatures(note, witnesses)
    except AuditFormatError as err:
        raise _fail(f"the checkpoint does not verify: {err}") from err
    if head.origin != log.name:
        raise _fail(f"the checkpoint is of log {head.origin!r}, not {log.name!r}")
    if len(cosigned) < quorum:
        names = ", ".join(c.witness for c in cosigned) or "none"
        raise _fail(f"{len(cosigned)} witness cosignature(s) ({names}); {quorum} required")
    return TrustedHead(head, note, tuple(cosigned))


def _hashes(values: object) -> list[bytes]:
    if not isinstance(values, list):
        raise _fail("a proof is a list of base64 hashes")
    out: list[bytes] = []
    for v in values:
        try:
            node = base64.b64decode(str(v), validate=True)
        except binascii.Error as err:
            raise _fail("a proof hash is base64") from err
        if len(node) != HASH_SIZE:
            raise _fail(f"a proof hash is {HASH_SIZE} bytes")
        out.append(node)
    return out


def _b64(nodes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(n).decode("ascii") for n in nodes]


def inclusion_bundle(
    checkpoint: Note, entries: Sequence[tuple[Record, Sequence[bytes]]]
) -> dict[str, Any]:
    """The bundle of ``(record, inclusion proof)`` pairs against ``checkpoint``."""
    return {
        "format": INCLUSION_FORMAT,
        "version": BUNDLE_VERSION,
        "checkpoint": checkpoint.to_bytes().decode("utf-8"),
        "entries": [{"record": r.body(), "proof": _b64(p)} for r, p in entries],
    }


def _check_format(bundle: Mapping[str, Any], expected: str) -> None:
    if bundle.get("format") != expected or bundle.get("version") != BUNDLE_VERSION:
        raise _fail(f"not a {expected} bundle of version {BUNDLE_VERSION}")


def verify_inclusion_bundle(
    bundle: Mapping[str, Any],
    log: Verifier,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
) -> tuple[TrustedHead, list[Record]]:
    """The checkpoint and the records the bundle proves are in the log; ProofError when
    anything does not verify (a record changed, a proof for another position or tree, a
    checkpoint not signed by the log or short of the witness quorum)."""
    _check_format(bundle, INCLUSION_FORMAT)
    trusted = open_checkpoint(str(bundle.get("checkpoint", "")), log, witnesses, quorum)
    raw_entries = bundle.get("entries")
    if not isinstance(raw_entries, list) or not raw_entries:
        raise _fail("an inclusion bundle has at least one entry")
    records: list[Record] = []
    for entry in raw_entries:
        if not isinstance(entry, Mapping) or not isinstance(entry.get("record"), Mapping):
            raise _fail("an entry holds a record object and its proof")
        try:
            record = Record.from_body(entry["record"])
        except AuditFormatError as err:
            raise _fail(f"an entry's record is malformed: {err}") from err
        proof = _hashes(entry.get("proof"))
        size = trusted.head.size
        if not verify_inclusion(
            record.seq - 1, size, record_leaf(record), proof, trusted.head.root
        ):
            raise _fail(f"record {record.seq} is not in the tree of size {size} as proved")
        records.append(record)
    return trusted, records


def consistency_bundle(old: Note, new: Note, proof: Sequence[bytes]) -> dict[str, Any]:
    """The bundle proving that checkpoint ``new`` extends checkpoint ``old``."""
    return {
        "format": CONSISTENCY_FORMAT,
        "version": BUNDLE_VERSION,
        "old": old.to_bytes().decode("utf-8"),
        "new": new.to_bytes().decode("utf-8"),
        "proof": _b64(proof),
    }


def verify_consistency_bundle(
    bundle: Mapping[str, Any],
    log: Verifier,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
) -> tuple[TrustedHead, TrustedHead]:
    """Both checkpoints, when ``new`` verifiably extends ``old``; ProofError otherwise."""
    _check_format(bundle, CONSISTENCY_FORMAT)
    old = open_checkpoint(str(bundle.get("old", "")), log, witnesses, quorum)
    new = open_checkpoint(str(bundle.get("new", "")), log, witnesses, quorum)
    proof = _hashes(bundle.get("proof"))
    a, b = old.head, new.head
    if not verify_consistency(a.size, b.size, a.root, b.root, proof):
        raise _fail(
            f"the tree of size {b.size} does not extend the tree of size {a.size}: "
            "history was rewritten or forked in between"
        )
    return old, new


@dataclass(frozen=True, slots=True)
class TreeFindings:
    """What :func:`verify_tree_notes` found: tampering, notices, and whether the newest
    tree checkpoint has the quorum of cosignatures (None: there is no tree checkpoint)."""

    problems: list[Problem]
    notices: list[str]
    witnessed: bool | None


def verify_tree_notes(
    records: Iterable[Record],
    notes: Sequence[str],
    public_key: Ed25519PublicKey,
    witnesses: Sequence[CosignatureVerifier] = (),
    quorum: int = 0,
) -> TreeFindings:
    """Check an export's tree checkpoints against its records, offline: each note signed
    by the audit key (under the origin it names), and its root recomputed over records
    1..size in one pass; the newest one's cosignatures by ``witnesses`` against
    ``quorum``."""
    problems: list[Problem] = []
    heads: dict[int, TrustedHead] = {}
    for note in notes:
        origin = note.split("\n", 1)[0]
        try:
            trusted = open_checkpoint(note, ed25519_verifier(origin, public_key), witnesses)
        except (ProofInvalid, ValueError) as err:
            problems.append(Problem(0, ProblemKind.BAD_SIGNATURE, f"a tree checkpoint: {err}"))
            continue
        size = trusted.head.size
        if size in heads and heads[size].head != trusted.head:
            problems.append(
                Problem(size, ProblemKind.FORKED, f"two tree checkpoints of size {size} differ")
            )
        heads[size] = trusted
    wanted = sorted(heads)
    compact, at = CompactRange(), 0
    for record in records:
        if at >= len(wanted) or record.seq != compact.size + 1:
            break  # past the last tree, or a gap (the chain check reports it)
        compact.append(record_leaf(record))
        while at < len(wanted) and wanted[at] == compact.size:
            if compact.root() != heads[wanted[at]].head.root:
                problems.append(
                    Problem(
                        wanted[at],
                        ProblemKind.CHECKPOINT_MISMATCH,
                        f"records 1..{wanted[at]} do not hash to the signed tree checkpoint "
                        "of that size",
                    )
                )
            at += 1
    for size in wanted[at:]:
        problems.append(
            Problem(size, ProblemKind.TRUNCATED, f"a tree checkpoint covers {size} records")
        )
    if not wanted:
        return TreeFindings(problems, [], None)
    have = len(heads[wanted[-1]].cosigned_by)
    notices = []
    if have < quorum:
        notices.append(
            f"the newest tree checkpoint ({wanted[-1]}) has {have} of the {quorum} witness "
            "cosignatures required"
        )
    return TreeFindings(problems, notices, have >= quorum)
