"""The history report's facts as values: where copies rested over a period, and when they
rested where their bucket's policy, as it was then, refused them.

Frozen dataclasses of plain values, like :mod:`domicile.engine.facts.model`; times are
epoch seconds (UTC). Built by :func:`domicile.engine.facts.history.build_history`, drawn
by :mod:`domicile.report`.
"""

from __future__ import annotations

from dataclasses import dataclass

from domicile.engine.facts.evidence import ChainStatus, RegistryInfo
from domicile.engine.facts.model import Scope


@dataclass(frozen=True, slots=True)
class SiteAt:
    """A site as the audit chain defined it at some moment (``site_added`` /
    ``site_change``, with the status of a later ``site_status``). ``version`` and
    ``fingerprint`` are None when no definition of the site was recorded then; the other
    fields are then ``?``."""

    id: str
    version: int | None
    fingerprint: str | None
    country: str
    operator: str
    subject_to: tuple[str, ...]
    status: str


@dataclass(frozen=True, slots=True)
class PolicyAt:
    """A bucket's policy as the chain defined it at some moment (``policy_added`` /
    ``policy_change``); ``version`` and ``fingerprint`` None when none was recorded."""

    name: str
    version: int | None
    fingerprint: str | None


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One recorded definition of a policy and the part of the period it was in force
    (``end`` None: still in force at the period's end)."""

    name: str
    version: int
    fingerprint: str
    allow: tuple[str, ...]
    deny: tuple[str, ...]
    deny_subject_to: tuple[str, ...]
    copies: int
    distinct: str
    require: tuple[str, ...]
    start: float
    end: float | None


@dataclass(frozen=True, slots=True)
class BucketAt:
    """A bucket in scope that existed during the period, its tenant and policy."""

    bucket: str
    tenant: str
    policy: str


@dataclass(frozen=True, slots=True)
class Residence:
    """Copies of one bucket on one site, under one definition of that site and one of the
    bucket's policy, within the period: from the first moment (``start``) to the last
    (``end``) one of them rested there so (not necessarily without gaps). ``copies`` counts
    the copy intervals (an object version placed on the site until removed) that
    overlap it. ``allowed`` is the policy's verdict on the site then; ``codes`` and
    ``reasons`` say why not."""

    bucket: str
    site: SiteAt
    policy: PolicyAt
    start: float
    end: float
    copies: int
    allowed: bool
    codes: tuple[str, ...]
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WindowCopy:
    """One copy inside a violation window, and the part of the window it was there."""

    key: str
    version_id: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class ViolationWindow:
    """A span during which copies of ``bucket`` rested on ``site`` while the bucket's policy
    as it was then refused that site for a residency reason, clipped to the period.

    The span is maximal for one definition of the site and of the policy: it starts when
    the first copy arrived or a definition changed, and ends when the last copy left, a
    definition changed, or the period ended (``ongoing``: copies were still there then).
    """

    bucket: str
    site: SiteAt
    policy: PolicyAt
    start: float
    end: float
    ongoing: bool
    codes: tuple[str, ...]
    reasons: tuple[str, ...]
    copies: tuple[WindowCopy, ...]


@dataclass(frozen=True, slots=True)
class HistoryReport:
    """Everything ``domicile report --from --to`` shows; times are epoch seconds (UTC).

    ``records`` is how many audit records were replayed (the whole verified chain);
    ``copies`` the copy intervals and ``versions`` the object versions that overlap the
    period. ``blocs`` lists the bloc terms (``EU``) the judged policies use: their members
    come from today's registry (``registry``), not from the chain.
    """

    deployment: str
    generated_at: float
    start: float
    end: float
    scope: Scope
    buckets: tuple[BucketAt, ...]
    policies: tuple[PolicyVersion, ...]
    residences: tuple[Residence, ...]
    windows: tuple[ViolationWindow, ...]
    copies: int
    versions: int
    records: int
    blocs: tuple[str, ...]
    chain: ChainStatus
    registry: RegistryInfo

    @property
    def compliant(self) -> bool:
        """No copy rested where its policy, as it was then, refused it."""
        return not self.windows
