"""Loading [entities], [sites] and [policies]: values, defaults and errors with hints."""

from __future__ import annotations

from typing import Any

import pytest

from domicile.errors import ConfigError
from domicile.policy import Distinct, SiteStatus, load_registry, load_world
from tests.policy.conftest import FIVE_SITES, world

EU2 = {"allow": ["EU"], "copies": 2}


def test_template_fills_country_operator_provider() -> None:
    site = world({"fra": {"template": "aws:eu-central-1", "backend": {"type": "s3"}}}).sites["fra"]
    assert (site.country, site.operator, site.provider) == ("DE", "aws-emea", "aws")
    assert site.template == "aws:eu-central-1"
    assert dict(site.backend) == {"type": "s3"}
    assert site.status is SiteStatus.ACTIVE


def test_site_fields_override_the_template() -> None:
    body = {"template": "alibaba:us-west-1", "operator": "alibaba-cloud-sg", "country": "sg"}
    site = world({"x": {**body, "status": "Draining"}}).sites["x"]
    assert (site.country, site.operator, site.provider) == ("SG", "alibaba-cloud-sg", "alibaba")
    assert site.status is SiteStatus.DRAINING


def test_provider_defaults_to_the_top_of_the_operator_chain() -> None:
    site = world({"x": {"country": "DE", "operator": "google-cloud-emea"}}).sites["x"]
    assert site.provider == "alphabet"


def test_policy_defaults_and_values() -> None:
    body = {"allow": ["eu", "ch"], "deny": ["HU"], "deny_subject_to": ["US", "CN"], "copies": 2}
    w = world(FIVE_SITES, {"p": {**body, "recipients": ["age1x"], "audit_reads": True}})
    p = w.policies["p"]
    assert p.distinct is Distinct.PROVIDER
    assert (p.copies, p.recipients, p.audit_reads) == (2, ("age1x",), True)
    assert p.allow == ("eu", "ch")


def test_registry_can_be_passed_explicitly() -> None:
    w = load_world({}, FIVE_SITES, {}, source="f.toml", registry=load_registry())
    assert w.source == "f.toml"


def _error(sites: Any = None, policies: Any = None, entities: Any = None) -> ConfigError:
    with pytest.raises(ConfigError) as err:
        world(FIVE_SITES if sites is None else sites, policies, entities)
    exc = err.value
    assert exc.context["file"] == "test.toml"
    assert exc.hint
    assert str(exc).startswith("test.toml: ")
    return exc


@pytest.mark.parametrize(
    ("policies", "key", "hint_part"),
    [
        ({"p": {"allow": ["EEU"]}}, "policies.p.allow", "'EU'"),
        ({"p": {"allow": ["EU"], "deny": ["Hungary"]}}, "policies.p.deny", "'HU'"),
        ({"p": {"allow": ["EU"], "deny_subject_to": ["UK"]}}, "policies.p.deny_subject_to", "'GB'"),
        ({"p": {"allow": ["EU"], "copies": 0}}, "policies.p.copies", "2"),
        ({"p": {"allow": ["EU"], "copies": True}}, "policies.p.copies", "2"),
        ({"p": {"allow": ["EU"], "distinct": "provder"}}, "policies.p.distinct", "'provider'"),
        ({"p": {"allow": ["EU"], "copy": 2}}, "policies.p.copy", "'copies'"),
        ({"p": {"copies": 1}}, "policies.p.allow", "allow"),
        ({"p": {"allow": "EU"}}, "policies.p.allow", '["EU"]'),
        ({"p": {"allow": ["EU"], "audit_reads": "yes"}}, "policies.p.audit_reads", "true"),
        ({"p": "EU"}, "policies.p", "[policies.p]"),
    ],
)
def test_policy_errors(policies: Any, key: str, hint_part: str) -> None:
    exc = _error(policies=policies)
    assert exc.context["key"] == key
    assert hint_part in (exc.hint or "")


@pytest.mark.parametrize(
    ("sites", "key", "hint_part"),
    [
        ({"x": {"template": "aws:eu-central1"}}, "sites.x.template", "'aws:eu-central-1'"),
        ({"x": {"country": "Germny", "operator": "ovh-sas"}}, "sites.x.country", "'DE'"),
        ({"x": {"country": "DE", "operator": "ovh"}}, "sites.x.operator", "'ovh-sas'"),
        ({"x": {"operator": "ovh-sas"}}, "sites.x.country", "template"),
        ({"x": {"country": "DE"}}, "sites.x.operator", "template"),
        ({"x": {"template": "ovhcloud:gra", "status": "paused"}}, "sites.x.status", "one of"),
        ({"x": {"template": "ovhcloud:gra", "region": "gra"}}, "sites.x.region", "known"),
        ({"x": {"template": "ovhcloud:gra", "backend": "local"}}, "sites.x.backend", "type"),
    ],
)
def test_site_errors(sites: Any, key: str, hint_part: str) -> None:
    exc = _error(sites=sites)
    assert exc.context["key"] == key
    assert hint_part in (exc.hint or "")


@pytest.mark.parametrize(
    ("entities", "key"),
    [
        ({"e": {"name": "E"}}, "entities.e.country"),
        ({"e": {"country": "XX"}}, "entities.e.country"),
        ({"e": {"country": "DE", "also_subject_to": "CN"}}, "entities.e.also_subject_to"),
        ({"e": {"country": "DE", "owner": "x"}}, "entities.e.owner"),
    ],
)
def test_entity_errors(entities: Any, key: str) -> None:
    assert _error(sites={}, entities=entities).context["key"] == key


def test_copies_beyond_the_compliant_failure_domains_is_a_load_error() -> None:
    # EU sites: fr (ovhcloud), de (hetzner), fra (aws): three providers, four asked.
    exc = _error(policies={"p": {"allow": ["EU"], "copies": 4}})
    assert exc.context["key"] == "policies.p.copies"
    assert "lower copies to 3" in (exc.hint or "")
    # deny_subject_to US removes AWS Frankfurt: two providers left.
    exc = _error(policies={"p": {"allow": ["EU"], "deny_subject_to": ["US"], "copies": 3}})
    assert "span 2 provider" in exc.message


def test_a_policy_no_site_satisfies_is_a_load_error() -> None:
    exc = _error(policies={"p": {"allow": []}})
    assert "none" in exc.message and "allow" in (exc.hint or "")


def test_health_and_temporary_status_do_not_make_a_policy_unsatisfiable() -> None:
    sites = {**FIVE_SITES, "de": {"template": "hetzner:fsn1", "status": "suspended"}}
    w = world(sites, {"p": {"allow": ["EU"], "copies": 3}})
    assert w.policies["p"].copies == 3


def test_retired_sites_do_not_count_toward_what_a_policy_can_get() -> None:
    sites = {**FIVE_SITES, "de": {"template": "hetzner:fsn1", "status": "retired"}}
    _error(sites=sites, policies={"p": {"allow": ["EU"], "copies": 3}})


def test_distinct_site_and_country_capacity() -> None:
    sites = {"a": {"template": "hetzner:fsn1"}, "b": {"template": "hetzner:nbg1"}}
    assert world(sites, {"p": {"allow": ["DE"], "copies": 2, "distinct": "site"}}).policies
    _error(sites=sites, policies={"p": {"allow": ["DE"], "copies": 2, "distinct": "country"}})


def test_sections_must_be_tables() -> None:
    with pytest.raises(ConfigError) as err:
        load_world({}, [], {}, source="f.toml")  # type: ignore[arg-type]
    assert err.value.context["key"] == "sites"
