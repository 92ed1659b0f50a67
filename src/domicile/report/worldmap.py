"""A world map as inline SVG, countries shaded by a value (the report's bytes per country).

The outlines are ``data/world-110m.json``: Natural Earth's 1:110m countries (public domain)
in the Equal Earth projection, made by ``tools/make_world_map.py`` (source and licence are
in the file itself). Countries too small for that scale (Singapore, Luxembourg, Malta...)
have no outline: :func:`world_map` lists them under the map instead.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from typing import Any

#: Light to dark: one colour per class of value (log scale), then the colour of "none".
PALETTE = ("#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08458f")
NO_DATA = "#e4e7eb"


@dataclass(frozen=True, slots=True)
class MapData:
    width: int
    height: int
    outline: str
    countries: Mapping[str, str]
    other: tuple[str, ...]
    source: str
    licence: str
    projection: str


@cache
def map_data() -> MapData:
    """The shipped outlines (read once per process)."""
    raw = resources.files("domicile.report").joinpath("data/world-110m.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(raw)
    return MapData(
        width=int(doc["width"]),
        height=int(doc["height"]),
        outline=str(doc["outline"]),
        countries=dict(doc["countries"]),
        other=tuple(doc["other"].values()),
        source=str(doc["source"]),
        licence=str(doc["licence"]),
        projection=str(doc["projection"]),
    )


@dataclass(frozen=True, slots=True)
class Shading:
    """Which class each value falls in, and the bounds of each class (for the legend)."""

    classes: Mapping[str, int]
    bounds: tuple[tuple[int, int], ...]


def shade(values: Mapping[str, int], steps: int = len(PALETTE)) -> Shading:
    """Split the positive values into ``steps`` classes of equal width on a log scale
    (all in the darkest class when they are equal)."""
    positive = {k: v for k, v in values.items() if v > 0}
    if not positive:
        return Shading({}, ())
    lo, hi = math.log(min(positive.values())), math.log(max(positive.values()))
    if hi == lo:
        classes = dict.fromkeys(positive, steps - 1)
    else:
        width = (hi - lo) / steps
        classes = {k: min(steps - 1, int((math.log(v) - lo) / width)) for k, v in positive.items()}
    bounds = tuple(
        (
            min(v for k, v in positive.items() if classes[k] == c),
            max(v for k, v in positive.items() if classes[k] == c),
        )
        for c in sorted(set(classes.values()))
    )
    return Shading(classes, bounds)


def world_map(
    values: Mapping[str, int],
    names: Mapping[str, str],
    describe: Callable[[int], str],
) -> tuple[str, list[str]]:
    """The SVG of the world shaded by ``values`` (country code -> amount), and the codes
    with a value but no outline. ``describe`` renders an amount for tooltips and legend."""
    data = map_data()
    shading = shade(values)
    parts = [
        f'<svg class="map" viewBox="0 0 {data.width} {data.height}" role="img" '
        f'aria-label="world map shaded by bytes stored per country">',
        f'<defs><clipPath id="globe"><path d="{data.outline}"/></clipPath></defs>',
        f'<path d="{data.outline}" fill="#f4f8fb" stroke="#9aa5b1" stroke-width="2"/>',
        '<g clip-path="url(#globe)" stroke="#ffffff" stroke-width="1" stroke-linejoin="round">',
    ]
    for path in data.other:
        parts.append(f'<path d="{path}" fill="{NO_DATA}"/>')
    for code, path in data.countries.items():
        cls = shading.classes.get(code)
        fill = NO_DATA if cls is None else PALETTE[cls]
        label = escape(f"{names.get(code, code)} ({code})")
        if code in values:
            label += escape(f": {describe(values[code])}")
        parts.append(
            f'<path d="{path}" fill="{fill}" data-country="{code}"><title>{label}</title></path>'
        )
    parts.append("</g></svg>")
    missing = sorted(c for c, v in values.items() if v > 0 and c not in data.countries)
    return "".join(parts), missing


def legend(values: Mapping[str, int], describe: Callable[[int], str]) -> str:
    """The colour key of :func:`world_map` for the same values, as HTML."""
    shading = shade(values)
    used = sorted(set(shading.classes.values()))
    items = [
        f'<li><span class="swatch" style="background:{PALETTE[c]}"></span>'
        f"{escape(describe(lo))}{'' if lo == hi else ' to ' + escape(describe(hi))}</li>"
        for c, (lo, hi) in zip(used, shading.bounds, strict=True)
    ]
    items.append(f'<li><span class="swatch" style="background:{NO_DATA}"></span>no copy</li>')
    return '<ul class="legend">' + "".join(items) + "</ul>"
