"""Judge a copy with definitions recorded in the audit chain, by the one residency check.

A policy's recorded ``rules`` and a site's recorded definition (``after``: country,
operator, ``operator_chain`` as ``id (country)`` up the parents, ``subject_to``, provider,
status) are rebuilt into a :class:`~domicile.policy.Policy`, a one-site
:class:`~domicile.policy.World` and its entities, and :func:`domicile.policy.check_copy`
decides, as for today's report. The chain does not hold bloc membership: blocs (``EU``)
are expanded with the registry given (today's), and :attr:`Judge.blocs` collects the bloc
terms used so the report can say so. A jurisdiction in ``subject_to`` that no entity of
the chain is incorporated in (``also_subject_to`` in the registry) is given to the
operator itself: the jurisdiction is right, the entity that brings it may not be.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from domicile.errors import ConfigError
from domicile.policy import (
    Distinct,
    Entity,
    Policy,
    Registry,
    SiteSpec,
    SiteStatus,
    World,
    check_copy,
)

#: The reason codes of copies the chain gives no definition to judge them by.
POLICY_NOT_RECORDED = "policy_not_recorded"
SITE_NOT_RECORDED = "site_not_recorded"
UNJUDGEABLE = "unjudgeable"

_LINK = re.compile(r"^(?P<id>.+) \((?P<country>[^()]*)\)$")


@dataclass(frozen=True, slots=True)
class Judgement:
    """Whether the site was allowed, and every residency reason it was not."""

    allowed: bool
    codes: tuple[str, ...]
    reasons: tuple[str, ...]


class Judge:
    """Verdicts for (policy rules, site definition) pairs, each computed once."""

    def __init__(self, registry: Registry, names: Mapping[str, str]) -> None:
        """``names``: entity id -> display name (today's), for the reasons' wording."""
        self._registry = registry
        self._names = names
        self._cache: dict[tuple[Any, ...], Judgement] = {}
        self.blocs: set[str] = set()

    def judge(
        self,
        policy: str,
        rules: Mapping[str, Any] | None,
        *,
        policy_key: Any,
        site_id: str,
        definition: Mapping[str, Any] | None,
        site_key: Any,
    ) -> Judgement:
        """The verdict on a copy on ``site_id`` under ``policy``; ``policy_key`` and
        ``site_key`` identify the definitions (fingerprint, status) for the cache."""
        key = (policy, policy_key, site_id, site_key)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._judge(policy, rules, site_id, definition)
        return found

    def _judge(
        self,
        name: str,
        rules: Mapping[str, Any] | None,
        site_id: str,
        definition: Mapping[str, Any] | None,
    ) -> Judgement:
        if rules is None:
            return _refused(
                POLICY_NOT_RECORDED,
                f"no definition of policy {name} is recorded in the audit chain at that moment",
            )
        if definition is None:
            return _refused(
                SITE_NOT_RECORDED,
                f"no definition of site {site_id} is recorded in the audit chain at that moment",
            )
        try:
            policy = _policy(name, rules)
            world = self._world(site_id, definition)
            for term in (*policy.allow, *policy.deny, *policy.deny_subject_to, *policy.require):
                bloc = world.bloc(term)
                if bloc is not None:
                    self.blocs.add(bloc)
            verdict = check_copy(policy, world, site_id)
        except (ConfigError, KeyError, TypeError, ValueError) as exc:
            return _refused(UNJUDGEABLE, f"the recorded definitions cannot be judged: {exc}")
        residency = [r for r in verdict.reasons if r.residency]
        return Judgement(
            not residency, tuple(r.code for r in residency), tuple(r.text for r in residency)
        )

    def _world(self, site_id: str, definition: Mapping[str, Any]) -> World:
        chain = [_LINK.match(str(link)) for link in definition["operator_chain"]]
        if not chain or any(m is None for m in chain):
            raise ValueError(f"site {site_id}: malformed operator_chain")
        links = [(m["id"], m["country"]) for m in chain if m is not None]
        extra = tuple(
            sorted(set(map(str, definition.get("subject_to", ()))) - {c for _, c in links})
        )
        entities = {
            eid: Entity(
                eid,
                self._names.get(eid, eid),
                country,
                parent=links[i + 1][0] if i + 1 < len(links) else None,
                also_subject_to=extra if i == 0 else (),
            )
            for i, (eid, country) in enumerate(links)
        }
        spec = SiteSpec(
            site_id,
            country=str(definition["country"]),
            operator=str(definition["operator"]),
            provider=str(definition.get("provider", "")),
            status=SiteStatus(str(definition.get("status", "active"))),
        )
        return World(self._registry, entities, {site_id: spec}, {}, source="<audit chain>")


def _policy(name: str, rules: Mapping[str, Any]) -> Policy:
    return Policy(
        name,
        allow=tuple(map(str, rules["allow"])),
        deny=tuple(map(str, rules.get("deny", ()))),
        deny_subject_to=tuple(map(str, rules.get("deny_subject_to", ()))),
        copies=int(rules.get("copies", 1)),
        distinct=Distinct(str(rules.get("distinct", "provider"))),
        require=tuple(map(str, rules.get("require", ()))),
    )


def _refused(code: str, text: str) -> Judgement:
    return Judgement(False, (code,), (text,))
