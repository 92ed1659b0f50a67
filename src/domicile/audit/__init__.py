"""The audit chain: a pure core of hash-chained records and signed checkpoints.

No I/O besides the two key-file helpers; the engine persists records and checkpoints in
the catalog and on the sites, and calls in here to build and verify them.

- Records: :class:`Record`, :func:`canonical_bytes`, :data:`ZERO`; :class:`Chain` builds
  the next record from the head (:class:`Head`) with an injectable clock.
- Checkpoints: :class:`Checkpoint`, :func:`sign_checkpoint`, :func:`verify_checkpoint`,
  :func:`checkpoint_message`, :class:`CheckpointPolicy`.
- Keys: :class:`AuditKey` (Ed25519), :func:`key_id`, :func:`public_key_text`,
  :func:`parse_public_key`, :func:`save_private_key`, :func:`load_private_key`,
  :func:`load_public_key`.
- Verification: :func:`verify_chain` -> :class:`ChainReport` of :class:`Problem`
  (:class:`ProblemKind`).
- Export: :func:`export_lines`, :func:`parse_lines` (JSON Lines).
- Site evidence: :func:`weigh` the checkpoint files read from the sites (:class:`SiteFile`)
  against each other and the catalog's; :func:`with_findings` merges them into a report.

Formats are spelled out byte for byte in ``docs/audit.md``.
"""

from domicile.audit.chain import Chain, Clock, Head, wall_clock_us
from domicile.audit.checkpoint import (
    CHECKPOINT_DOMAIN,
    Checkpoint,
    CheckpointPolicy,
    checkpoint_message,
    sign_checkpoint,
    verify_checkpoint,
)
from domicile.audit.evidence import Evidence, SiteFile, weigh
from domicile.audit.export import export_lines, parse_lines
from domicile.audit.keys import (
    AuditKey,
    key_id,
    load_private_key,
    load_public_key,
    parse_public_key,
    public_key_text,
    save_private_key,
)
from domicile.audit.record import FORMAT_VERSION, ZERO, Record, Scalar, canonical_bytes
from domicile.audit.verify import ChainReport, Problem, ProblemKind, verify_chain, with_findings

__all__ = [
    "CHECKPOINT_DOMAIN",
    "FORMAT_VERSION",
    "ZERO",
    "AuditKey",
    "Chain",
    "ChainReport",
    "Checkpoint",
    "CheckpointPolicy",
    "Clock",
    "Evidence",
    "Head",
    "Problem",
    "ProblemKind",
    "Record",
    "Scalar",
    "SiteFile",
    "canonical_bytes",
    "checkpoint_message",
    "export_lines",
    "key_id",
    "load_private_key",
    "load_public_key",
    "parse_lines",
    "parse_public_key",
    "public_key_text",
    "save_private_key",
    "sign_checkpoint",
    "verify_chain",
    "verify_checkpoint",
    "wall_clock_us",
    "weigh",
    "with_findings",
]
