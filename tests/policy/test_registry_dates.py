"""Registry dates: ``reviewed`` for the whole registry, ``valid_until`` on facts that expire,
and the warnings they give."""

from __future__ import annotations

import datetime as dt
import tomllib
from importlib import resources
from typing import Any

import pytest

from domicile.errors import ConfigError
from domicile.policy import load_registry, parse_registry, registry_warnings


def shipped_doc() -> dict[str, Any]:
    text = resources.files("domicile.policy").joinpath("data/registry.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_the_shipped_registry_records_the_uk_renewal() -> None:
    reg = load_registry()
    assert reg.reviewed == "2025-07-01"
    adequacy = reg.blocs["ADEQUACY"]
    assert adequacy.valid_until == {"GB": "2031-12-27"}
    assert "19 December 2025" in adequacy.limits["GB"]
    assert reg.sha256 is not None and len(reg.sha256) == 64


def test_reviewed_defaults_to_the_date_and_dates_are_checked() -> None:
    doc = shipped_doc()
    del doc["registry"]["reviewed"]
    assert parse_registry(doc, source="r.toml").reviewed == doc["registry"]["date"]
    doc["registry"]["reviewed"] = "last spring"
    with pytest.raises(ConfigError) as err:
        parse_registry(doc, source="r.toml")
    assert err.value.context["key"] == "registry.reviewed"


def test_valid_until_is_per_member_and_a_date() -> None:
    doc = shipped_doc()
    doc["blocs"]["ADEQUACY"]["valid_until"]["FR"] = "2030-01-01"
    with pytest.raises(ConfigError, match="dates for non-members"):
        parse_registry(doc, source="r.toml")
    doc = shipped_doc()
    doc["blocs"]["ADEQUACY"]["valid_until"]["GB"] = "27/12/2031"
    with pytest.raises(ConfigError, match="is not a date"):
        parse_registry(doc, source="r.toml")
    doc["blocs"]["ADEQUACY"]["valid_until"]["GB"] = dt.date(2031, 12, 27)  # a TOML date
    assert parse_registry(doc, source="r.toml").blocs["ADEQUACY"].valid_until["GB"] == "2031-12-27"


def test_warnings_for_age_and_expired_facts() -> None:
    reg = load_registry()
    fresh = dt.date(2025, 12, 1)
    assert registry_warnings(reg, today=fresh, max_age_days=365) == ()
    stale = registry_warnings(reg, today=dt.date(2026, 7, 2), max_age_days=365)
    assert len(stale) == 1
    assert "last reviewed on 2025-07-01, 366 days ago" in stale[0]
    assert "max_age_days = 365" in stale[0]
    assert registry_warnings(reg, today=dt.date(2026, 7, 1), max_age_days=365) == ()
    later = registry_warnings(reg, today=dt.date(2031, 12, 28), max_age_days=10_000)
    assert len(later) == 1
    assert later[0].startswith("registry fact expired on 2031-12-27: GB in bloc ADEQUACY")
    assert registry_warnings(reg, today=dt.date(2031, 12, 27), max_age_days=10_000) == ()
