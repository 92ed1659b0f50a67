"""The residency model's values: entities, sites, their status, and policies.

All of them are frozen: a configuration change builds a new :class:`~domicile.policy.World`.
Country codes are ISO 3166-1 alpha-2, upper case; validation happens when they are loaded
(:mod:`domicile.policy.loading`), not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple


class SiteStatus(StrEnum):
    """A site's lifecycle state, set by the operator of the deployment.

    ``active`` takes new copies and serves reads; ``draining`` serves reads but gets no new
    copies (the planner moves its copies away); ``suspended`` (banned, sanctioned, cut off)
    and ``retired`` (holds nothing) neither take copies nor serve reads.
    """

    ACTIVE = "active"
    DRAINING = "draining"
    SUSPENDED = "suspended"
    RETIRED = "retired"

    @property
    def writable(self) -> bool:
        """New copies may be placed on a site in this status."""
        return self is SiteStatus.ACTIVE

    @property
    def readable(self) -> bool:
        """Copies on a site in this status may be read."""
        return self in (SiteStatus.ACTIVE, SiteStatus.DRAINING)


class Distinct(StrEnum):
    """The failure domain two copies of one object must not share."""

    PROVIDER = "provider"
    SITE = "site"
    COUNTRY = "country"


@dataclass(frozen=True, slots=True)
class Entity:
    """A legal person that operates or owns infrastructure.

    ``country`` is the country of incorporation; ``parent`` the controlling entity's id.
    ``also_subject_to`` lists further jurisdictions that can compel the entity although it
    is incorporated elsewhere (e.g. a Cayman holding headquartered in Hangzhou).
    """

    id: str
    name: str
    country: str
    parent: str | None = None
    also_subject_to: tuple[str, ...] = ()
    source: str | None = None
    as_of: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SiteSpec:
    """One place where blobs rest, as configured.

    ``backend`` is opaque to the residency model (the sites layer reads it); ``provider``
    is the failure-domain label used by ``distinct = "provider"``; ``template`` is the
    registry template the site was filled from, if any.
    """

    id: str
    country: str
    operator: str
    provider: str
    status: SiteStatus = SiteStatus.ACTIVE
    backend: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    template: str | None = None
    #: ``mirror``: lock the blobs of locked versions at the store too (docs/object-lock.md);
    #: not a residency fact.
    lock: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.backend, MappingProxyType):
            object.__setattr__(self, "backend", MappingProxyType(dict(self.backend)))

    def domain(self, distinct: Distinct) -> str:
        """The failure domain of this site under ``distinct``."""
        if distinct is Distinct.PROVIDER:
            return self.provider
        if distinct is Distinct.COUNTRY:
            return self.country
        return self.id


@dataclass(frozen=True, slots=True)
class Policy:
    """A named residency rule set.

    ``allow`` and ``deny`` hold country codes and bloc ids as written (a site's country
    must be in ``allow`` and not in ``deny``); ``deny_subject_to`` holds jurisdictions
    (countries or blocs) no operator in a site's parent chain may be subject to. Every
    object gets ``copies`` copies, no two in the same ``distinct`` failure domain, and every
    blob is also wrapped to ``recipients`` (age public keys). Each term of ``require`` (a
    country or bloc) must hold at least one of the copies. With ``pq`` every blob is wrapped
    only to post-quantum recipients (``age1pq1...``): the keyring's and ``recipients``.
    """

    name: str
    allow: tuple[str, ...]
    deny: tuple[str, ...] = ()
    deny_subject_to: tuple[str, ...] = ()
    copies: int = 1
    distinct: Distinct = Distinct.PROVIDER
    recipients: tuple[str, ...] = ()
    audit_reads: bool = False
    require: tuple[str, ...] = ()
    pq: bool = False


class Exposure(NamedTuple):
    """One jurisdiction an entity is subject to, and the entity of its chain that brings it.

    ``via`` is the entity itself (incorporated there), or a parent up its chain.
    """

    jurisdiction: str
    via: str
