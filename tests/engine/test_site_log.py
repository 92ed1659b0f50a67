"""Site definitions are versioned in the audit log like policies: an operator handover
made by editing the configuration (AWS Beijing passing to Sinnet) appears with what
changed, before and after; secrets never do."""

from __future__ import annotations

import json
from pathlib import Path

import domicile
from domicile.audit import Record
from domicile.engine.sitelog import definition_of
from domicile.policy import SiteSpec
from domicile.sites import LocalSite
from tests.engine.conftest import make_deployment

BEIJING = """
[entities.aws-bj]
name = "Amazon Web Services Beijing"
country = "CN"
parent = "aws-inc"

[sites.bj]
country = "CN"
operator = "aws-bj"
provider = "aws-china"
backend = { type = "local", path = "sites/bj" }
"""


def site_records(path: Path) -> list[Record]:
    with domicile.open(path) as engine:
        return [r for r in engine.audit.records() if r.action.startswith("site_")]


def deployment(tmp_path: Path) -> Path:
    path = make_deployment(tmp_path, BEIJING)
    LocalSite.create("bj", tmp_path / "sites" / "bj")
    return path


def test_every_site_is_recorded_once_on_the_first_open(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    first = site_records(path)
    assert [(r.action, r.sites) for r in first] == [
        ("site_added", (s,)) for s in ("bj", "de", "fr", "us")
    ]
    bj = json.loads(str(first[0].detail["after"]))
    assert bj == {
        "country": "CN",
        "operator": "aws-bj",
        "operator_chain": ["aws-bj (CN)", "aws-inc (US)", "amazon-com (US)"],
        "subject_to": ["CN", "US"],
        "provider": "aws-china",
        "template": None,
        "status": "active",
        "backend": {"type": "local", "path": "sites/bj"},
    }
    us = json.loads(str(first[-1].detail["after"]))
    assert us["template"] == "alibaba:us-west-1" and "CN" in us["subject_to"]
    assert site_records(path) == first  # reopened unchanged: nothing new


def test_an_operator_handover_is_recorded_with_before_and_after(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    (added,) = [r for r in site_records(path) if r.sites == ("bj",)]
    # The configuration hands the Beijing site to Sinnet (the registry's entity).
    path.write_text(path.read_text().replace('operator = "aws-bj"', 'operator = "sinnet"'))
    records = site_records(path)
    change = records[-1]
    assert change.action == "site_change" and change.sites == ("bj",)
    assert change.detail["version"] == 2
    assert change.detail["from"] == added.detail["fingerprint"] != change.detail["fingerprint"]
    assert change.detail["changes"] == (
        "operator aws-bj -> sinnet; "
        "operator_chain +sinnet (CN) -aws-bj (CN) -aws-inc (US) -amazon-com (US); "
        "subject_to -US"
    )
    before, after = (json.loads(str(change.detail[k])) for k in ("before", "after"))
    assert before == json.loads(str(added.detail["after"]))
    assert (before["operator"], after["operator"]) == ("aws-bj", "sinnet")
    assert (before["subject_to"], after["subject_to"]) == (["CN", "US"], ["CN"])
    assert site_records(path) == records  # recorded once

    # The cache lost: rebuilt from the chain, nothing recorded again.
    (cache,) = tmp_path.glob("*.sites.json")
    cache.unlink()
    assert site_records(path) == records
    # Removing the site is recorded too, with its last definition.
    path.write_text(path.read_text().split("[sites.bj]")[0])
    last = site_records(path)[-1]
    assert (last.action, last.detail["version"]) == ("site_removed", 2)
    assert last.detail["before"] == change.detail["after"]


def test_a_country_or_endpoint_change_is_one_too_but_never_a_secret(tmp_path: Path) -> None:
    path = deployment(tmp_path)
    with domicile.open(path) as engine:
        world = engine.context.world

    def s3(**backend: str) -> SiteSpec:
        where = {"type": "s3", "endpoint": "https://a.example", "bucket": "b", **backend}
        return SiteSpec("s3", "DE", "hetzner-online", "hetzner", backend=where)

    one = definition_of(world, s3(secret_key="x"))
    assert one["backend"] == {"type": "s3", "endpoint": "https://a.example", "bucket": "b"}
    assert definition_of(world, s3(secret_key="y", access_key="k", timeout="9")) == one
    assert definition_of(world, s3(endpoint="https://b.example")) != one

    path.write_text(path.read_text().replace('country = "FR"', 'country = "BE"', 1))
    change = site_records(path)[-1]
    assert (change.action, change.sites, change.detail["changes"]) == (
        "site_change",
        ("fr",),
        "country FR -> BE",
    )
