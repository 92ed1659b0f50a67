"""The placement decision: every refusal reason, held copies, ranking, check_copy."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from domicile.errors import ConfigError, PlacementRefused
from domicile.policy import Policy, SiteSpec, SiteStatus, World, check_copy, decide
from tests.policy.conftest import FIVE_SITES, world

EU_NO_CN = {"allow": ["EU"], "deny_subject_to": ["CN"], "copies": 2}


def _decide(sites: dict[str, Any], policy: dict[str, Any], **kw: Any):  # type: ignore[no-untyped-def]
    w = world(sites, {"p": policy})
    return decide(w.policies["p"], w, **kw)


def _codes(decision: Any) -> dict[str, list[str]]:
    return {v.site_id: list(v.codes) for v in decision.verdicts}


def test_chooses_compliant_sites_on_distinct_providers() -> None:
    d = _decide(FIVE_SITES, EU_NO_CN, spread="v1")
    assert d.ok and d.missing == 0 and len(d.chosen) == 2
    assert set(d.chosen) <= {"fr", "de", "fra"}
    codes = _codes(d)
    assert codes["us"] == ["country_not_allowed", "subject_to"]
    assert codes["bjs"] == ["country_not_allowed", "subject_to"]  # Beijing, run by Sinnet (CN)


def test_country_not_allowed_and_subject_to_texts() -> None:
    d = _decide(FIVE_SITES, {"allow": ["EU", "US"], "deny_subject_to": ["CN"]})
    us = d.verdict("us")
    assert not us.accepted and not us.compliant
    (reason,) = us.reasons
    assert reason.code == "subject_to"
    assert "via parent alibaba-group" in reason.text
    assert dict(reason.data) == {
        "jurisdiction": "CN",
        "operator": "alibaba-cloud-us",
        "via": "alibaba-group",
        "chain": "alibaba-cloud-us -> alibaba-group",
    }
    bjs = d.verdict("bjs")
    assert [r.code for r in bjs.reasons] == ["country_not_allowed", "subject_to"]
    assert "operator sinnet (Beijing Sinnet Technology Co., Ltd.) is subject to CN" in (
        bjs.reasons[1].text
    )


def test_an_eu_subsidiary_of_a_us_company_is_subject_to_us() -> None:
    d = _decide(FIVE_SITES, {"allow": ["EU"], "deny_subject_to": ["US"], "copies": 2})
    fra = d.verdict("fra")
    assert fra.codes == ("subject_to",)
    assert "via parent amazon-com" in fra.reasons[0].text
    assert set(d.chosen) == {"fr", "de"}


def test_deny_subject_to_accepts_blocs() -> None:
    # Unsatisfiable policies are refused at load time; build this one in code.
    w = world(FIVE_SITES).with_policy(Policy("p", allow=("EU",), deny_subject_to=("EEA",)))
    d = decide(w.policies["p"], w, spread="x")
    assert not d.ok and d.verdict("fr").codes == ("subject_to",)
    assert "deny_subject_to includes EEA" in d.verdict("fr").reasons[0].text


def test_deny_is_subtracted_from_allow() -> None:
    d = _decide(FIVE_SITES, {"allow": ["EU"], "deny": ["FR"]})
    assert d.verdict("fr").codes == ("country_denied",)
    assert "deny includes FR" in d.verdict("fr").reasons[0].text
    assert d.verdict("us").codes == ("country_not_allowed",)  # not in allow at all


@pytest.mark.parametrize("status", ["draining", "suspended", "retired"])
def test_only_active_sites_take_new_copies(status: str) -> None:
    sites = {**FIVE_SITES, "de": {"template": "hetzner:fsn1", "status": status}}
    d = _decide(sites, {"allow": ["DE"], "copies": 1})
    assert d.chosen == ("fra",)
    assert d.verdict("de").codes == ("status",)
    assert d.verdict("de").compliant  # residency is fine, status is not
    assert status in d.verdict("de").reasons[0].text


def test_unhealthy_sites_are_refused_and_missing_health_means_healthy() -> None:
    d = _decide(FIVE_SITES, {"allow": ["DE", "FR"], "copies": 2}, health={"fr": False})
    assert set(d.chosen) == {"de", "fra"}
    assert d.verdict("fr").codes == ("unhealthy",)


def test_diversity_skips_a_second_site_of_the_same_provider() -> None:
    sites = {"a": {"template": "hetzner:fsn1"}, "b": {"template": "hetzner:nbg1"}}
    sites |= {"c": {"template": "ovhcloud:gra"}}
    d = _decide(sites, {"allow": ["EU"], "copies": 2})
    assert d.ok and "c" in d.chosen
    loser = ({"a", "b"} - set(d.chosen)).pop()
    (reason,) = d.verdict(loser).reasons
    assert reason.code == "diversity" and "provider hetzner already holds a copy" in reason.text


@pytest.mark.parametrize(("distinct", "copies"), [("site", 3), ("country", 2)])
def test_distinct_site_and_country(distinct: str, copies: int) -> None:
    sites = {"a": {"template": "hetzner:fsn1"}, "b": {"template": "ionos:de-fra"}}
    sites |= {"c": {"template": "ovhcloud:gra"}}
    d = _decide(sites, {"allow": ["EU"], "copies": copies, "distinct": distinct})
    assert d.ok and len(d.chosen) == copies
    if distinct == "country":
        assert "c" in d.chosen


def test_refusal_chooses_nothing_and_explains_every_site() -> None:
    d = _decide(FIVE_SITES, EU_NO_CN, health={"de": False, "fra": False})
    assert not d.ok and d.chosen == () and d.missing == 1
    assert d.selected == ("fr",)
    assert {v.site_id for v in d.verdicts} == set(FIVE_SITES)
    assert [v.site_id for v in d.verdicts if v.accepted] == ["fr"]
    with pytest.raises(PlacementRefused) as err:
        d.raise_if_refused()
    exc = err.value
    assert exc.decision is d and exc.context["policy"] == "p"
    assert "needs 2 copies" in exc.message and "unhealthy" in exc.message
    assert "recover" in (exc.hint or "")


def test_raise_if_refused_is_silent_when_ok() -> None:
    _decide(FIVE_SITES, EU_NO_CN).raise_if_refused()


def test_spare_sites_are_accepted_but_not_selected() -> None:
    d = _decide(FIVE_SITES, {"allow": ["EU"], "copies": 1}, spread="s")
    spare = [v for v in d.verdicts if v.accepted and not v.selected]
    assert len(spare) == 2 and all(not v.reasons for v in spare)


def test_held_compliant_copies_are_kept_first_and_count() -> None:
    d = _decide(FIVE_SITES, EU_NO_CN, held=["de"], spread="v")
    assert d.chosen[0] == "de" and len(d.chosen) == 2
    assert d.verdict("de").held and d.verdict("de").selected


def test_held_copies_are_kept_even_when_unhealthy() -> None:
    d = _decide(FIVE_SITES, EU_NO_CN, held=["de"], health={"de": False})
    assert d.chosen[0] == "de"
    assert d.verdict("de").accepted and "unhealthy" in d.verdict("de").notes[0]


def test_held_non_compliant_copies_do_not_count() -> None:
    d = _decide(FIVE_SITES, EU_NO_CN, held=["us", "bjs", "ghost"])
    assert d.ok and not {"us", "bjs"} & set(d.chosen)
    assert d.verdict("us").held and not d.verdict("us").accepted
    ghost = d.verdict("ghost")
    assert ghost.codes == ("unknown_site",) and not ghost.compliant


def test_held_copies_on_one_provider_count_once() -> None:
    sites = {"a": {"template": "hetzner:fsn1"}, "b": {"template": "hetzner:nbg1"}}
    sites |= {"c": {"template": "ovhcloud:gra"}}
    d = _decide(sites, {"allow": ["EU"], "copies": 2}, held=["b", "a"])
    assert d.chosen == ("b", "c")
    assert d.verdict("a").codes == ("diversity",)


def test_more_held_copies_than_needed() -> None:
    d = _decide(FIVE_SITES, {"allow": ["EU"], "copies": 1}, held=["fra", "fr"])
    assert d.chosen == ("fra",)
    assert d.verdict("fr").accepted and not d.verdict("fr").selected


def test_same_input_same_output_and_spread_changes_the_order() -> None:
    sites = {
        f"s{i}": {"country": "DE", "operator": "hetzner-online", "provider": f"p{i}"}
        for i in range(8)
    }
    w = world(sites, {"p": {"allow": ["DE"], "copies": 2}})
    p = w.policies["p"]
    assert decide(p, w, spread="a").chosen == decide(p, w, spread=b"a").chosen
    firsts = Counter(decide(p, w, spread=f"v{i}").chosen[0] for i in range(4000))
    # Rendezvous hashing spreads the first copy evenly (expected 500 each).
    assert set(firsts) == set(sites)
    assert all(380 < n < 620 for n in firsts.values()), firsts


def test_removing_a_site_only_moves_its_own_objects() -> None:
    sites = {
        f"s{i}": {"country": "DE", "operator": "hetzner-online", "provider": f"p{i}"}
        for i in range(6)
    }
    w = world(sites, {"p": {"allow": ["DE"]}})
    smaller = w.without_site("s3")
    p = w.policies["p"]
    for i in range(500):
        before = decide(p, w, spread=str(i)).chosen[0]
        after = decide(p, smaller, spread=str(i)).chosen[0]
        assert before == after or before == "s3"


def test_check_copy() -> None:
    w = world(FIVE_SITES, {"p": EU_NO_CN})
    p = w.policies["p"]
    assert check_copy(p, w, "fr").accepted
    us = check_copy(p, w, "us")
    assert not us.accepted and not us.compliant and "subject_to" in us.codes
    drained = w.with_site_status("fr", SiteStatus.DRAINING)
    v = check_copy(p, drained, "fr")
    assert not v.accepted and v.compliant and v.codes == ("status",)
    assert check_copy(p, w, "ghost").codes == ("unknown_site",)


def test_adequacy_limits_are_noted_on_accepted_sites() -> None:
    d = _decide(FIVE_SITES, {"allow": ["EEA", "ADEQUACY"], "copies": 1})
    assert any("certified" in n for n in d.verdict("us").notes)
    d = _decide(FIVE_SITES, {"allow": ["ADEQUACY", "US"], "copies": 1})
    assert d.verdict("us").notes == ()  # US listed explicitly: the user took the decision


def test_policies_built_in_code_work_on_worlds_built_in_code() -> None:
    site = SiteSpec("x", "FR", "ovh-sas", "ovhcloud")
    w = World.of([site])
    assert decide(Policy("p", allow=("FR",)), w).chosen == ("x",)
    assert not decide(Policy("p", allow=("DE",)), w).ok


REQUIRE_DE = {"allow": ["EU"], "deny_subject_to": ["US", "CN"], "copies": 2, "require": ["DE"]}


@pytest.mark.parametrize("spread", [f"v{i}" for i in range(20)])
def test_require_puts_a_copy_in_the_required_country(spread: str) -> None:
    d = _decide(FIVE_SITES, REQUIRE_DE, spread=spread)
    assert d.ok and "de" in d.chosen and len(d.chosen) == 2
    assert d.unmet == ()


def test_require_keeps_one_held_copy_and_adds_the_required_place() -> None:
    sites = {
        **FIVE_SITES,
        "fr2": {"template": "ovhcloud:sbg"},
        "pl": {"template": "scaleway:pl-waw"},
    }
    d = _decide(sites, REQUIRE_DE, held=["fr", "pl"], spread="x")
    assert d.ok
    assert "de" in d.chosen and len(d.chosen) == 2
    assert set(d.chosen) & {"fr", "pl"}  # one held copy kept, the other will go


def test_unhealthy_required_site_refuses_with_the_reason() -> None:
    d = _decide(FIVE_SITES, REQUIRE_DE, health={"de": False})
    assert not d.ok and d.unmet == ("DE",) and d.chosen == ()
    with pytest.raises(PlacementRefused) as err:
        d.raise_if_refused()
    assert "no compliant site available in DE" in str(err.value)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({**REQUIRE_DE, "require": ["JP"]}, "no compliant site is in JP"),
        ({**REQUIRE_DE, "require": ["DE", "FR", "PL"]}, "only 2 copies"),
    ],
)
def test_unsatisfiable_requirements_are_config_errors(policy: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as err:
        world(FIVE_SITES, {"p": policy})
    assert message in err.value.message
    assert err.value.context["key"] == "policies.p.require"
