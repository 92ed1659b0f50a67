"""The deployment-wide evidence behind every report: when copies were last verified, the
audit chain's state, and the registry the residency decisions were made with."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domicile.engine.auditlog import AuditLog
from domicile.policy import Registry


@dataclass(frozen=True, slots=True)
class Verification:
    """When the copies in scope were last checked by ``domicile verify``.

    ``oldest`` and ``newest`` are over the verified copies (None when none is); a copy
    never verified counts in ``never`` and in neither time.
    """

    copies: int
    never: int
    oldest: float | None
    newest: float | None


@dataclass(frozen=True, slots=True)
class ChainProblem:
    seq: int
    kind: str
    message: str


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """The audit chain as ``domicile audit verify`` finds it (deployment-wide, whatever the
    report's scope). ``enabled`` is False when the engine runs without an audit log."""

    enabled: bool
    ok: bool
    records: int
    head_seq: int | None
    head_hash: str | None
    checkpoint_seq: int | None
    checkpoint_time: float | None
    unsigned: int
    problems: tuple[ChainProblem, ...]


@dataclass(frozen=True, slots=True)
class RegistryInfo:
    """The registry in force: its own ``version`` and ``date``, ``sha256`` of the file's
    bytes (the shipped file or ``[registry] file``; None for a registry built in memory),
    and what is out of date in it (``warnings``)."""

    version: str
    date: str
    sha256: str | None
    warnings: tuple[str, ...] = ()


class VerificationTally:
    """Aggregates copies' ``verified_at`` times one at a time (constant memory)."""

    __slots__ = ("_never", "_newest", "_oldest", "_verified")

    def __init__(self) -> None:
        self._verified = self._never = 0
        self._oldest: float | None = None
        self._newest: float | None = None

    def add(self, at: float | None) -> None:
        if at is None:
            self._never += 1
            return
        self._verified += 1
        if self._oldest is None or at < self._oldest:
            self._oldest = at
        if self._newest is None or at > self._newest:
            self._newest = at

    def result(self) -> Verification:
        return Verification(
            copies=self._verified + self._never,
            never=self._never,
            oldest=self._oldest,
            newest=self._newest,
        )


def verification(verified_at: Iterable[float | None]) -> Verification:
    """Aggregate the copies' ``verified_at`` times."""
    tally = VerificationTally()
    for at in verified_at:
        tally.add(at)
    return tally.result()


def chain_status(audit: AuditLog | None) -> ChainStatus:
    """Run the audit log's full verification (catalog and the sites' checkpoints)."""
    if audit is None:
        return ChainStatus(False, False, 0, None, None, None, None, 0, ())
    found = audit.verify()
    cp = found.latest_checkpoint
    return ChainStatus(
        enabled=True,
        ok=found.ok,
        records=found.records,
        head_seq=found.head.seq if found.head else None,
        head_hash=found.head.hash if found.head else None,
        checkpoint_seq=cp.seq if cp else None,
        checkpoint_time=cp.time / 1e6 if cp else None,
        unsigned=found.unsigned,
        problems=tuple(ChainProblem(p.seq, str(p.kind), p.message) for p in found.problems),
    )


def registry_info(registry: Registry, warnings: tuple[str, ...] = ()) -> RegistryInfo:
    """Version, date, the digest of its data file (when read from one), and ``warnings``."""
    return RegistryInfo(registry.version, registry.date, registry.sha256, warnings)
