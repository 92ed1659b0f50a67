"""A world map as inline SVG, countries shaded by a value (the report's bytes per country).

The outlines are ``data/world-110m.json``: Natural Earth's 1:110m countries (public domain)
in the Equal Earth projection, made by ``tools/make_world_map.py`` (source and licence are
in the file itself). Countries too small for that scale (Singapore, Luxembourg, Malta...)
have no outline: :func:`world_map` lists them under the map instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from html import escape
from importlib import resources
from itertools import pairwise
from typing import Any

#: Light to dark: one colour per class of value (log scale), then the colour of "none".
PALETTE = ("#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08458f")
NO_DATA = "#e4e7eb"
OCEAN = "#f4f8fb"


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


#: Class bounds are "nice" sizes: 1, 2 and 5 times a power of ten of a binary unit, so
#: every legend label is short, exact and different from the others.
UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
NICE = tuple(m * 1024**u for u in range(len(UNITS)) for m in (1, 2, 5, 10, 20, 50, 100, 200, 500))


def nice_size(n: int) -> str:
    """A nice size as written in the legend: ``20 KiB``, ``1 MiB``."""
    unit = max(u for u in range(len(UNITS)) if n >= 1024**u or u == 0)
    return f"{n // 1024**unit} {UNITS[unit]}"


@dataclass(frozen=True, slots=True)
class Shading:
    """Which class each value falls in (index into ``bounds``), the classes' bounds
    ``[low, high)`` in nice sizes (ascending, adjacent), and each class's colour."""

    classes: Mapping[str, int]
    bounds: tuple[tuple[int, int], ...]
    colours: tuple[str, ...]

    def labels(self) -> tuple[str, ...]:
        """``1 KiB to 10 KiB``, ...: distinct by construction (distinct nice bounds)."""
        return tuple(f"{nice_size(lo)} to {nice_size(hi)}" for lo, hi in self.bounds)


def shade(values: Mapping[str, int], steps: int = len(PALETTE)) -> Shading:
    """At most ``steps`` classes of the positive values, bounded by nice sizes spread
    evenly on a log scale from the nice size at or below the smallest value to the one
    above the largest. The top class always gets the darkest colour."""
    positive = {k: v for k, v in values.items() if v > 0}
    if not positive:
        return Shading({}, (), ())
    lo, hi = min(positive.values()), max(positive.values())
    start = max((n for n in NICE if n <= lo), default=NICE[0])
    end = min((n for n in NICE if n > hi), default=NICE[-1])
    candidates = [n for n in NICE if start <= n <= end]
    if len(candidates) - 1 > steps:
        picks = sorted({round(i * (len(candidates) - 1) / steps) for i in range(steps + 1)})
        candidates = [candidates[i] for i in picks]
    bounds = tuple(pairwise(candidates))
    classes = {
        k: next((i for i, (_, top) in enumerate(bounds) if v < top), len(bounds) - 1)
        for k, v in positive.items()
    }
    top = len(PALETTE) - 1
    last = max(len(bounds) - 1, 1)
    colours = tuple(
        PALETTE[top - round((len(bounds) - 1 - i) * top / last)] for i in range(len(bounds))
    )
    return Shading(classes, bounds, colours)


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
        f'<path d="{data.outline}" fill="{OCEAN}" stroke="#9aa5b1" stroke-width="2"/>',
        '<g clip-path="url(#globe)" stroke="#ffffff" stroke-width="1" stroke-linejoin="round">',
    ]
    for path in data.other:
        parts.append(f'<path d="{path}" fill="{NO_DATA}"/>')
    for code, path in data.countries.items():
        cls = shading.classes.get(code)
        fill = NO_DATA if cls is None else shading.colours[cls]
        label = escape(f"{names.get(code, code)} ({code})")
        if code in values:
            label += escape(f": {describe(values[code])}")
        parts.append(
            f'<path d="{path}" fill="{fill}" data-country="{code}"><title>{label}</title></path>'
        )
    parts.append("</g></svg>")
    missing = sorted(c for c, v in values.items() if v > 0 and c not in data.countries)
    return "".join(parts), missing


def legend(values: Mapping[str, int]) -> str:
    """The colour key of :func:`world_map` for the same values, as HTML: one item per class
    (``1 KiB to 10 KiB``), then "no copy"."""
    shading = shade(values)
    items = [
        f'<li data-class="{i}"><span class="swatch" style="background:{colour}"></span>'
        f"{escape(label)}</li>"
        for i, (colour, label) in enumerate(zip(shading.colours, shading.labels(), strict=True))
    ]
    items.append(f'<li><span class="swatch" style="background:{NO_DATA}"></span>no copy</li>')
    return '<ul class="legend">' + "".join(items) + "</ul>"
