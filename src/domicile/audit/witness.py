"""The decision of a transparency-log witness (c2sp.org/tlog-witness ``add-checkpoint``).

Pure: the service (:mod:`domicile.witness`) parses the request here, looks up what it last
cosigned for the checkpoint's origin, asks :func:`decide`, persists the new state *before*
answering, and holds the origin's lock from the lookup to the persist so that two
requests can never roll the state back.

Request body: ``old <size>\\n``, at most 63 base64 consistency-proof lines, an empty line,
then the signed checkpoint note. Answers, as the spec sets them:

========  =============================================================================
status    when
========  =============================================================================
200       cosigned: the body is the witness's signature line(s)
400       malformed request, or ``old`` larger than the checkpoint's size
403       no signature on the checkpoint verifies with the log's key
404       the origin is not a log this witness follows
409       ``old`` is not the size it last cosigned (body: that size, ``text/x.tlog.size``),
          or the same size with another root hash (a fork)
422       the consistency proof does not verify (a rewritten or forked history)
========  =============================================================================
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from domicile.audit.merkle import HASH_SIZE, verify_consistency
from domicile.audit.note import Note, Verifier, parse_note, verify_note
from domicile.audit.tlog import Cosigner, TreeHead, parse_tree_head
from domicile.errors import AuditFormatError

MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"
_OLD = re.compile(r"old (0|[1-9][0-9]{0,18})")


class BadRequest(ValueError):
    """The request body does not have the add-checkpoint format."""


@dataclass(frozen=True, slots=True)
class Request:
    old_size: int
    proof: tuple[bytes, ...]
    note: Note
    head: TreeHead


@dataclass(frozen=True, slots=True)
class Seen:
    """The largest checkpoint a witness cosigned for one origin."""

    size: int
    root: bytes


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    #: What to persist before answering (only on 200).
    new_state: Seen | None = None


def parse_request(body: bytes) -> Request:
    """Parse an add-checkpoint body; :class:`BadRequest` when malformed."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadRequest("the request is UTF-8 text") from err
    head_part, sep, note_part = text.partition("\n\n")
    if not sep:
        raise BadRequest("the proof lines end with an empty line before the checkpoint")
    lines = head_part.split("\n")
    match = _OLD.fullmatch(lines[0])
    if match is None:
        raise BadRequest("the first line is 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise BadRequest(f"at most {MAX_PROOF_LINES} consistency proof lines")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            node = base64.b64decode(line, validate=True)
        except binascii.Error as err:
            raise BadRequest("a proof line is one base64 hash") from err
        if len(node) != HASH_SIZE:
            raise BadRequest(f"a proof hash is {HASH_SIZE} bytes")
        proof.append(node)
    try:
        note = parse_note(note_part)
        head = parse_tree_head(note.text)
    except AuditFormatError as err:
        raise BadRequest(str(err)) from err
    return Request(int(match.group(1)), tuple(proof), note, head)


def decide(
    request: Request,
    log_keys: Sequence[Verifier],
    seen: Seen | None,
    cosigner: Cosigner,
    now: int,
) -> Reply:
    """What the witness answers to ``request`` for a log it follows (``log_keys`` are the
    keys it trusts for the origin; ``seen`` what it last cosigned; ``now`` POSIX seconds)."""
    refused = _refusal(request, log_keys, seen or Seen(0, b""))
    if refused is not None:
        return refused
    line = cosigner.cosign(request.note.text, now).line()
    head = request.head
    return Reply(200, line.encode("utf-8"), new_state=Seen(head.size, head.root))


def _refusal(request: Request, log_keys: Sequence[Verifier], last: Seen) -> Reply | None:
    """Why ``request`` is not cosigned, in the spec's order of checks; None if it is."""
    head = request.head
    try:
        verify_note(request.note, log_keys)
    except AuditFormatError:
        return Reply(403, b"no signature on the checkpoint verifies with the log's key\n")
    if request.old_size > head.size:
        return Reply(400, b"old size is larger than the checkpoint's size\n")
    if request.old_size != last.size or (head.size == last.size > 0 and head.root != last.root):
        return Reply(409, f"{last.size}\n".encode(), SIZE_CONTENT_TYPE)
    if last.size == 0:
        consistent = not request.proof  # every tree extends the empty one, with no proof
    else:
        consistent = verify_consistency(last.size, head.size, last.root, head.root, request.proof)
    if not consistent:
        return Reply(422, b"the consistency proof does not verify\n")
    return None
