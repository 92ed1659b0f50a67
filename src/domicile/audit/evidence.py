"""Checkpoints kept on the sites, weighed against each other and against the catalog's.

Pure: the engine reads every checkpoint file (``ckpt-<seq, 20 digits>``) of every reachable
site and hands them here as :class:`SiteFile`; :func:`weigh` parses them, checks each
signature, and compares them:

- a file that is not a checkpoint, whose name and content disagree on the seq, or whose
  signature does not verify (or names another key) is ``bad-signature``, naming the site:
  only the audit key's holder can write a valid one, so anything else was planted;
- two validly signed checkpoints for one seq with different heads (on two sites, or on a
  site and in the catalog) are ``forked``: the audit key signed two histories;
- a site lacking checkpoints that another site holds is a *notice*, not tampering: a site
  added later, or unreachable when a checkpoint was written, lacks them legitimately, and
  deleting a checkpoint from some sites hides nothing while any other copy is kept.

The valid checkpoints go on to :func:`~domicile.audit.verify.verify_chain`, which checks the
records against every one of them (so a truncated catalog or a rewritten record shows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from domicile.audit.checkpoint import Checkpoint, verify_checkpoint
from domicile.audit.keys import key_id
from domicile.audit.verify import Problem, ProblemKind
from domicile.errors import AuditFormatError

#: The blob id of the checkpoint at seq N on a site is this prefix and N in 20 digits.
CHECKPOINT_PREFIX = "ckpt-"
_NAME = re.compile(r"ckpt-([0-9]{20})")
#: Holder name of the catalog's checkpoints in messages.
CATALOG = "the catalog"


def checkpoint_file(seq: int) -> str:
    """The blob id of the checkpoint at ``seq`` on a site: ``ckpt-`` and 20 digits."""
    return f"{CHECKPOINT_PREFIX}{seq:020d}"


def checkpoint_file_seq(blob_id: str) -> int | None:
    """The seq a checkpoint file's name gives, or None if it is not such a name."""
    match = _NAME.fullmatch(blob_id)
    return int(match.group(1)) if match else None


@dataclass(frozen=True, slots=True)
class SiteFile:
    """One checkpoint file as read from ``site``: its seq by name, and its bytes."""

    site: str
    seq: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Evidence:
    """What :func:`weigh` found: the validly signed checkpoints (each ``(seq, head)`` once),
    the problems (tampering) and the notices (not tampering)."""

    valid: tuple[Checkpoint, ...]
    problems: tuple[Problem, ...]
    notices: tuple[str, ...]


def parse_site_file(found: SiteFile, public_key: Ed25519PublicKey) -> Checkpoint | Problem:
    """The checkpoint in ``found`` if it is one, names its own seq and is validly signed;
    else the ``bad-signature`` problem saying what is wrong, naming the site."""
    where = f"site {found.site}: {checkpoint_file(found.seq)}"
    try:
        cp = Checkpoint.from_dict(json.loads(found.data))
    except (AuditFormatError, ValueError, TypeError, AttributeError):
        return Problem(
            found.seq, ProblemKind.BAD_SIGNATURE, f"{where} is not a checkpoint: it was planted"
        )
    if cp.seq != found.seq:
        return Problem(
            found.seq,
            ProblemKind.BAD_SIGNATURE,
            f"{where} holds the checkpoint of seq {cp.seq}: it was renamed or planted",
        )
    if not verify_checkpoint(public_key, cp):
        ours = key_id(public_key)
        why = "names another key" if cp.key_id != ours else "has a signature that does not verify"
        return Problem(
            cp.seq, ProblemKind.BAD_SIGNATURE, f"{where} {why}: it was forged or altered"
        )
    return cp


def weigh(
    files: Iterable[SiteFile],
    catalog: Iterable[Checkpoint],
    public_key: Ed25519PublicKey,
    *,
    sites: Sequence[str] = (),
) -> Evidence:
    """Parse and compare the sites' checkpoint files and the catalog's checkpoints.

    ``sites`` names the sites that were read whole (listed and every file fetched): only
    they are checked for missing checkpoints. Catalog checkpoints with a bad signature are
    left to ``verify_chain`` (which reports them); valid ones take part in the fork check.
    """
    problems: list[Problem] = []
    holders: dict[int, dict[str, list[str]]] = {}
    chosen: dict[tuple[int, str], Checkpoint] = {}
    on_site: dict[str, set[int]] = {s: set() for s in sites}
    for found in files:
        parsed = parse_site_file(found, public_key)
        if isinstance(parsed, Problem):
            problems.append(parsed)
            continue
        holders.setdefault(parsed.seq, {}).setdefault(parsed.head_hash, []).append(
            f"site {found.site}"
        )
        chosen.setdefault((parsed.seq, parsed.head_hash), parsed)
        on_site.setdefault(found.site, set()).add(parsed.seq)
    for cp in catalog:
        if verify_checkpoint(public_key, cp):
            holders.setdefault(cp.seq, {}).setdefault(cp.head_hash, []).append(CATALOG)
    for seq, heads in sorted(holders.items()):
        if len(heads) > 1:
            said = "; ".join(f"head {h[:16]}… by {', '.join(w)}" for h, w in sorted(heads.items()))
            problems.append(
                Problem(
                    seq,
                    ProblemKind.FORKED,
                    f"seq {seq} was signed twice with different heads ({said}): the audit "
                    "key signed two histories; the one that does not match the records is "
                    "reported beside this",
                )
            )
    return Evidence(tuple(chosen.values()), tuple(problems), _missing(on_site, sites))


def _missing(on_site: dict[str, set[int]], sites: Sequence[str]) -> tuple[str, ...]:
    notices = []
    for site in sites:
        others = set().union(*(seqs for s, seqs in on_site.items() if s != site))
        lacking = sorted(others - on_site.get(site, set()))
        if lacking:
            shown = ", ".join(str(s) for s in lacking[:5]) + (", …" if len(lacking) > 5 else "")
            notices.append(
                f"site {site} lacks {len(lacking)} checkpoint(s) that other sites hold "
                f"(seq {shown}): it was added later, was unreachable when they were written, "
                "or they were deleted there; the other copies still vouch for them"
            )
    return tuple(notices)
