"""The world map's classes and outlines: legend labels distinct and exact, every value in
the class its colour says, and a country's overseas territories drawn on their own."""

from __future__ import annotations

import re
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from domicile.report.worldmap import NICE, PALETTE, legend, map_data, shade


def test_close_values_no_longer_read_the_same_twice() -> None:
    # Two countries 40 KB apart at 11.4 MiB: the old legend read "11.4 MiB 11.4 MiB".
    shading = shade({"FR": 11_953_000, "DE": 11_990_000})
    assert shading.labels() == ("10 MiB to 20 MiB",)
    html = legend({"FR": 11_953_000, "DE": 11_990_000})
    items = re.findall(r"</span>([^<]*)</li>", html)
    assert items == ["10 MiB to 20 MiB", "no copy"]


def test_the_top_class_is_the_darkest_and_classes_are_ordered() -> None:
    shading = shade({"DE": 636_036, "PL": 462_573, "FR": 150_139, "SG": 12_527, "US": 6_341})
    assert shading.colours[-1] == PALETTE[-1]
    assert len(set(shading.colours)) == len(shading.colours) == len(shading.bounds)
    assert shading.classes["DE"] == len(shading.bounds) - 1 and shading.classes["US"] == 0
    assert shading.labels()[0] == "5 KiB to 10 KiB" and shading.labels()[-1].endswith("1 MiB")


@given(st.dictionaries(st.text(min_size=2, max_size=2), st.integers(0, 2**50), max_size=40))
def test_every_value_is_in_its_class_and_labels_are_distinct(values: dict[str, int]) -> None:
    shading = shade(values)
    labels = shading.labels()
    assert len(set(labels)) == len(labels) <= len(PALETTE)
    assert len(set(shading.colours)) == len(shading.colours)
    assert all(lo in NICE and hi in NICE and lo < hi for lo, hi in shading.bounds)
    assert all(a[1] == b[0] for a, b in pairwise(shading.bounds))
    for key, value in values.items():
        if value <= 0:
            assert key not in shading.classes
            continue
        lo, hi = shading.bounds[shading.classes[key]]
        assert lo <= value < hi


def test_french_guiana_is_not_part_of_france_on_the_map() -> None:
    data = map_data()
    assert "GF" in data.countries and "FR" in data.countries
    # GF lies in South America (x ≈ 700 of 2000 units), France in Europe (x ≈ 1030).
    starts = {c: [int(x) for x in re.findall(r"M(\d+) ", data.countries[c])] for c in ("GF", "FR")}
    assert starts["GF"] and max(starts["GF"]) < 800
    assert starts["FR"] and min(starts["FR"]) > 1000  # the mainland and Corsica only
