"""Entities, parent chains, subject_to and the immutable World."""

from __future__ import annotations

from typing import Any

import pytest

from domicile.errors import ConfigError
from domicile.policy import Exposure, SiteStatus, subject_to
from tests.policy.conftest import FIVE_SITES, world

CHAIN: dict[str, Any] = {
    "sub-de": {"name": "Sub GmbH", "country": "DE", "parent": "mid-ie"},
    "mid-ie": {"name": "Mid Ltd", "country": "IE", "parent": "top-us"},
    "top-us": {"name": "Top Inc", "country": "US"},
}


def test_subject_to_walks_the_parent_chain_nearest_first() -> None:
    w = world({}, entities=CHAIN)
    assert subject_to(w, "sub-de") == (
        Exposure("DE", "sub-de"),
        Exposure("IE", "mid-ie"),
        Exposure("US", "top-us"),
    )
    assert w.chain("sub-de") == ("sub-de", "mid-ie", "top-us")


def test_a_jurisdiction_is_reported_via_the_nearest_entity() -> None:
    entities = {**CHAIN, "sub-us": {"country": "US", "parent": "top-us"}}
    w = world({}, entities=entities)
    assert subject_to(w, "sub-us") == (Exposure("US", "sub-us"),)


def test_also_subject_to_adds_a_jurisdiction() -> None:
    w = world({}, entities={"hold": {"country": "KY", "also_subject_to": ["cn"]}})
    assert subject_to(w, "hold") == (Exposure("KY", "hold"), Exposure("CN", "hold"))


def test_user_entities_override_the_registrys() -> None:
    w = world(
        {}, entities={"hetzner-online": {"name": "H", "country": "DE", "parent": "top-us"}, **CHAIN}
    )
    assert [j for j, _ in subject_to(w, "hetzner-online")] == ["DE", "US"]


def test_user_entity_may_have_a_registry_parent() -> None:
    w = world({}, entities={"aws-de": {"country": "DE", "parent": "amazon-com"}})
    assert [j for j, _ in subject_to(w, "aws-de")] == ["DE", "US"]


@pytest.mark.parametrize(
    ("entities", "key"),
    [
        ({"a": {"country": "DE", "parent": "b"}, "b": {"country": "DE", "parent": "a"}}, "parent"),
        ({"a": {"country": "DE", "parent": "a"}}, "parent"),
        ({"a": {"country": "DE", "parent": "nobody"}}, "parent"),
    ],
)
def test_cycles_and_unknown_parents_are_configuration_errors(
    entities: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigError) as err:
        world({}, entities=entities)
    assert err.value.context["key"].endswith(f".{key}")
    assert err.value.context["file"] == "test.toml"
    assert err.value.hint


def test_cycle_error_names_the_loop() -> None:
    entities = {
        "a": {"country": "DE", "parent": "b"},
        "b": {"country": "DE", "parent": "c"},
        "c": {"country": "DE", "parent": "a"},
    }
    with pytest.raises(ConfigError, match="a -> b -> c -> a"):
        world({}, entities=entities)


def test_unknown_entity_lookup_suggests() -> None:
    w = world({})
    with pytest.raises(ConfigError) as err:
        subject_to(w, "hetzner")
    assert "hetzner-online" in (err.value.hint or "")


def test_world_is_immutable_and_with_site_status_returns_a_new_one() -> None:
    w = world(FIVE_SITES)
    drained = w.with_site_status("fr", SiteStatus.DRAINING)
    assert w.sites["fr"].status is SiteStatus.ACTIVE
    assert drained.sites["fr"].status is SiteStatus.DRAINING
    with pytest.raises(TypeError):
        w.sites["x"] = w.sites["fr"]  # type: ignore[index]
    with pytest.raises(ConfigError):
        w.with_site_status("nope", SiteStatus.RETIRED)
    assert set(w.without_site("bjs").sites) == set(FIVE_SITES) - {"bjs"}


def test_sites_are_kept_in_id_order() -> None:
    assert list(world(FIVE_SITES).sites) == sorted(FIVE_SITES)


def test_site_status_capabilities() -> None:
    assert [s.value for s in SiteStatus if s.writable] == ["active"]
    assert [s.value for s in SiteStatus if s.readable] == ["active", "draining"]
