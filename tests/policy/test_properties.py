"""Hypothesis properties of the placement decision over generated worlds and policies.

An independent oracle (written from the spec, sharing no code with the decision) says
which sites comply; the decision must never choose outside it, never put two copies in one
failure domain, always give the same output for the same input, and be maximal.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.policy import (
    Distinct,
    Entity,
    Policy,
    SiteSpec,
    SiteStatus,
    World,
    check_copy,
    decide,
    explain_json,
    explain_text,
    load_registry,
)
from tests.examples import examples

COUNTRIES = ["DE", "FR", "HU", "US", "CN", "CH", "GB", "KY", "NO"]
TERMS = [*COUNTRIES, "EU", "EEA", "ADEQUACY"]
PROVIDERS = ["p1", "p2", "p3", "p4"]


@dataclass(frozen=True)
class Case:
    world: World
    policy: Policy
    health: dict[str, bool] | None
    held: tuple[str, ...]
    spread: bytes


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n_ent = draw(st.integers(1, 5))
    entities = {}
    for i in range(n_ent):
        parent = draw(st.none() | st.integers(0, i - 1)) if i else None
        entities[f"e{i}"] = Entity(
            f"e{i}",
            f"E{i}",
            draw(st.sampled_from(COUNTRIES)),
            parent=None if parent is None else f"e{parent}",
            also_subject_to=tuple(draw(st.lists(st.sampled_from(COUNTRIES), max_size=1))),
        )
    n_sites = draw(st.integers(0, 12))
    sites = [
        SiteSpec(
            f"s{i:02d}",
            draw(st.sampled_from(COUNTRIES)),
            f"e{draw(st.integers(0, n_ent - 1))}",
            draw(st.sampled_from(PROVIDERS)),
            draw(st.sampled_from(list(SiteStatus))),
        )
        for i in range(n_sites)
    ]
    policy = Policy(
        "p",
        allow=tuple(draw(st.lists(st.sampled_from(TERMS), max_size=4))),
        deny=tuple(draw(st.lists(st.sampled_from(TERMS), max_size=2))),
        deny_subject_to=tuple(draw(st.lists(st.sampled_from(TERMS), max_size=2))),
        copies=draw(st.integers(1, 4)),
        distinct=draw(st.sampled_from(list(Distinct))),
    )
    ids = [s.id for s in sites]
    health = draw(st.none() | st.dictionaries(st.sampled_from(ids or ["s00"]), st.booleans()))
    held = tuple(draw(st.lists(st.sampled_from([*ids, "ghost"]), max_size=3)))
    world = World.of(sites, {"p": policy}, entities=entities)
    return Case(world, policy, health, held, draw(st.binary(max_size=8)))


def _expand(terms: tuple[str, ...]) -> set[str]:
    blocs = load_registry().blocs
    out: set[str] = set()
    for t in terms:
        out |= set(blocs[t].members) if t in blocs else {t}
    return out


def _compliant(case: Case, site: SiteSpec) -> bool:
    """The oracle: residency rules only, from the spec."""
    p = case.policy
    if site.country not in _expand(p.allow) - _expand(p.deny):
        return False
    exposed: set[str] = set()
    entity: Entity | None = case.world.entities[site.operator]
    while entity is not None:
        exposed |= {entity.country, *entity.also_subject_to}
        entity = case.world.entities[entity.parent] if entity.parent else None
    return not exposed & _expand(p.deny_subject_to)


def _eligible(case: Case, site: SiteSpec) -> bool:
    healthy = case.health is None or case.health.get(site.id, True)
    return _compliant(case, site) and site.status is SiteStatus.ACTIVE and healthy


def _domain(case: Case, site: SiteSpec) -> str:
    return {
        Distinct.PROVIDER: site.provider,
        Distinct.SITE: site.id,
        Distinct.COUNTRY: site.country,
    }[case.policy.distinct]


SETTINGS = settings(max_examples=examples(300), deadline=None)


@SETTINGS
@given(cases())
def test_never_a_site_outside_the_policy_nor_two_copies_in_one_domain(case: Case) -> None:
    d = decide(case.policy, case.world, case.health, case.held, case.spread)
    sites = case.world.sites
    for sid in d.selected:
        site = sites[sid]
        assert _compliant(case, site) and site.status is SiteStatus.ACTIVE
        if sid not in case.held:
            assert _eligible(case, site)
    domains = [_domain(case, sites[s]) for s in d.selected]
    assert len(domains) == len(set(domains))
    assert len(d.selected) <= case.policy.copies
    assert d.ok == (len(d.chosen) == case.policy.copies)
    assert d.ok or d.chosen == ()


@SETTINGS
@given(cases())
def test_same_input_same_output(case: Case) -> None:
    first = decide(case.policy, case.world, case.health, case.held, case.spread)
    again = decide(case.policy, case.world, case.health, case.held, case.spread)
    fresh = World.of(dict(case.world.sites), {"p": case.policy}, entities=case.world.entities)
    third = decide(case.policy, fresh, case.health, case.held, case.spread)
    assert first.selected == again.selected == third.selected
    assert first.verdicts == again.verdicts == third.verdicts
    assert explain_json(first) == explain_json(third)


@SETTINGS
@given(cases())
def test_the_decision_is_maximal(case: Case) -> None:
    d = decide(case.policy, case.world, case.health, (), case.spread)
    reachable = {_domain(case, s) for s in case.world.sites.values() if _eligible(case, s)}
    assert d.ok == (len(reachable) >= case.policy.copies)
    assert len(d.selected) == min(len(reachable), case.policy.copies)


@SETTINGS
@given(cases())
def test_held_compliant_copies_come_first(case: Case) -> None:
    d = decide(case.policy, case.world, case.health, case.held, case.spread)
    kept = [s for s in d.selected if s in case.held]
    assert list(d.selected[: len(kept)]) == kept


@SETTINGS
@given(cases())
def test_verdicts_agree_with_the_oracle(case: Case) -> None:
    d = decide(case.policy, case.world, case.health, case.held, case.spread)
    verdicts = {v.site_id: v for v in d.verdicts}
    assert set(verdicts) == set(case.world.sites) | ({"ghost"} & set(case.held))
    for sid, site in case.world.sites.items():
        v = verdicts[sid]
        assert v.compliant == _compliant(case, site)
        assert v.accepted == (not v.reasons)
        assert v.selected == (sid in d.selected)
        copy = check_copy(case.policy, case.world, sid)
        assert copy.accepted == (_compliant(case, site) and site.status is SiteStatus.ACTIVE)
    json.dumps(explain_json(d))
    text = explain_text(d)
    assert all(sid in text for sid in case.world.sites)
