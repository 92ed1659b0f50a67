"""ISO 3166-1 alpha-2 validation and "did you mean" hints."""

from __future__ import annotations

import pytest

from domicile.policy import countries, normalize_country
from domicile.policy.countries import suggest


def test_the_full_iso_list_is_shipped() -> None:
    table = countries()
    assert len(table) == 249
    assert {"DE", "FR", "US", "CN", "GB", "GR", "KY", "FO", "GG", "IM", "JE"} <= set(table)
    assert not {"UK", "EL", "EU", "XK"} & set(table)


@pytest.mark.parametrize(("text", "code"), [("de", "DE"), (" Fr ", "FR"), ("uk", None), ("", None)])
def test_normalize_country(text: str, code: str | None) -> None:
    assert normalize_country(text) == code


@pytest.mark.parametrize(
    ("word", "expected"),
    [("UK", "'GB'"), ("EL", "'GR'"), ("Germany", "'DE'"), ("Switzerland", "'CH'")],
)
def test_country_suggestions(word: str, expected: str) -> None:
    hint = suggest(word, countries(), what="a country code")
    assert hint.startswith("did you mean") and expected in hint


def test_suggestion_among_ids_and_fallback_list() -> None:
    assert "'hetzner-online'" in suggest("hetzner-onlin", ["hetzner-online", "ovh-sas"], what="x")
    assert "one of: a, b" in suggest("zzzz", ["b", "a"], what="a thing")
