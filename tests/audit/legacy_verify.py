"""The chain check as it was before it streamed (issue #22), kept verbatim as the oracle
that tests/audit/test_streaming.py holds the streaming :func:`verify_chain` to: every
finding, message and field of the report must be the same on any tampered chain.

Verify an audit chain and its checkpoints, and say where it was tampered with.

:func:`verify_chain` never raises on tampering: it returns a :class:`ChainReport` listing
every :class:`Problem` with the seq it is located at. How each kind is found:

- ``reordered``: the records are not in increasing seq order as given (located at the
  smallest seq that is out of place). The rest of the checks run on the records sorted.
- ``inserted``: a seq occurs more than once. The copy that links to its neighbours (its
  ``prev`` matches the record before, and the record after or a checkpoint matches its
  hash) is kept for the other checks; the others are reported.
- ``removed``: a gap in the seqs (located at the first missing seq of each gap).
- ``truncated``: the records end at seq L but a validly signed checkpoint covers a seq
  beyond L (located at L + 1).
- ``changed``: a broken link. Link k joins record k to whatever vouches for its hash:
  the ``prev`` of record k + 1 and any valid checkpoint at seq k. Changing a record's
  content breaks only its outgoing link k; changing its ``prev`` also changes its hash, so
  it breaks links k - 1 and k. So an isolated broken link k locates record k, and a run of
  broken links a..b locates the records a + 1..b.
- ``checkpoint-mismatch``: an isolated broken link vouched for only by a checkpoint: the
  record at that seq (or the history since the previous good checkpoint, rewritten
  consistently) differs from what the audit key signed.
- ``bad-signature``: a checkpoint whose signature does not verify with the public key, or
  that names another key; it is ignored by every other check.
- ``head-mismatch``: the record at the seq of the head the caller expects
  (``expected=Head(seq, hash)``, e.g. ``--expect-head`` of an auditor) has another hash;
  records ending before that seq are ``truncated``.
- ``forked`` (found by :mod:`domicile.audit.evidence`, merged with :func:`with_findings`):
  two validly signed checkpoints for one seq name different heads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domicile.audit.chain import Head
from domicile.audit.checkpoint import Checkpoint, verify_checkpoint
from domicile.audit.keys import key_id
from domicile.audit.record import ZERO, Record


class ProblemKind(StrEnum):
    """What kind of tampering (or damage) a :class:`Problem` reports."""

    CHANGED = "changed"
    REMOVED = "removed"
    INSERTED = "inserted"
    REORDERED = "reordered"
    TRUNCATED = "truncated"
    BAD_SIGNATURE = "bad-signature"
    CHECKPOINT_MISMATCH = "checkpoint-mismatch"
    HEAD_MISMATCH = "head-mismatch"
    FORKED = "forked"


@dataclass(frozen=True, slots=True)
class Problem:
    """One finding: where (``seq``), what (``kind``) and the evidence (``message``)."""

    seq: int
    kind: ProblemKind
    message: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.kind}: {self.message}"


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of :func:`verify_chain`.

    ``records`` counts the distinct seqs examined; ``head`` is the last of them (None if
    there were none); ``problems`` is sorted by seq; ``latest_checkpoint`` is the
    highest-seq checkpoint whose signature verifies and whose head matches the record at its
    seq; ``unsigned`` counts the records after it, which no signature covers yet;
    ``notices`` are findings that are not tampering (e.g. a site lacking checkpoints that
    other sites hold), for the reader.
    """

    ok: bool
    records: int
    head: Head | None
    problems: tuple[Problem, ...]
    latest_checkpoint: Checkpoint | None
    unsigned: int
    notices: tuple[str, ...] = ()

    @property
    def first_problem(self) -> Problem | None:
        """The problem at the lowest seq, or None when the chain verifies."""
        return self.problems[0] if self.problems else None


_KIND_ORDER = {kind: i for i, kind in enumerate(ProblemKind)}


def verify_chain(
    records: Iterable[Record],
    checkpoints: Iterable[Checkpoint],
    public_key: Ed25519PublicKey,
    *,
    expected_head: Checkpoint | None = None,
    expected: Head | None = None,
) -> ChainReport:
    """Recompute the chain from seq 1 and check every checkpoint against it.

    ``records`` in the order stored or exported; ``checkpoints`` from the catalog or the
    export; ``expected_head`` the latest checkpoint found on the sites (it counts as one
    more checkpoint, so a truncated catalog or export is caught against it); ``expected``
    an unsigned head the caller vouches for (``SEQ:HASH`` noted by an auditor): records
    ending before its seq are ``truncated``, another hash at its seq is ``head-mismatch``.
    """
    given = list(records)
    problems: list[Problem] = []
    all_cps = [*checkpoints, *([expected_head] if expected_head is not None else [])]
    valid = _check_signatures(all_cps, public_key, problems)
    problems += _order_problems(given)
    chosen = _choose(given, valid, problems)
    last = max(chosen, default=0)
    problems += _gap_problems(chosen)
    top = max((cp.seq for cp in valid), default=0)
    if top > last:
        problems.append(
            Problem(
                last + 1,
                ProblemKind.TRUNCATED,
                f"records end at seq {last} but a checkpoint signed seq {top}: "
                f"records {last + 1}..{top} (at least) were removed",
            )
        )
    problems += _link_problems(chosen, valid)
    if expected is not None and expected.seq >= 1:
        problems += _expected_problems(chosen, last, expected)
    matching = [cp for cp in valid if cp.seq in chosen and chosen[cp.seq].hash == cp.head_hash]
    latest = max(matching, key=lambda cp: cp.seq, default=None)
    problems.sort(key=lambda p: (p.seq, _KIND_ORDER[p.kind]))
    return ChainReport(
        ok=not problems,
        records=len(chosen),
        head=Head(last, chosen[last].hash) if chosen else None,
        problems=tuple(problems),
        latest_checkpoint=latest,
        unsigned=last - (latest.seq if latest else 0),
    )


def with_findings(
    report: ChainReport, problems: Iterable[Problem], notices: Iterable[str] = ()
) -> ChainReport:
    """``report`` with more ``problems`` (e.g. from the sites' checkpoints) and ``notices``."""
    merged = sorted([*report.problems, *problems], key=lambda p: (p.seq, _KIND_ORDER[p.kind]))
    return ChainReport(
        ok=not merged,
        records=report.records,
        head=report.head,
        problems=tuple(merged),
        latest_checkpoint=report.latest_checkpoint,
        unsigned=report.unsigned,
        notices=(*report.notices, *notices),
    )


def _expected_problems(chosen: dict[int, Record], last: int, expected: Head) -> list[Problem]:
    if expected.seq > last:
        return [
            Problem(
                last + 1,
                ProblemKind.TRUNCATED,
                f"records end at seq {last} but the expected head is at seq {expected.seq}: "
                f"records {last + 1}..{expected.seq} (at least) were removed",
            )
        ]
    found = chosen.get(expected.seq)
    if found is None or found.hash == expected.hash:
        return []  # a missing record is reported as removed already
    return [
        Problem(
            expected.seq,
            ProblemKind.HEAD_MISMATCH,
            f"record {expected.seq} has hash {found.hash}, not the expected {expected.hash}: "
            f"it, or a record before it, differs from the history you expected",
        )
    ]


def _check_signatures(
    cps: Sequence[Checkpoint], public_key: Ed25519PublicKey, problems: list[Problem]
) -> list[Checkpoint]:
    ours = key_id(public_key)
    valid = []
    for cp in cps:
        if verify_checkpoint(public_key, cp):
            valid.append(cp)
        elif cp.key_id != ours:
            problems.append(
                Problem(
                    cp.seq,
                    ProblemKind.BAD_SIGNATURE,
                    f"checkpoint at seq {cp.seq} names key {cp.key_id}, not {ours}: "
                    "check that you passed this deployment's audit public key",
                )
            )
        else:
            problems.append(
                Problem(
                    cp.seq,
                    ProblemKind.BAD_SIGNATURE,
                    f"checkpoint at seq {cp.seq} has a signature that does not verify: "
                    "its seq, head, time or signature was altered",
                )
            )
    return valid


def _order_problems(given: Sequence[Record]) -> list[Problem]:
    seen: set[int] = set()
    firsts = []
    for record in given:
        if record.seq not in seen:
            seen.add(record.seq)
            firsts.append(record.seq)
    for position, (found, wanted) in enumerate(zip(firsts, sorted(firsts), strict=True)):
        if found != wanted:
            return [
                Problem(
                    wanted,
                    ProblemKind.REORDERED,
                    f"records are out of order: record {found} is at position "
                    f"{position + 1}, where record {wanted} belongs",
                )
            ]
    return []


def _choose(
    given: Sequence[Record], valid: Sequence[Checkpoint], problems: list[Problem]
) -> dict[int, Record]:
    by_seq: dict[int, list[Record]] = {}
    for record in given:
        by_seq.setdefault(record.seq, []).append(record)
    signed = {(cp.seq, cp.head_hash) for cp in valid}

    def score(r: Record) -> int:
        before = by_seq.get(r.seq - 1, [])
        fits_prev = r.prev == ZERO if r.seq == 1 else any(r.prev == b.hash for b in before)
        fits_next = (r.seq, r.hash) in signed or any(
            a.prev == r.hash for a in by_seq.get(r.seq + 1, [])
        )
        return int(fits_prev) + int(fits_next)

    chosen = {}
    for seq in sorted(by_seq):
        candidates = by_seq[seq]
        if len(candidates) == 1:  # the usual case: nothing to choose, nothing to score
            chosen[seq] = candidates[0]
            continue
        if len(candidates) > 1:
            problems.append(
                Problem(
                    seq,
                    ProblemKind.INSERTED,
                    f"seq {seq} occurs {len(candidates)} times: all but one were inserted "
                    "(the copy that links to its neighbours is kept for the other checks)",
                )
            )
        chosen[seq] = max(candidates, key=score)  # max keeps the first among equals
    return chosen


def _gap_problems(chosen: dict[int, Record]) -> list[Problem]:
    problems = []
    expected = 1
    for seq in sorted(chosen):
        if seq > expected:
            count = seq - expected
            problems.append(
                Problem(
                    expected,
                    ProblemKind.REMOVED,
                    f"records {expected}..{seq - 1} are missing ({count} removed)"
                    if count > 1
                    else f"record {expected} is missing (removed)",
                )
            )
        expected = seq + 1
    return problems


def _link_problems(chosen: dict[int, Record], valid: Sequence[Checkpoint]) -> list[Problem]:
    chain_broken: set[int] = set()
    for seq, record in chosen.items():
        if seq == 1:
            if record.prev != ZERO:
                chain_broken.add(0)
        elif seq - 1 in chosen and record.prev != chosen[seq - 1].hash:
            chain_broken.add(seq - 1)
    cp_broken = {cp.seq for cp in valid if cp.seq in chosen and chosen[cp.seq].hash != cp.head_hash}
    broken = sorted(chain_broken | cp_broken)
    good_cps = sorted(
        cp.seq for cp in valid if cp.seq in chosen and chosen[cp.seq].hash == cp.head_hash
    )
    problems = []
    for start, end in _runs(broken):
        if start == end:
            problems.append(_isolated(start, chain_broken, cp_broken, good_cps))
            continue
        for seq in range(start + 1, end + 1):
            problems.append(
                Problem(
                    seq,
                    ProblemKind.CHANGED,
                    f"record {seq} was altered: its prev does not match record {seq - 1} "
                    f"and its hash does not match {_vouchers(seq, chain_broken, cp_broken)}",
                )
            )
    return problems


def _isolated(
    slot: int, chain_broken: set[int], cp_broken: set[int], good_cps: Sequence[int]
) -> Problem:
    seq = max(slot, 1)
    if slot == 0:
        return Problem(1, ProblemKind.CHANGED, "record 1 was altered: its prev is not 64 zeros")
    if slot not in chain_broken:
        earlier = [s for s in good_cps if s < seq]
        since = f"seq {earlier[-1]}" if earlier else "the start"
        return Problem(
            seq,
            ProblemKind.CHECKPOINT_MISMATCH,
            f"record {seq} differs from the checkpoint signed at seq {seq}: it, or the "
            f"records since the last matching checkpoint ({since}), were rewritten",
        )
    return Problem(
        seq,
        ProblemKind.CHANGED,
        f"record {seq} was altered: its hash does not match "
        f"{_vouchers(seq, chain_broken, cp_broken)}",
    )


def _vouchers(seq: int, chain_broken: set[int], cp_broken: set[int]) -> str:
    parts = []
    if seq in chain_broken:
        parts.append(f"the prev of record {seq + 1}")
    if seq in cp_broken:
        parts.append(f"the checkpoint signed at seq {seq}")
    return " nor ".join(parts) if parts else "anything (no later record or checkpoint)"


def _runs(slots: Sequence[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for slot in slots:
        if runs and slot == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], slot)
        else:
            runs.append((slot, slot))
    return runs
