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
    """One site's share: what it is, and the copies (one per object) it holds.

    ``fingerprint`` is that of the site's definition in force, the one the audit log's
    newest ``site_added`` / ``site_change`` record of it carries (None for a site no longer
    configured).
    """

    id: str
    country: str
    operator: str
    provider: str
    status: str
    subject_to: tuple[str, ...]
    objects: int
    bytes: int
    fingerprint: str | None = None


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
class PolicyRules:
    """One residency policy as it is in force, in the canonical form the audit log records
    (``policy_added`` / ``policy_change``: lists sorted), with the same ``fingerprint``, so
    an auditor can match the report with the chain."""

    name: str
    fingerprint: str
    allow: tuple[str, ...]
    deny: tuple[str, ...]
    deny_subject_to: tuple[str, ...]
    copies: int
    distinct: str
    require: tuple[str, ...]
    recipients: tuple[str, ...]
    audit_reads: bool
    pq: bool = False


@dataclass(frozen=True, slots=True)
class BucketPolicy:
    """A bucket in scope, its tenant and the name of the policy it is bound to."""

    bucket: str
    tenant: str
    policy: str


@dataclass(frozen=True, slots=True)
class UncountedCopy:
    """A copy that does not count toward its policy's ``copies``, and why (a phrase:
    ``marked missing by verify``, ``site suspended``, ``on a site the policy refuses``)."""

    site_id: str
    why: str


@dataclass(frozen=True, slots=True)
class Shortfall:
    """An object with fewer readable copies on allowed sites than its policy requires.

    ``readable`` counts the copies that domicile can vouch are readable
    (:mod:`domicile.engine.facts.readable`) on sites the policy's residency rules allow;
    ``readable_elsewhere`` those readable on sites it refuses (each is also a violation).
    The object is **unreadable** when neither holds one. ``uncounted`` lists every other
    copy with the reason it does not count.
    """

    bucket: str
    key: str
    version_id: str
    policy: str
    required: int
    readable: int
    readable_elsewhere: int
    uncounted: tuple[UncountedCopy, ...]

    @property
    def unreadable(self) -> bool:
        """No copy anywhere can be read."""
        return self.readable + self.readable_elsewhere == 0


@dataclass(frozen=True, slots=True)
class Report:
    """Everything ``domicile report`` shows; times are epoch seconds (UTC).

    ``violation_count`` counts the copies on refused sites, ``shortfall_count`` the
    objects short of readable copies, ``unreadable_count`` those with none at all. The
    rows themselves (``violations``, ``shortfalls``) are kept only when the report was
    built with ``details`` (else empty): a deployment's report holds its aggregates, not
    one row per object (``report_rows`` streams them).
    """

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
    shortfalls: tuple[Shortfall, ...]
    buckets: tuple[BucketPolicy, ...]
    policies: tuple[PolicyRules, ...]
    copy_counts: tuple[CopyCounts, ...]
    states: tuple[tuple[str, int], ...]
    verification: Verification
    chain: ChainStatus
    registry: RegistryInfo
    violation_count: int
    shortfall_count: int
    unreadable_count: int
    details: bool

    @property
    def compliant(self) -> bool:
        """No copy rests where its policy refuses it, and every object has at least as
        many readable copies on allowed sites as its policy requires."""
        return not self.violation_count and not self.shortfall_count

    @property
    def unreadable(self) -> tuple[Shortfall, ...]:
        """The shortfalls kept (``details``) with no readable copy at all."""
        return tuple(s for s in self.shortfalls if s.unreadable)
