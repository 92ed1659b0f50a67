"""Build ``src/domicile/report/data/world-110m.json``, the outlines of the report's world map.

Run once, when the map data changes (the output is committed; nothing runs at install time):

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    .venv/bin/python tools/make_world_map.py package/countries-110m.json \
        /usr/share/iso-codes/json/iso_3166-1.json src/domicile/report/data/world-110m.json

Inputs:

- ``countries-110m.json`` from the npm package ``world-atlas`` 2.0.2: Natural Earth's
  1:110m Admin 0 countries (Natural Earth 4.1.0) as TopoJSON, ids are ISO 3166-1 numeric
  codes. Natural Earth is in the public domain; world-atlas is ISC-licensed.
- ``iso_3166-1.json`` from Debian's ``iso-codes`` package: ISO 3166-1 numeric -> alpha-2.

Output: JSON with ``width``/``height`` (the SVG viewBox), ``outline`` (the globe's edge),
``countries`` (alpha-2 code -> SVG path data) and ``other`` (name -> path data, outlines
with no ISO code: drawn, never shaded). Projection: Equal Earth (Šavrič, Patterson & Jenny
2018), which keeps areas true, so a shaded country looks as large as it is. Coordinates
are integers (one unit ≈ 0.18° at the equator), relative after the first point of a ring.
Following ISO 3166, "N. Cyprus" is drawn as part of CY and "Somaliland" as part of SO, and
a country's overseas parts that ISO 3166-1 codes on their own are drawn under their own
code (:data:`OVERSEAS`): Natural Earth's France includes French Guiana, which is GF, so a
site in FR shades metropolitan France (Corsica included) and never South America.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

WIDTH = 2000  # viewBox units across the map
Point = tuple[float, float]

# Equal Earth constants.
A1, A2, A3, A4 = 1.340264, -0.081106, 0.000893, 0.003796
M = math.sqrt(3) / 2

#: Outlines without an ISO numeric id in world-atlas, and the ISO country they belong to.
MERGED = {"N. Cyprus": "CY", "Somaliland": "SO"}

#: Polygons of a country's outline that are an overseas territory with its own ISO 3166-1
#: code: (country, territory, (lon min, lon max, lat min, lat max) of the polygon's first
#: point). At 1:110m, French Guiana is the only one Natural Earth draws inside another
#: country (Réunion, Guadeloupe, Martinique and Mayotte are too small to appear).
OVERSEAS = (("FR", "GF", (-56.0, -50.0, 1.0, 7.0)),)

SOURCE = (
    "Natural Earth 1:110m Admin 0 countries (version 4.1.0), as TopoJSON in the npm "
    "package world-atlas 2.0.2 (countries-110m.json); converted by tools/make_world_map.py"
)
#: No URL here: the HTML report quotes this and names no URL at all.
LICENCE = (
    "Natural Earth data is in the public domain (Natural Earth terms of use); world-atlas "
    "is ISC-licensed, Copyright 2013-2019 Michael Bostock"
)


def equal_earth(lon: float, lat: float) -> Point:
    """Project degrees to Equal Earth plane units (x in [-2.7, 2.7], y up)."""
    lam, phi = math.radians(lon), math.radians(lat)
    theta = math.asin(M * math.sin(phi))
    t2 = theta * theta
    t6 = t2 * t2 * t2
    x = lam * math.cos(theta) / (M * (A1 + 3 * A2 * t2 + t6 * (7 * A3 + 9 * A4 * t2)))
    y = theta * (A1 + A2 * t2 + t6 * (A3 + A4 * t2))
    return x, y


X_MAX = equal_earth(180, 0)[0]
Y_MAX = equal_earth(0, 90)[1]
SCALE = WIDTH / (2 * X_MAX)
HEIGHT = round(2 * Y_MAX * SCALE)


def to_svg(lon: float, lat: float) -> tuple[int, int]:
    x, y = equal_earth(lon, lat)
    return round((x + X_MAX) * SCALE), round((Y_MAX - y) * SCALE)


def decode_arcs(topo: dict[str, object]) -> list[list[Point]]:
    """TopoJSON's delta-encoded, quantized arcs as lists of (lon, lat)."""
    transform = topo["transform"]
    assert isinstance(transform, dict)
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs = []
    raw = topo["arcs"]
    assert isinstance(raw, list)
    for arc in raw:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[Point]], refs: Sequence[int]) -> list[Point]:
    """A polygon ring from arc references (~i means arc i reversed); shared ends dropped."""
    points: list[Point] = []
    for ref in refs:
        arc = arcs[ref] if ref >= 0 else arcs[~ref][::-1]
        points.extend(arc[1:] if points else arc)
    return points


def unwrap(points: list[Point]) -> list[Point]:
    """Make longitudes continuous (no step over 180°): a ring across the antimeridian then
    runs past ±180°, and the map draws it once more shifted by 360° (the outline clips)."""
    out = [points[0]]
    for raw, lat in points[1:]:
        prev = out[-1][0]
        lon = raw + 360 * round((prev - raw) / 360)
        out.append((lon, lat))
    return out


def pieces(points: list[Point]) -> Iterable[list[Point]]:
    """The ring as drawn: unwrapped; a ring around a pole closed along it; copies shifted
    by 360° where it runs past the antimeridian."""
    flat = unwrap(points)
    turn = flat[-1][0] - flat[0][0]
    if abs(turn) > 180:  # encircles a pole (Antarctica): close the ring along the pole
        pole = -90.0 if sum(lat for _, lat in flat) < 0 else 90.0
        flat = [*flat, (flat[-1][0], pole), (flat[0][0], pole)]
    yield flat
    lo, hi = min(p[0] for p in flat), max(p[0] for p in flat)
    if hi > 180:
        yield [(lon - 360, lat) for lon, lat in flat]
    if lo < -180:
        yield [(lon + 360, lat) for lon, lat in flat]


def path_data(rings: Iterable[list[Point]]) -> str:
    """SVG path data: an absolute move per ring, then relative integer steps."""
    parts = []
    for points in rings:
        xy = [to_svg(*p) for p in points]
        x0, y0 = xy[0]
        steps = []
        px, py = x0, y0
        for x, y in xy[1:]:
            if (x, y) != (px, py):
                steps.append(f"{x - px} {y - py}")
                px, py = x, y
        if len(steps) >= 2:
            parts.append(f"M{x0} {y0}l" + " ".join(steps).replace(" -", "-") + "z")
    return "".join(parts)


def polygons(geometry: dict[str, object]) -> list[list[list[int]]]:
    arcs = geometry["arcs"]
    assert isinstance(arcs, list)
    return arcs if geometry["type"] == "MultiPolygon" else [arcs]


def outline() -> str:
    """The globe's edge: the meridians ±180° from pole to pole."""
    east = [(180.0, lat / 2) for lat in range(180, -181, -1)]
    west = [(-180.0, lat / 2) for lat in range(-180, 181, 1)]
    return path_data([east + west])


def territory(code: str | None, points: Sequence[Point]) -> str | None:
    """``code``, or the overseas territory of ``code`` that the polygon ``points`` is."""
    lon, lat = points[0]
    for country, part, (x0, x1, y0, y1) in OVERSEAS:
        if code == country and x0 <= lon <= x1 and y0 <= lat <= y1:
            return part
    return code


def build(topo: dict[str, object], numeric_to_alpha2: dict[str, str]) -> dict[str, object]:
    arcs = decode_arcs(topo)
    objects = topo["objects"]
    assert isinstance(objects, dict)
    rings_by_code: dict[str, list[list[Point]]] = {}
    other: dict[str, list[list[Point]]] = {}
    for geometry in objects["countries"]["geometries"]:
        name = geometry["properties"]["name"]
        country = numeric_to_alpha2.get(geometry.get("id", ""), MERGED.get(name))
        for polygon in polygons(geometry):
            code = territory(country, ring(arcs, polygon[0]))
            rings = [piece for refs in polygon for piece in pieces(ring(arcs, refs))]
            target = rings_by_code.setdefault(code, []) if code else other.setdefault(name, [])
            target.extend(rings)
    return {
        "source": SOURCE,
        "licence": LICENCE,
        "projection": "Equal Earth",
        "width": WIDTH,
        "height": HEIGHT,
        "outline": outline(),
        "countries": {code: path_data(r) for code, r in sorted(rings_by_code.items())},
        "other": {name: path_data(r) for name, r in sorted(other.items())},
    }


def main(argv: list[str]) -> None:
    if len(argv) != 3:
        sys.exit("usage: make_world_map.py countries-110m.json iso_3166-1.json OUTPUT.json")
    topo = json.loads(Path(argv[0]).read_text("utf-8"))
    iso = json.loads(Path(argv[1]).read_text("utf-8"))["3166-1"]
    table = {c["numeric"]: c["alpha_2"] for c in iso}
    doc = build(topo, table)
    text = json.dumps(doc, separators=(",", ":"), sort_keys=False) + "\n"
    Path(argv[2]).write_text(text, "utf-8")
    countries = doc["countries"]
    assert isinstance(countries, dict)
    print(f"{argv[2]}: {len(countries)} countries, {len(text):,} bytes")


if __name__ == "__main__":
    main(sys.argv[1:])
