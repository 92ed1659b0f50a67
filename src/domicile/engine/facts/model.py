"""The report's facts as values: what the engine answers, what the renderers draw.

Every type here is a frozen dataclass of plain values (strings, numbers, tuples), so a
renderer needs nothing else: :mod:`domicile.report` turns them into text, JSON and HTML.
Times are epoch seconds (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass

from domicile.engine.facts.evidence import ChainStatus, RegistryInfo, Verification


@dataclass(frozen=True, slots=True)
class Scope:
    """What the report covers: ``all`` buckets, one ``bucket`` or one ``tenant``'s."""

    kind: str
    name: str | None
    buckets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Tally:
    """One row of a breakdown: ``objects`` with at least one copy there, their ``bytes``
    (plaintext, each object once) and the ``copies`` there."""

    id: str
    name: str
    objects: int
    bytes: int
    copies: int


@dataclass(frozen=True, slots=True)
class SiteTally:
    """One site's share: what it is, and the copies (one per object) it holds."""

    id: str
    country: str
    operator: str
    provider: str
    status: str
    subject_to: tuple[str, ...]
    objects: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Violation:
    """A copy on a site its bucket's policy refuses, and every residency reason why."""

    bucket: str
    key: str
    version_id: str
    site_id: str
    policy: str
    country: str
    operator: str
    codes: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CopyCounts:
    """Per policy: how many good copies its objects have against the ``required`` count.

    A good copy is in state ``ok`` on a site the policy accepts today (as ``plan`` counts
    held copies). ``distribution`` is ``(good copies, objects)`` pairs, ascending.
    """

    policy: str
    required: int
    objects: int
    distribution: tuple[tuple[int, int], ...]

    @property
    def under(self) -> int:
        return sum(n for copies, n in self.distribution if copies < self.required)

    @property
    def met(self) -> int:
        return sum(n for copies, n in self.distribution if copies == self.required)

    @property
    def over(self) -> int:
        return sum(n for copies, n in self.distribution if copies > self.required)


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``domicile report`` shows; times are epoch seconds (UTC)."""

    deployment: str
    generated_at: float
    scope: Scope
    objects: int
    bytes: int
    copies: int
    by_country: tuple[Tally, ...]
    by_operator: tuple[Tally, ...]
    by_exposure: tuple[Tally, ...]
    by_site: tuple[SiteTally, ...]
    violations: tuple[Violation, ...]
    copy_counts: tuple[CopyCounts, ...]
    states: tuple[tuple[str, int], ...]
    verification: Verification
    chain: ChainStatus
    registry: RegistryInfo

    @property
    def compliant(self) -> bool:
        """No copy rests where its policy refuses it."""
        return not self.violations
