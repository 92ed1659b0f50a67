"""``domicile report`` end to end: text, JSON, and an HTML page rendered by headless
Chromium whose visible figures match the JSON."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import domicile
from domicile.crypto import Keyring
from domicile.engine import set_site_status
from domicile.report import report_json
from domicile.report.worldmap import NO_DATA, OCEAN, PALETTE, map_data
from domicile.sites import LocalSite
from tests import pngpixels
from tests.cli.conftest import Run
from tests.engine.conftest import make_deployment
from tests.engine.report_seed import OBJECTS, seed
from tests.pngpixels import colours

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return seed(tmp_path_factory.mktemp("cli-report"))


def without_time(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "generated_at"}


def test_text_report_leads_with_the_verdict(seeded: Path, run: Run) -> None:
    result = run("--config", str(seeded), "report")
    assert result.code == 13, result.err  # violations found
    first = result.out.index("NOT COMPLIANT")
    assert first < result.out.index("by country") < result.out.index("violations")
    for text in ("Singapore", "acme-cn", "draining", "audit chain: intact", "registry: version"):
        assert text in result.out
    assert "fewer readable copies" in result.out  # a violation and shortfalls: 13 wins
    # No violation in "minutes", but the copy the seed lost leaves an object short: 14.
    short = run("--config", str(seeded), "report", "--bucket", "minutes")
    assert short.code == 14, short.err
    assert "NOT COMPLIANT: 1 object has fewer readable copies than its policy requires" in (
        " ".join(short.out.split())
    )
    # Without --details the rows are counted; with it, each is a line of its own.
    assert "marked missing by verify" not in short.out and "--details lists them" in short.out
    listed = run("--config", str(seeded), "report", "--bucket", "minutes", "--details")
    assert listed.code == 14, listed.err
    (row,) = [line for line in listed.out.splitlines() if line.startswith("short  minutes/")]
    assert "marked missing by verify" in row
    assert "sovereign" in result.out and "allow EU" in result.out  # the policies' rules


def test_a_clean_deployment_is_compliant(run: Run, tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        for key in ("a", "b"):
            engine.put("docs", key, b"x" * 100)
    clean = run("--config", str(path), "report")
    assert clean.code == 0, clean.err
    assert "COMPLIANT" in clean.out and "NOT COMPLIANT" not in clean.out
    assert "every object has the readable copies its policy requires" in clean.out


def test_json_report_is_the_engine_report(seeded: Path, run: Run, tmp_path: Path) -> None:
    result = run("--config", str(seeded), "report", "--format", "json", "--tenant", "bank")
    assert result.code == 13
    doc = result.json()
    with domicile.open(seeded) as engine:
        want = report_json(engine.report(tenant="bank"))
    assert without_time(doc) == without_time(want)
    assert doc["scope"] == {"kind": "tenant", "name": "bank", "buckets": ["ledger", "records"]}
    # The global --json flag means the same; -o writes a file instead of stdout.
    out = tmp_path / "r.json"
    assert run("--config", str(seeded), "--json", "report", "-o", str(out)).code == 13
    assert json.loads(out.read_text())["totals"]["objects"] == sum(map(len, OBJECTS.values()))
    # --details: the rows follow the summary, streamed, as the engine's report holds them.
    listed = run("--config", str(seeded), "report", "--format", "json", "--details")
    assert listed.code == 13
    with domicile.open(seeded) as engine:
        full = report_json(engine.report(details=True))
    doc = listed.json()
    assert without_time(doc) == without_time(full)
    assert list(doc)[-2:] == ["violations", "shortfalls"] and doc["violations"]
    assert len(doc["shortfalls"]) == doc["compliance"]["shortfalls"]


def test_bad_usage(seeded: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(seeded))
    assert run(*cfg, "report", "--bucket", "minutes", "--tenant", "bank").code == 2
    assert run(*cfg, "report", "--output", str(tmp_path / "x.txt")).code == 2
    missing = run(*cfg, "report", "--bucket", "nope")
    assert missing.code == 4 and "error:" in missing.err


class Tables(HTMLParser):
    """Every ``data-table``'s rows as {data-field: text}, and the embedded JSON."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.fields: dict[str, str] = {}
        self.embedded = ""
        self._table: str | None = None
        self._field: str | None = None
        self._in_json = False
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        table = a.get("data-table")
        if tag == "table" and table:
            self._table = table
            self.tables[table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append({})
        elif a.get("data-field"):
            self._field, self._text = a["data-field"], ""
        elif tag == "script" and a.get("type") == "application/json":
            self._in_json = True

    def handle_data(self, data: str) -> None:
        if self._in_json:
            self.embedded += data
        elif self._field is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "script":
            self._in_json = False
        elif tag in ("td", "span", "b", "div") and self._field is not None:
            if self._table is not None and tag == "td":
                self.tables[self._table][-1][self._field] = self._text
            elif self._table is None:
                self.fields[self._field] = self._text
            self._field = None


def number(text: str) -> int:
    return int(text.replace(",", ""))


def check_visible_figures(html: str, doc: dict[str, Any]) -> None:
    page = Tables()
    page.feed(html)
    embedded = json.loads(page.embedded)
    assert without_time(embedded) == without_time(doc)
    for name in ("by_country", "by_operator", "by_exposure"):
        rows = [r for r in page.tables[name] if r]
        shown = [
            (r["id"], r["name"], *(number(r[k]) for k in ("objects", "bytes", "copies")))
            for r in rows
        ]
        want = [(t["id"], t["name"], t["objects"], t["bytes"], t["copies"]) for t in doc[name]]
        assert shown == want, name
    sites = [r for r in page.tables["by_site"] if r]
    assert [(r["id"], r["status"], number(r["objects"]), number(r["bytes"])) for r in sites] == [
        (s["id"], s["status"], s["objects"], s["bytes"]) for s in doc["by_site"]
    ]
    violations = [r for r in page.tables["violations"] if r]
    assert [(r["object"], r["version_id"], r["site"]) for r in violations] == [
        (f"{v['bucket']}/{v['key']}", v["version_id"], v["site"]) for v in doc["violations"]
    ]
    for table, unreadable in (("shortfalls", False), ("unreadable", True)):
        rows = [r for r in page.tables.get(table, []) if r]
        assert [(r["object"], r["version_id"], r["policy"]) for r in rows] == [
            (f"{s['bucket']}/{s['key']}", s["version_id"], s["policy"])
            for s in doc["shortfalls"]
            if s["unreadable"] is unreadable
        ], table
    assert page.tables["shortfalls"]
    buckets = [r for r in page.tables["buckets"] if r]
    fingerprints = {p["name"]: p["fingerprint"] for p in doc["policies"]}
    assert [(r["bucket"], r["policy"], r["fingerprint"]) for r in buckets] == [
        (b["bucket"], b["policy"], fingerprints[b["policy"]]) for b in doc["buckets"]
    ]
    counts = [r for r in page.tables["copy_counts"] if r]
    assert [(r["policy"], number(r["under"]), number(r["met"])) for r in counts] == [
        (c["policy"], c["under"], c["met"]) for c in doc["copy_counts"]
    ]
    assert number(page.fields["objects"]) == doc["totals"]["objects"]
    assert number(page.fields["copies"]) == doc["totals"]["copies"]
    assert number(page.fields["violations"]) == doc["compliance"]["violations"]
    assert number(page.fields["violations"]) == len(doc["violations"])
    assert number(page.fields["shortfalls"]) == doc["compliance"]["shortfalls"]
    assert number(page.fields["shortfalls"]) == len(doc["shortfalls"])
    assert number(page.fields["unreadable"]) == doc["compliance"]["unreadable"]
    assert page.fields["deployment"] == doc["deployment"]
    assert page.fields["generated_at"] == embedded["generated_at"]
    assert page.fields["compliant"].startswith("NOT COMPLIANT")
    assert page.fields["audit_chain"] == "intact"


def screenshot(page: Path, png: Path, profile: Path) -> None:
    if shutil.which(CHROMIUM) is None and shutil.which("chromium") is None:
        pytest.fail("headless Chromium is needed: apt-get install chromium (Debian)")
    subprocess.run(
        [
            shutil.which("chromium") or CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={png}",
            "--window-size=1280,2000",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.chromium
def test_html_report_renders_offline_and_matches_the_json(
    seeded: Path, run: Run, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    result = run(
        "--config", str(seeded), "report", "--format", "html", "--output", str(page), "--details"
    )
    assert result.code == 13, result.err
    html = page.read_text("utf-8")
    # Self-contained: no URL, no external stylesheet, image, font or script.
    for needle in ("://", "<link", " src=", "@import", "url(http", "@font-face"):
        assert needle not in html, needle
    doc = run("--config", str(seeded), "report", "--format", "json", "--details").json()
    check_visible_figures(html, doc)
    # Without --details the page counts the rows and says how to list them.
    brief = tmp_path / "brief.html"
    assert run("--config", str(seeded), "report", "--format", "html", "-o", str(brief)).code == 13
    counted = Tables()
    counted.feed(brief.read_text("utf-8"))
    assert "violations" not in counted.tables and "--details</code> lists them" in (
        brief.read_text("utf-8")
    )
    assert number(counted.fields["violations"]) == doc["compliance"]["violations"]
    swatches, labels = zip(*legend_items(html), strict=True)
    assert len(labels) > 1 and len(set(labels)) == len(labels), labels
    assert len(set(swatches)) == len(swatches)

    png = tmp_path / "report.png"
    screenshot(page, png, tmp_path / "profile")
    seen = colours(png)
    total = sum(seen.values())
    assert total == 1280 * 2000
    assert 1 - seen[(255, 255, 255)] / total > 0.10, "the page looks blank"
    assert len(seen) > 50
    red = (0xB3, 0x26, 0x1E)  # the NOT COMPLIANT banner
    top = PALETTE[-1]  # the map's top class
    darkest = (int(top[1:3], 16), int(top[3:5], 16), int(top[5:7], 16))
    assert seen[red] > 20_000 and seen[darkest] > 100


FRANCE_ONLY = """
[deployment]
name = "paris"

[sites.par]
country = "FR"
operator = "ovh-sas"
provider = "ovhcloud"
backend = { type = "local", path = "sites/par" }

[policies.france]
allow = ["FR"]
copies = 1

[buckets.dossiers]
policy = "france"
"""


def legend_items(html: str) -> list[tuple[str, str]]:
    """(swatch colour, label) of each class of the map's legend."""
    found: list[tuple[str, str]] = re.findall(
        r'<li data-class="\d+"><span class="swatch" style="background:([^"]+)"></span>([^<]*)</li>',
        html,
    )
    return found


def blob_path(root: Path, site: str, blob_id: str) -> tuple[str, ...]:
    """Where a local site keeps ``blob_id``, relative to its folder."""
    (found,) = [p for p in (root / "sites" / site).rglob(blob_id) if p.is_file()]
    return found.relative_to(root / "sites" / site).parts


def path_points(d: str) -> list[list[tuple[int, int]]]:
    """The rings of SVG path data as written by tools/make_world_map.py (absolute move,
    relative integer steps), in viewBox units."""
    rings = []
    for x0, y0, steps in re.findall(r"M(-?\d+) (-?\d+)l([^z]*)z", d):
        x, y = int(x0), int(y0)
        points = [(x, y)]
        numbers = [int(n) for n in re.findall(r"-?\d+", steps)]
        for dx, dy in zip(numbers[::2], numbers[1::2], strict=True):
            x, y = x + dx, y + dy
            points.append((x, y))
        rings.append(points)
    return rings


def centre(points: list[tuple[int, int]]) -> tuple[float, float]:
    return sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points)


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


@pytest.mark.chromium
def test_copies_in_france_shade_metropolitan_france_not_french_guiana(
    run: Run, tmp_path: Path
) -> None:
    LocalSite.create("par", tmp_path / "sites" / "par")
    Keyring.create(tmp_path / "keyring.txt")
    config = tmp_path / "domicile.toml"
    config.write_text(FRANCE_ONLY)
    with domicile.open(config) as engine:
        engine.put("dossiers", "a", b"x" * 12_000_000)
    page = tmp_path / "report.html"
    assert run("--config", str(config), "report", "--format", "html", "-o", str(page)).code == 0
    html = page.read_text("utf-8")
    labels = legend_items(html)
    assert [text for _, text in labels] == ["10 MiB to 20 MiB"]

    png = tmp_path / "report.png"
    screenshot(page, png, tmp_path / "profile")
    width, _, pixels = pngpixels.pixels(png)
    at = {(i % width, i // width): c for i, c in enumerate(pixels)}
    # The globe's ocean fill gives where the map's viewBox (0..width units) landed.
    ocean = [xy for xy, c in at.items() if c == rgb(OCEAN)]
    left, right = min(x for x, _ in ocean), max(x for x, _ in ocean)
    top = min(y for _, y in ocean)
    data = map_data()
    scale = (right - left + 1) / data.width

    def pixel(point: tuple[float, float]) -> tuple[int, int, int]:
        return at[(round(left + point[0] * scale), round(top + point[1] * scale))]

    # French Guiana: the ring drawn in South America, whether the data files it under FR
    # (Natural Earth) or under its own ISO code GF.
    rings = path_points(data.countries["FR"]) + path_points(data.countries.get("GF", ""))
    (guiana,) = [r for r in rings if centre(r)[0] < 800]
    mainland = max(rings, key=len)
    shaded = rgb(labels[0][0])
    assert pixel(centre(mainland)) == shaded
    assert pixel(centre(guiana)) == rgb(NO_DATA)
    assert pixel(centre(max(path_points(data.countries["BR"]), key=len))) == rgb(NO_DATA)


def test_names_print_as_written_never_as_markup(run: Run, tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    key = "[bold red]x[/] [link=file:///]y"
    with domicile.open(path) as engine:
        engine.put("docs", key, b"z" * 100)
    set_site_status(path, "de", "suspended")  # the object is now short of copies: listed
    result = run("--config", str(path), "report", "--details")
    assert result.code == 14, result.err
    assert f"docs/{key}" in " ".join(result.out.split())
    assert "unreadable objects" not in result.out  # its copy on fr is still readable

    # Its other copy lost too, and found so by verify: the object is unreadable, listed
    # in a section of its own, in text and HTML.
    with domicile.open(path) as engine:
        version = engine.context.catalog.current_version("docs", key)
        (segment,) = engine.context.catalog.segments(version.version_id)
        (tmp_path / "sites" / "fr").joinpath(*blob_path(tmp_path, "fr", segment.blob_id)).unlink()
        engine.verify(bucket="docs")
    result = run("--config", str(path), "report", "--details")
    assert result.code == 14 and "1 object has no readable copy" in " ".join(result.out.split())
    assert f"unreadable  docs/{key}  " in result.out
    page = tmp_path / "r.html"
    html = ("report", "--format", "html", "-o", str(page), "--details")
    assert run("--config", str(path), *html).code == 14
    tables = Tables()
    tables.feed(page.read_text("utf-8"))
    (row,) = [r for r in tables.tables["unreadable"] if r]
    assert (row["object"], row["readable"]) == (f"docs/{key}", "none")
    assert set(row["uncounted"].split("; ")) == {
        "fr: marked missing by verify",
        "de: site suspended",
    }
