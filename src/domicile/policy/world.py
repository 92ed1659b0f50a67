"""The resolved residency world: registry + entities + sites + policies, immutable.

A :class:`World` is validated when it is built (every parent and operator known, no parent
cycle) and precomputes, once, what the placement decision needs per entity and per site:
the jurisdictions along each parent chain and a stable hash per site. Changes (a site
drained, a policy edited) build a new World; the old one stays valid for in-flight work.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from domicile.errors import ConfigError
from domicile.policy.countries import normalize_country, suggest
from domicile.policy.model import Entity, Exposure, Policy, SiteSpec, SiteStatus
from domicile.policy.registry import Registry, load_registry

_T = TypeVar("_T")


@dataclass(frozen=True, eq=False)
class World:
    """Everything the residency model knows, resolved and immutable.

    ``entities`` holds the registry's entities overridden and extended by the
    deployment's; ``sites`` and ``policies`` are keyed by id and name. ``source`` names the
    configuration file, for error messages. Building a World raises :class:`ConfigError`
    on an unknown parent or operator and on a parent cycle.
    """

    registry: Registry
    entities: Mapping[str, Entity]
    sites: Mapping[str, SiteSpec]
    policies: Mapping[str, Policy]
    source: str = "<memory>"
    _chains: Mapping[str, tuple[str, ...]] = field(init=False, repr=False)
    _exposures: Mapping[str, tuple[Exposure, ...]] = field(init=False, repr=False)
    _site_hash: Mapping[str, int] = field(init=False, repr=False)
    _memo: dict[Any, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "entities", MappingProxyType(dict(self.entities)))
        set_(self, "sites", MappingProxyType(dict(sorted(self.sites.items()))))
        set_(self, "policies", MappingProxyType(dict(self.policies)))
        chains = {eid: _chain(self.entities, eid, self.source) for eid in self.entities}
        set_(self, "_chains", MappingProxyType(chains))
        set_(
            self,
            "_exposures",
            MappingProxyType({eid: _exposures(self.entities, c) for eid, c in chains.items()}),
        )
        for site in self.sites.values():
            if site.operator not in self.entities:
                raise ConfigError(
                    f"{self.source}: sites.{site.id}.operator: unknown entity {site.operator!r}",
                    hint=suggest(site.operator, self.entities, what="an entity id")
                    + " (define it under [entities] or use a registry entity)",
                    file=self.source,
                    key=f"sites.{site.id}.operator",
                )
        set_(self, "_site_hash", MappingProxyType({s: _hash64(s) for s in self.sites}))
        set_(self, "_memo", {})

    @classmethod
    def of(
        cls,
        sites: Mapping[str, SiteSpec] | list[SiteSpec] | tuple[SiteSpec, ...],
        policies: Mapping[str, Policy] | None = None,
        *,
        entities: Mapping[str, Entity] | None = None,
        registry: Registry | None = None,
    ) -> World:
        """A World over the shipped registry's entities (plus ``entities``), for tests and tools."""
        reg = registry or load_registry()
        by_id = sites if isinstance(sites, Mapping) else {s.id: s for s in sites}
        return cls(
            registry=reg,
            entities={**reg.entities, **(entities or {})},
            sites=by_id,
            policies=policies or {},
        )

    def chain(self, entity_id: str) -> tuple[str, ...]:
        """The entity's id followed by its parents' ids, nearest first."""
        try:
            return self._chains[entity_id]
        except KeyError:
            raise _unknown_entity(self, entity_id) from None

    def site_hash(self, site_id: str) -> int:
        """A 64-bit hash of the site id, stable across processes (rendezvous ordering)."""
        return self._site_hash[site_id]

    def countries_of(self, term: str) -> frozenset[str] | None:
        """The countries a policy term names: a bloc's members, or one country; else None."""
        bloc = self.bloc(term)
        if bloc is not None:
            return self.registry.blocs[bloc].members
        code = normalize_country(term)
        return frozenset((code,)) if code else None

    def bloc(self, term: str) -> str | None:
        """The registry's bloc id that ``term`` names (case-insensitive), or None."""
        upper = term.strip().upper()
        for bid in self.registry.blocs:
            if bid.upper() == upper:
                return bid
        return None

    def memo(self, key: Any, make: Callable[[], _T]) -> _T:
        """A per-World cache for values derived from this World (compiled policies)."""
        try:
            value: _T = self._memo[key]
        except KeyError:
            value = self._memo[key] = make()
        return value

    def with_site_status(self, site_id: str, status: SiteStatus) -> World:
        """A new World where ``site_id`` has ``status``; this one is unchanged."""
        site = self._site(site_id)
        return self.with_site(dataclasses.replace(site, status=status))

    def with_site(self, site: SiteSpec) -> World:
        """A new World with ``site`` added or replacing the site of the same id."""
        return dataclasses.replace(self, sites={**self.sites, site.id: site})

    def without_site(self, site_id: str) -> World:
        """A new World without ``site_id``."""
        self._site(site_id)
        return dataclasses.replace(
            self, sites={k: v for k, v in self.sites.items() if k != site_id}
        )

    def with_policy(self, policy: Policy) -> World:
        """A new World with ``policy`` added or replacing the policy of the same name."""
        return dataclasses.replace(self, policies={**self.policies, policy.name: policy})

    def _site(self, site_id: str) -> SiteSpec:
        try:
            return self.sites[site_id]
        except KeyError:
            raise ConfigError(
                f"unknown site {site_id!r}",
                hint=suggest(site_id, self.sites, what="a configured site id"),
                file=self.source,
                key=f"sites.{site_id}",
            ) from None


def subject_to(world: World, entity_id: str) -> tuple[Exposure, ...]:
    """Every jurisdiction that can compel ``entity_id``, nearest in its parent chain first.

    Each :class:`Exposure` is ``(jurisdiction, via)``: ``via`` is the entity of the chain
    incorporated there (or declared ``also_subject_to`` it). Unknown ids raise ConfigError.
    """
    try:
        return world._exposures[entity_id]
    except KeyError:
        raise _unknown_entity(world, entity_id) from None


def _chain(entities: Mapping[str, Entity], eid: str, source: str) -> tuple[str, ...]:
    chain = [eid]
    current = entities[eid]
    while current.parent is not None:
        parent = current.parent
        if parent not in entities:
            raise ConfigError(
                f"{source}: entities.{current.id}.parent: unknown entity {parent!r}",
                hint=suggest(parent, entities, what="an entity id")
                + " (define the parent under [entities] or remove the key)",
                file=source,
                key=f"entities.{current.id}.parent",
            )
        if parent in chain:
            loop = " -> ".join([*chain[chain.index(parent) :], parent])
            raise ConfigError(
                f"{source}: entities.{current.id}.parent: parent cycle {loop}",
                hint="an entity cannot own itself: break the cycle by removing one parent",
                file=source,
                key=f"entities.{current.id}.parent",
            )
        chain.append(parent)
        current = entities[parent]
    return tuple(chain)


def _exposures(entities: Mapping[str, Entity], chain: tuple[str, ...]) -> tuple[Exposure, ...]:
    seen: dict[str, Exposure] = {}
    for eid in chain:
        ent = entities[eid]
        for jurisdiction in (ent.country, *ent.also_subject_to):
            seen.setdefault(jurisdiction, Exposure(jurisdiction, eid))
    return tuple(seen.values())


def _hash64(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def _unknown_entity(world: World, entity_id: str) -> ConfigError:
    return ConfigError(
        f"unknown entity {entity_id!r}",
        hint=suggest(entity_id, world.entities, what="an entity id"),
        file=world.source,
        key=f"entities.{entity_id}",
    )
