"""``domicile report --from --to`` end to end: the violation window of a country edit and
the apply that followed, a clean period said to be clean, a tampered chain refused with
exit 12 and nothing written, and the same history after losing the catalog."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

import domicile
from domicile.report import history_html, history_json
from domicile.report.history_text import at
from tests.cli.conftest import Run
from tests.cli.test_audit_attacks import rewrite_and_relink
from tests.cli.test_report import screenshot
from tests.engine.conftest import drop_catalog
from tests.engine.history_seed import apply, deployment, expected, fill, hand_over, seconds
from tests.pngpixels import colours

COUNTRY = 'country = "DE"'


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def without_time(doc: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in doc.items() if k not in ("generated_at", "audit_chain")}


@pytest.mark.chromium
def test_a_country_edit_then_apply_shows_the_window(tmp_path: Path, run: Run) -> None:
    path = deployment(tmp_path)
    began = time.time()
    fill(path)
    hand_over(path, COUNTRY, 'country = "CH"')  # de moves to Switzerland: not in the EU
    apply(path)
    want = expected(path)
    start, end = seconds(want.change), max(map(seconds, want.removals.values()))
    period = ("--from", iso(began), "--to", iso(time.time()))
    text = run("--config", str(path), "report", *period)
    assert text.code == 13, text.err
    assert all(len(line) <= 80 for line in text.out.splitlines())
    assert text.out.index("NOT COMPLIANT") < text.out.index("Violation windows")
    assert f"from {at(start)} to {at(end)}" in text.out
    assert "country CH (Switzerland) is not allowed" in " ".join(text.out.split())
    doc = run("--config", str(path), "report", "--format", "json", *period).json()
    (window,) = doc["violation_windows"]
    assert (window["from"], window["to"], window["ongoing"]) == (iso(start), iso(end), False)
    assert window["site"]["country"] == "CH" and window["codes"] == ["country_not_allowed"]
    assert sorted(c["version_id"] for c in window["copies"]) == sorted(want.removals)
    assert doc["schema"] == "domicile-history-report" and doc["version"] == 1
    assert doc["compliant"] is False and doc["blocs_from_current_registry"] == ["EU"]
    page = tmp_path / "history.html"
    html = run("--config", str(path), "report", "--format", "html", "-o", str(page), *period)
    assert html.code == 13 and "NOT COMPLIANT" in html.err
    embedded = re.search(
        r'<script type="application/json" id="domicile-history-report">(.*?)</script>',
        page.read_text(),
    )
    assert embedded is not None
    assert without_time(json.loads(embedded.group(1))) == without_time(doc)
    html_text = page.read_text()
    for needle in ("://", "<link", " src=", "@import", "@font-face"):
        assert needle not in html_text, needle  # self-contained: loads nothing
    table = html_text.split('data-table="violation_windows"')[1].split("</table>")[0]
    assert re.findall(r"<td data-field=from>(.*?)</td>", table) == [iso(start)]
    assert re.findall(r"<td data-field=to>(.*?)</td>", table) == [iso(end)]
    png = tmp_path / "history.png"
    screenshot(page, png, tmp_path / "profile")
    seen = colours(png)
    assert seen[(0xB3, 0x26, 0x1E)] > 5000, "no red NOT COMPLIANT banner on the page"


def test_a_period_without_violations_says_so(tmp_path: Path, run: Run) -> None:
    path = deployment(tmp_path)
    began = time.time()
    fill(path)
    period = ("--from", iso(began), "--to", iso(time.time()))
    hand_over(path, COUNTRY, 'country = "CH"')
    apply(path)  # after the period: its window is not in it
    result = run("--config", str(path), "report", "--bucket", "docs", *period)
    assert result.code == 0, result.out
    assert "COMPLIANT: no violations in the period" in result.out
    assert "no violations in the period: no copy rested" in " ".join(result.out.split())
    doc = run("--config", str(path), "--json", "report", *period).json()
    assert doc["compliant"] is True and doc["violation_windows"] == []
    assert {r["site"]["id"] for r in doc["residences"]} >= {"de"}
    # A date alone: --from its first moment, --to the end of that day.
    first = datetime.fromtimestamp(began, UTC).strftime("%Y-%m-%d")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    whole_day = run("--config", str(path), "--json", "report", "--from", first, "--to", today)
    assert whole_day.code == 13 and whole_day.json()["period"]["to"].endswith("23:59:59.999999Z")
    bad = run("--config", str(path), "report", "--from", "March")
    assert bad.code == 2 and "ISO date" in bad.err


def test_a_tampered_chain_gets_exit_12_and_no_report(tmp_path: Path, run: Run) -> None:
    path = deployment(tmp_path)
    fill(path)
    # A record rewritten in place (its stored hash kept, so the head stays the signed one):
    # only the report's own verification can notice.
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        (body,) = db.execute("SELECT body FROM audit_records WHERE seq = 4").fetchone()
        forged = json.loads(body) | {"actor": "cli:mallory"}
        db.execute(
            "UPDATE audit_records SET body = ? WHERE seq = 4",
            (json.dumps(forged, sort_keys=True, separators=(",", ":")),),
        )
    out = tmp_path / "history.json"
    args = ("--config", str(path), "report", "--from", "2020-01-01")
    result = run(*args, "--format", "json", "-o", str(out))
    assert result.code == 12, result.out
    assert "no history is reported: seq 4" in " ".join(result.err.split())
    assert not out.exists() and result.out == ""
    text = run(*args)
    assert text.code == 12 and text.out == ""
    # Rewritten and re-linked (a new head): refused as well, and still nothing printed.
    rewrite_and_relink(tmp_path, 6, "forged")
    again = run(*args)
    assert again.code == 12 and again.out == "" and "does not verify" in again.err


def test_the_same_history_after_losing_the_catalog(tmp_path: Path, run: Run) -> None:
    path = deployment(tmp_path, "checkpoint_every = 5\n")
    began = time.time()
    fill(path)
    hand_over(path)
    apply(path)
    with domicile.open(path) as engine:  # deletes and replaced versions are history too
        engine.delete("docs", "k1")
        engine.put("docs", "k2", b"again")
    period = ("--from", iso(began), "--to", iso(time.time()))
    before = run("--config", str(path), "--json", "report", *period)
    assert before.code == 13, before.err
    drop_catalog(tmp_path)
    assert run("--config", str(path), "rebuild-catalog").code == 0
    after = run("--config", str(path), "--json", "report", *period)
    assert after.code == 13, after.err
    assert without_time(after.json()) == without_time(before.json())
    assert before.json()["violation_windows"]
    with domicile.open(path) as engine:
        lib = history_json(engine.history_report(began, time.time()))
        assert history_html(engine.history_report(began, time.time())).startswith("<!DOCTYPE")
    assert lib["violation_windows"] == before.json()["violation_windows"]
