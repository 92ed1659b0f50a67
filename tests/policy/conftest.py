"""Helpers to build residency worlds from configuration-shaped tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domicile.policy import World, load_world

SOURCE = "test.toml"


def world(
    sites: Mapping[str, Any],
    policies: Mapping[str, Any] | None = None,
    entities: Mapping[str, Any] | None = None,
) -> World:
    """A World loaded through the real loader over the shipped registry."""
    return load_world(entities or {}, sites, policies or {}, source=SOURCE)


#: Three sites like the engine's tests: France (OVH), Germany (Hetzner), and Alibaba's
#: Silicon Valley region; plus AWS Frankfurt and AWS Beijing.
FIVE_SITES: dict[str, Any] = {
    "fr": {"template": "ovhcloud:gra"},
    "de": {"template": "hetzner:fsn1"},
    "us": {"template": "alibaba:us-west-1"},
    "fra": {"template": "aws:eu-central-1"},
    "bjs": {"template": "aws:cn-north-1"},
}
