"""A policy compiled against a World: the static part of every placement decision.

Residency (country, deny, legal exposure) and status do not depend on health, copies held
or the object, so they are evaluated once per (World, Policy) and cached in the World.
A decision then only filters the precomputed eligible sites by health and ranks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from domicile.errors import ConfigError
from domicile.policy.countries import countries, suggest
from domicile.policy.model import Policy, SiteSpec, SiteStatus
from domicile.policy.verdicts import (
    COUNTRY_DENIED,
    COUNTRY_NOT_ALLOWED,
    STATUS,
    SUBJECT_TO,
    Reason,
)
from domicile.policy.world import World, subject_to


@dataclass(frozen=True, slots=True)
class Compiled:
    """The static evaluation of one policy over every site of one World.

    ``residency`` maps each non-compliant site to its residency reasons; ``refusals`` adds
    the status reason of sites that take no new copies. ``eligible_ids``,
    ``eligible_domains`` and ``eligible_hashes`` are parallel tuples, in site-id order, over
    the sites with no refusal (their id, failure domain and 64-bit hash);
    ``domain`` maps every site to its failure domain; ``notes`` holds caveats per site.
    """

    policy: Policy
    residency: Mapping[str, tuple[Reason, ...]]
    refusals: Mapping[str, tuple[Reason, ...]]
    eligible_ids: tuple[str, ...]
    eligible_domains: tuple[str, ...]
    eligible_hashes: tuple[int, ...]
    domain: Mapping[str, str]
    notes: Mapping[str, tuple[str, ...]]
    required: tuple[frozenset[str], ...] = ()
    country: Mapping[str, str] | None = None

    def capacity(self, world: World) -> int:
        """How many distinct failure domains the compliant, non-retired sites span.

        Health and temporary statuses (draining, suspended) are ignored: this is what the
        policy could ever get, the bound checked when the configuration is loaded.
        """
        return len(
            {
                self.domain[sid]
                for sid, site in world.sites.items()
                if sid not in self.residency and site.status is not SiteStatus.RETIRED
            }
        )


def compiled(world: World, policy: Policy) -> Compiled:
    """The policy compiled against ``world`` (computed once per World, then cached)."""
    return world.memo(("compiled", policy), lambda: _compile(world, policy))


def resolve_terms(world: World, policy: Policy, key: str, terms: tuple[str, ...]) -> frozenset[str]:
    """The union of the countries named by ``terms``; ConfigError on an unknown term."""
    out: set[str] = set()
    for term in terms:
        members = world.countries_of(term)
        if members is None:
            choices = [*world.registry.blocs, *countries()]
            raise ConfigError(
                f"{world.source}: policies.{policy.name}.{key}: {term!r} is neither a country "
                "(ISO 3166-1 alpha-2) nor a bloc",
                hint=suggest(term, choices, what="a country code or bloc id")
                + f" (blocs: {', '.join(world.registry.blocs)})",
                file=world.source,
                key=f"policies.{policy.name}.{key}",
            )
        out |= members
    return frozenset(out)


def _compile(world: World, policy: Policy) -> Compiled:
    allowed = resolve_terms(world, policy, "allow", policy.allow)
    denied = resolve_terms(world, policy, "deny", policy.deny)
    exposed = resolve_terms(world, policy, "deny_subject_to", policy.deny_subject_to)
    residency: dict[str, tuple[Reason, ...]] = {}
    refusals: dict[str, tuple[Reason, ...]] = {}
    notes: dict[str, tuple[str, ...]] = {}
    eligible: list[tuple[str, str, int]] = []
    domain: dict[str, str] = {}
    for sid, site in world.sites.items():
        domain[sid] = dom = site.domain(policy.distinct)
        found = _residency(world, policy, site, allowed=allowed, denied=denied, exposed=exposed)
        status = () if site.status.writable else (_status_reason(site),)
        if found:
            residency[sid] = found
        if found or status:
            refusals[sid] = found + status
        else:
            eligible.append((sid, dom, world.site_hash(sid)))
        caveats = _limits(world, policy, site.country)
        if caveats:
            notes[sid] = caveats
    return Compiled(
        policy,
        residency,
        refusals,
        tuple(e[0] for e in eligible),
        tuple(e[1] for e in eligible),
        tuple(e[2] for e in eligible),
        domain,
        notes,
        tuple(resolve_terms(world, policy, "require", (t,)) for t in policy.require),
        {sid: site.country for sid, site in world.sites.items()},
    )


def _residency(
    world: World,
    policy: Policy,
    site: SiteSpec,
    *,
    allowed: frozenset[str],
    denied: frozenset[str],
    exposed: frozenset[str],
) -> tuple[Reason, ...]:
    reasons: list[Reason] = []
    country = site.country
    if country not in allowed:
        reasons.append(
            Reason(
                COUNTRY_NOT_ALLOWED,
                f"country {country} ({_name(country)}) is not allowed "
                f"(allow = {_terms(policy.allow)})",
                {"country": country},
            )
        )
    elif country in denied:
        term = next(t for t in policy.deny if country in (world.countries_of(t) or ()))
        reasons.append(
            Reason(
                COUNTRY_DENIED,
                f"country {country} ({_name(country)}) is denied (deny includes {term})",
                {"country": country, "term": term},
            )
        )
    if exposed:
        chain = world.chain(site.operator)
        for jurisdiction, via in subject_to(world, site.operator):
            if jurisdiction in exposed:
                reasons.append(_subject_reason(world, policy, site, (jurisdiction, via), chain))
    return tuple(reasons)


def _subject_reason(
    world: World,
    policy: Policy,
    site: SiteSpec,
    exposure: tuple[str, str],
    chain: tuple[str, ...],
) -> Reason:
    jurisdiction, via = exposure
    operator = site.operator
    via_entity = world.entities[via]
    if via_entity.country == jurisdiction:
        how = "incorporated there"
    else:
        how = f"also subject to it, though incorporated in {via_entity.country}"
    term = next(t for t in policy.deny_subject_to if jurisdiction in (world.countries_of(t) or ()))
    path = " -> ".join(chain[: chain.index(via) + 1])
    if via == operator:
        text = f"operator {operator} ({via_entity.name}) is subject to {jurisdiction}: {how}"
    else:
        text = (
            f"operator {operator} is subject to {jurisdiction} via parent {via} "
            f"({via_entity.name}, {how}); chain {path}"
        )
    if term.upper() != jurisdiction:
        text += f" (deny_subject_to includes {term})"
    return Reason(
        SUBJECT_TO,
        text,
        {"jurisdiction": jurisdiction, "operator": operator, "via": via, "chain": path},
    )


def _status_reason(site: SiteSpec) -> Reason:
    what = {
        SiteStatus.DRAINING: "its copies are being moved away",
        SiteStatus.SUSPENDED: "it is cut off: no reads, no writes",
        SiteStatus.RETIRED: "it holds nothing any more",
    }.get(site.status, "")
    return Reason(
        STATUS,
        f"site is {site.status.value}: it takes no new copies and its copies do not count"
        + (f" ({what})" if what else ""),
        {"status": site.status.value},
    )


def _limits(world: World, policy: Policy, country: str) -> tuple[str, ...]:
    explicit = {t.strip().upper() for t in policy.allow}
    if country in explicit:
        return ()
    out = []
    for term in policy.allow:
        bid = world.bloc(term)
        if bid is None:
            continue
        limit = world.registry.blocs[bid].limits.get(country)
        if limit:
            out.append(f"{country} is in {bid} with limits: {limit}")
    return tuple(out)


def _name(country: str) -> str:
    return countries().get(country, country)


def _terms(terms: tuple[str, ...]) -> str:
    return "[" + ", ".join(terms) + "]"
