"""Typed reasons and per-site verdicts of a placement decision.

Every refusal carries a stable ``code`` (for programs: the S3 error detail, tests, the
planner), a human ``text`` and structured ``data`` (JSON-ready strings). The codes:

================== ===========================================================================
code               meaning
================== ===========================================================================
country_not_allowed the site's country is not in the policy's ``allow`` (countries and blocs)
country_denied     the site's country is allowed but also in the policy's ``deny``
subject_to         the site's operator, or a parent up its chain, is subject to a
                   jurisdiction in ``deny_subject_to`` (one reason per such jurisdiction)
status             the site's status is not ``active``: it takes no new copies, and copies
                   it holds do not count (draining, suspended, retired)
unhealthy          the caller observed the site failing; it gets no new copy right now
diversity          the site's failure domain (provider, country or site, per ``distinct``)
                   already holds a copy of this object on another chosen site
unknown_site       a copy is held on a site that is not in the configuration
================== ===========================================================================

The first three and ``unknown_site`` are *residency* reasons: a site refused for one of
them must never hold the policy's data. The others are operational.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

COUNTRY_NOT_ALLOWED: Final = "country_not_allowed"
COUNTRY_DENIED: Final = "country_denied"
SUBJECT_TO: Final = "subject_to"
STATUS: Final = "status"
UNHEALTHY: Final = "unhealthy"
DIVERSITY: Final = "diversity"
UNKNOWN_SITE: Final = "unknown_site"

#: Reasons that make a site non-compliant with the policy, whatever its health or status.
RESIDENCY_CODES: Final = frozenset({COUNTRY_NOT_ALLOWED, COUNTRY_DENIED, SUBJECT_TO, UNKNOWN_SITE})
#: Every reason code, in the order explanations list them.
CODES: Final = (
    COUNTRY_NOT_ALLOWED,
    COUNTRY_DENIED,
    SUBJECT_TO,
    UNKNOWN_SITE,
    STATUS,
    UNHEALTHY,
    DIVERSITY,
)


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a site was refused: a stable ``code``, a sentence, and structured ``data``."""

    code: str
    text: str
    data: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown reason code {self.code!r}")
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))

    @property
    def residency(self) -> bool:
        """True when this reason is a residency violation (not health, status or diversity)."""
        return self.code in RESIDENCY_CODES

    def to_json(self) -> dict[str, str]:
        """``{"code": ..., "text": ..., **data}``."""
        return {"code": self.code, "text": self.text, **self.data}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision for one site.

    ``accepted`` is true when no reason refuses the site; ``selected`` when the decision
    uses it (in a refused decision: would have used it); ``held`` when the caller said it
    already holds a copy. ``notes`` carry non-refusing caveats (a bloc member with limits,
    a held copy on a site observed unhealthy).
    """

    site_id: str
    accepted: bool
    reasons: tuple[Reason, ...] = ()
    selected: bool = False
    held: bool = False
    notes: tuple[str, ...] = ()

    @property
    def compliant(self) -> bool:
        """No residency reason: the site may hold this policy's data (status aside)."""
        return not any(r.residency for r in self.reasons)

    @property
    def codes(self) -> tuple[str, ...]:
        """The codes of ``reasons``, in order."""
        return tuple(r.code for r in self.reasons)
