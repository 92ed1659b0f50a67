"""explain_text and explain_json: what people and programs read about a decision."""

from __future__ import annotations

import json

from domicile.policy import decide, explain_json, explain_text
from tests.policy.conftest import FIVE_SITES, world

POLICY = {"allow": ["EU"], "deny_subject_to": ["CN"], "copies": 2}


def _decision(**kw: object):  # type: ignore[no-untyped-def]
    w = world(FIVE_SITES, {"eu-only": POLICY})
    return decide(w.policies["eu-only"], w, **kw)  # type: ignore[arg-type]


def test_text_of_an_accepted_decision() -> None:
    d = _decision(spread="v1")
    text = explain_text(d)
    lines = text.splitlines()
    assert lines[0] == (
        "policy eu-only: 2 copies on distinct providers; allow ['EU']; deny_subject_to ['CN']"
    )
    assert lines[1] == "  -> placed on " + ", ".join(d.chosen)
    assert "refused  us (US, operator alibaba-cloud-us, provider alibaba)" in text
    assert "subject to CN via parent alibaba-group" in text
    assert "refused  bjs (CN, operator sinnet, provider aws-china)" in text
    assert lines[-1] == "  (registry 2026.12.1, 2026-12-02)"


def test_text_of_a_refusal() -> None:
    text = explain_text(_decision(health={"de": False, "fra": False}))
    assert "REFUSED: 1 copy short (only fr possible)" in text
    assert "site is unhealthy" in text


def test_json_is_json_ready_and_complete() -> None:
    d = _decision(held=["de"], spread="v1")
    doc = explain_json(d)
    assert json.loads(json.dumps(doc)) == doc
    assert doc["policy"] == "eu-only" and doc["ok"] and doc["missing"] == 0
    assert doc["chosen"][0] == "de"
    assert doc["registry"] == {"version": "2026.12.1", "date": "2026-12-02"}
    sites = {s["site"]: s for s in doc["sites"]}
    assert set(sites) == set(FIVE_SITES)
    assert sites["de"]["held"] and sites["de"]["chosen"]
    us = sites["us"]
    assert [r["code"] for r in us["reasons"]] == ["country_not_allowed", "subject_to"]
    assert us["reasons"][1]["via"] == "alibaba-group"
    assert {"jurisdiction": "CN", "via": "alibaba-group"} in us["subject_to"]
    assert us["template"] == "alibaba:us-west-1" and not us["compliant"]


def test_json_of_a_refusal_keeps_the_partial_selection_apart() -> None:
    doc = explain_json(_decision(health={"de": False, "fra": False}))
    assert doc["ok"] is False and doc["chosen"] == [] and doc["selected"] == ["fr"]
    fr = next(s for s in doc["sites"] if s["site"] == "fr")
    assert fr["selected"] and not fr["chosen"]
