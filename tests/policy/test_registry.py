"""The shipped registry: blocs, entities and templates, each sourced and dated."""

from __future__ import annotations

import re
from typing import Any

import pytest

from domicile.errors import ConfigError
from domicile.policy import World, load_registry, parse_registry, subject_to

EU27 = set(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)
ADEQUACY = set("AD AR CA CH FO GB GG IL IM JE JP KR NZ US UY".split())
REQUIRED_TEMPLATES = {
    "aws:eu-central-1": ("DE", "aws-emea"),
    "aws:eu-west-1": ("IE", "aws-emea"),
    "aws:cn-north-1": ("CN", "sinnet"),
    "aws:cn-northwest-1": ("CN", "nwcd"),
    "alibaba:us-west-1": ("US", "alibaba-cloud-us"),
    "alibaba:cn-hangzhou": ("CN", "alibaba-cloud-computing"),
    "ovhcloud:gra": ("FR", "ovh-sas"),
    "scaleway:fr-par": ("FR", "scaleway"),
    "hetzner:fsn1": ("DE", "hetzner-online"),
    "ionos:de-fra": ("DE", "ionos"),
    "gcp:europe-west3": ("DE", "google-cloud-emea"),
    "azure:germanywestcentral": ("DE", "microsoft-ireland"),
}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def test_registry_is_versioned_and_dated() -> None:
    reg = load_registry()
    assert reg.version and DATE.match(reg.date)
    assert load_registry() is reg  # cached


def test_eu_is_the_27_member_states_and_eea_adds_three() -> None:
    blocs = load_registry().blocs
    assert blocs["EU"].members == EU27
    assert blocs["EEA"].members == EU27 | {"IS", "LI", "NO"}


def test_adequacy_list_and_its_limits() -> None:
    bloc = load_registry().blocs["ADEQUACY"]
    assert bloc.members == ADEQUACY
    assert "certified" in bloc.limits["US"]
    assert "commercial" in bloc.limits["CA"]
    assert set(bloc.limits) <= bloc.members


def test_every_entry_names_a_public_source_and_a_date() -> None:
    reg = load_registry()
    entries: list[Any] = [*reg.blocs.values(), *reg.entities.values(), *reg.templates.values()]
    for entry in entries:
        assert entry.source and entry.source.startswith("https://"), entry.id
        assert entry.as_of and DATE.match(entry.as_of), entry.id
        assert entry.as_of <= reg.date, entry.id


def test_required_templates_and_at_least_fifteen() -> None:
    templates = load_registry().templates
    assert len(templates) >= 15
    for tid, (country, operator) in REQUIRED_TEMPLATES.items():
        assert (templates[tid].country, templates[tid].operator) == (country, operator), tid
    assert all(re.match(r"^[a-z]+:[a-z0-9-]+$", t) for t in templates)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("aws:eu-central-1", ["LU", "US"]),  # AWS EMEA SARL, parent Amazon.com, Inc.
        ("aws:cn-north-1", ["CN"]),  # Sinnet
        ("aws:cn-northwest-1", ["CN"]),  # NWCD
        ("alibaba:us-west-1", ["US", "KY", "CN"]),  # Cayman holding, seat in Hangzhou
        ("alibaba:cn-hangzhou", ["CN", "KY"]),
        ("ovhcloud:gra", ["FR"]),
        ("scaleway:fr-par", ["FR"]),  # Scaleway SAS, parent Iliad SA
        ("hetzner:fsn1", ["DE"]),
        ("ionos:de-fra", ["DE"]),  # IONOS SE, parent United Internet AG
        ("gcp:europe-west3", ["IE", "US"]),  # Google Cloud EMEA -> Google LLC -> Alphabet
        ("azure:germanywestcentral", ["IE", "US"]),
    ],
)
def test_template_operators_legal_exposure(template: str, expected: list[str]) -> None:
    reg = load_registry()
    world = World.of([])
    operator = reg.templates[template].operator
    assert [j for j, _ in subject_to(world, operator)] == expected


def test_parent_chains_match_the_brief() -> None:
    world = World.of([])
    assert world.chain("scaleway") == ("scaleway", "iliad")
    assert world.chain("ionos") == ("ionos", "united-internet")
    assert world.chain("google-cloud-emea") == ("google-cloud-emea", "google-llc", "alphabet")
    assert world.chain("microsoft-ireland") == ("microsoft-ireland", "microsoft")
    assert world.chain("aws-emea") == ("aws-emea", "amazon-com")
    assert load_registry().entities["alibaba-group"].country == "KY"


def _doc() -> dict[str, Any]:
    src = {"source": "https://example.org", "as_of": "2025-01-01"}
    return {
        "registry": {"version": "1", "date": "2025-01-01"},
        "blocs": {"B": {"name": "b", "members": ["DE"], **src}},
        "entities": {"e": {"name": "E", "country": "DE", **src}},
        "templates": {
            "p:r": {"name": "r", "country": "DE", "operator": "e", "provider": "p", **src}
        },
    }


def test_parse_registry_accepts_a_minimal_document() -> None:
    reg = parse_registry(_doc(), source="r.toml")
    assert reg.templates["p:r"].operator == "e"


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("blocs", "B", "members"), ["DEU"], "blocs.B.members"),
        (("entities", "e", "parent"), "nobody", "entities.e.parent"),
        (("templates", "p:r", "operator"), "nobody", "templates.p:r.operator"),
        (("entities", "e", "source"), "", "entities.e.source"),
        (("blocs", "B", "limits"), {"FR": "not a member"}, "blocs.B.limits"),
    ],
)
def test_parse_registry_rejects_bad_entries(path: tuple[str, ...], value: Any, key: str) -> None:
    doc = _doc()
    doc[path[0]][path[1]][path[2]] = value
    with pytest.raises(ConfigError) as err:
        parse_registry(doc, source="r.toml")
    assert err.value.context["key"] == key
    assert err.value.context["file"] == "r.toml"
    assert err.value.hint
