"""docs/residency.md documents every keyword, reason code, bloc, entity and template,
and its worked example is what the code really prints."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from domicile.policy import CODES, decide, explain_text, load_registry, load_world
from domicile.policy.loading import ENTITY_KEYS, POLICY_KEYS, SITE_KEYS

DOC = (Path(__file__).parents[2] / "docs" / "residency.md").read_text("utf-8")


def test_every_keyword_and_reason_code_is_documented() -> None:
    for key in (*ENTITY_KEYS, *SITE_KEYS, *POLICY_KEYS):
        assert f"| `{key}` |" in DOC, key
    for code in CODES:
        assert f"| `{code}` |" in DOC, code


def test_every_registry_entry_is_documented() -> None:
    reg = load_registry()
    for ident in (*reg.blocs, *reg.entities, *reg.templates):
        assert f"`{ident}`" in DOC, ident
    assert reg.version in DOC and reg.date in DOC


def test_the_worked_example_prints_what_the_page_says() -> None:
    toml = re.search(r"### Worked example\n\n```toml\n(.*?)```", DOC, re.S)
    shown = re.search(r"`domicile policy explain`.*?\n\n```\n(.*?)\n```", DOC, re.S)
    assert toml and shown
    doc = tomllib.loads(toml.group(1))
    world = load_world(doc["entities"], doc["sites"], doc["policies"], source="example.toml")
    decision = decide(world.policies["eu-sovereign"], world)
    assert explain_text(decision) == shown.group(1)
