"""The residency report as one self-contained HTML page, to hand to an auditor.

Everything is inline: the CSS, the world map (SVG), and the report's JSON document in a
``<script type="application/json" id="domicile-report">`` block (data, never run). The
page names no URL and loads nothing, so it opens the same offline, archived or mailed.
Every table carries ``data-table`` and every cell ``data-field`` (the JSON field it
shows), so a program can check the visible figures against the JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from importlib.metadata import PackageNotFoundError, version

from domicile.display import human_size
from domicile.engine.facts import Report, Shortfall, Tally, country_names
from domicile.report.as_json import iso_time, report_json
from domicile.report.words import counted, rules_text, verdict_reasons, why_uncounted
from domicile.report.worldmap import legend, map_data, world_map

Cell = tuple[str, str]  # (field, text)

CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --rule: #cbd2d9; --ok: #1e7d32; --bad: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1180px; padding: 32px 40px 48px; color: var(--ink);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 1px solid var(--rule);
  padding-bottom: 4px; }
.meta { color: var(--muted); margin: 0; }
.meta b { color: var(--ink); font-weight: 600; }
.verdict { margin: 20px 0; padding: 16px 20px; border-radius: 6px; color: #fff;
  font-size: 20px; font-weight: 700; }
.verdict small { display: block; font-size: 14px; font-weight: 400; margin-top: 4px; }
.verdict.ok { background: var(--ok); }
.verdict.bad { background: var(--bad); }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 0 0 8px; }
.card { flex: 1 1 120px; border: 1px solid var(--rule); border-radius: 6px; padding: 10px 14px; }
.card .n { font-size: 22px; font-weight: 700; display: block; white-space: nowrap; }
.card .l { color: var(--muted); }
.card.bad .n { color: var(--bad); }
.card.ok .n { color: var(--ok); }
figure { margin: 8px 0 0; }
svg.map { width: 100%; height: auto; display: block; }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: 14px; padding: 0;
  margin: 8px 0; color: var(--muted); }
.swatch { display: inline-block; width: 14px; height: 14px; vertical-align: -2px;
  margin-right: 6px; border: 1px solid #9aa5b1; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; }
caption { text-align: left; color: var(--muted); padding-bottom: 4px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--rule);
  vertical-align: top; }
th { background: #f5f7fa; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.bad td { color: var(--bad); }
code { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { body { padding: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


def report_html(report: Report) -> str:
    """The whole page as a string (UTF-8 when written)."""
    doc = report_json(report)
    names = country_names()
    per_country = {t.id: t.bytes for t in report.by_country}
    svg, unmapped = world_map(per_country, names, lambda n: human_size(n, exact_bytes=True))
    body = [
        _header(report),
        _verdict(report),
        _cards(report),
        "<h2>Buckets and their policies</h2>",
        _buckets(report),
        "<h2>Where the data rests</h2>",
        f"<figure>{svg}<figcaption>{legend(per_country)}",
        _unmapped(unmapped),
        "</figcaption></figure>",
        _tally_table(
            "by_country", "Bytes per country of the hardware", "country", report.by_country
        ),
        _tally_table(
            "by_operator", "Bytes per operator of the site", "operator", report.by_operator
        ),
        _tally_table(
            "by_exposure",
            "Legal exposure: jurisdictions that can compel the operator (along its parent chain)",
            "jurisdiction",
            report.by_exposure,
        ),
        _sites_table(report),
        "<h2>Compliance</h2>",
        _violations(report),
        _shortfalls(report),
        _copy_counts(report),
        "<h2>Evidence</h2>",
        _evidence(report),
        _footer(),
    ]
    data = json.dumps(doc, sort_keys=True, ensure_ascii=False).replace("<", "\\u003c")
    title = f"Residency report: {report.deployment}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + f'\n<script type="application/json" id="domicile-report">{data}</script>'
        + "</body></html>\n"
    )


def _header(r: Report) -> str:
    scope = "every bucket" if r.scope.kind == "all" else f"{r.scope.kind} {r.scope.name}"
    buckets = ", ".join(r.scope.buckets) or "no bucket"
    return (
        "<header><h1>Residency report</h1>"
        f'<p class="meta">Deployment <b data-field="deployment">{escape(r.deployment)}</b>'
        f' · generated <b data-field="generated_at">{iso_time(r.generated_at)}</b>'
        f' · scope <b data-field="scope">{escape(scope)}</b> ({escape(buckets)})</p></header>'
    )


def _verdict(r: Report) -> str:
    if r.compliant:
        return (
            '<div class="verdict ok" data-field="compliant">COMPLIANT'
            "<small>No copy rests on a site that its bucket's residency policy refuses, and "
            "every object has the readable copies its policy requires.</small></div>"
        )
    return (
        f'<div class="verdict bad" data-field="compliant">NOT COMPLIANT: '
        f"{escape('; '.join(verdict_reasons(r)))}"
        "<small>Each is listed under Compliance, with the reason.</small></div>"
    )


def _cards(r: Report) -> str:
    chain = "intact" if r.chain.ok else ("disabled" if not r.chain.enabled else "ALTERED")
    cards = [
        ("objects", f"{r.objects:,}", "objects", ""),
        ("bytes", human_size(r.bytes, exact_bytes=True), "stored (plaintext)", ""),
        ("copies", f"{r.copies:,}", "copies", ""),
        (
            "violations",
            f"{r.violation_count:,}",
            "violations",
            "bad" if r.violation_count else "ok",
        ),
        (
            "shortfalls",
            f"{r.shortfall_count:,}",
            "objects short of readable copies",
            "bad" if r.shortfall_count else "ok",
        ),
        (
            "unreadable",
            f"{r.unreadable_count:,}",
            "unreadable objects",
            "bad" if r.unreadable_count else "ok",
        ),
        ("audit_chain", chain, "audit chain", "ok" if r.chain.ok else "bad"),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card {cls}"><span class="n" data-field="{field}">{escape(value)}</span>'
            f'<span class="l">{label}</span></div>'
            for field, value, label, cls in cards
        )
        + "</div>"
    )


def _unmapped(codes: Sequence[str]) -> str:
    if not codes:
        return ""
    names = country_names()
    listed = ", ".join(f"{escape(names.get(c, c))} ({c})" for c in codes)
    return f'<p class="meta">Too small to draw at this scale, listed in the tables: {listed}.</p>'


def _tally_table(table_id: str, caption: str, what: str, rows: tuple[Tally, ...]) -> str:
    return _table(
        table_id,
        caption,
        [
            (what, False),
            ("name", False),
            ("objects", True),
            ("bytes", True),
            ("size", True),
            ("copies", True),
        ],
        (
            [
                ("id", t.id),
                ("name", t.name),
                ("objects", f"{t.objects:,}"),
                ("bytes", f"{t.bytes:,}"),
                ("", human_size(t.bytes, exact_bytes=True)),
                ("copies", f"{t.copies:,}"),
            ]
            for t in rows
        ),
    )


def _sites_table(r: Report) -> str:
    return _table(
        "by_site",
        "Bytes per site (every configured site), with the fingerprint of its definition in "
        "force (the one the audit log's site records carry)",
        [
            ("site", False),
            ("country", False),
            ("operator", False),
            ("subject to", False),
            ("status", False),
            ("objects", True),
            ("bytes", True),
            ("definition", False),
        ],
        (
            [
                ("id", s.id),
                ("country", s.country),
                ("operator", s.operator),
                ("subject_to", ", ".join(s.subject_to)),
                ("status", s.status),
                ("objects", f"{s.objects:,}"),
                ("bytes", f"{s.bytes:,}"),
                ("fingerprint", s.fingerprint or "-"),
            ]
            for s in r.by_site
        ),
    )


_DETAILS = "<code>domicile report --details</code> lists them"


def _violations(r: Report) -> str:
    if not r.violation_count:
        return (
            '<p data-table="violations">No violation: every copy rests where its policy allows.</p>'
        )
    if not r.details:
        return (
            f'<p data-table="violations" class="bad">{r.violation_count:,} copies rest on '
            f"sites their policy refuses: {_DETAILS}.</p>"
        )
    return _table(
        "violations",
        "Copies on sites their policy refuses (to evacuate with domicile plan / apply)",
        [
            ("object", False),
            ("version", False),
            ("site", False),
            ("policy", False),
            ("country", False),
            ("operator", False),
            ("why", False),
        ],
        (
            [
                ("object", f"{v.bucket}/{v.key}"),
                ("version_id", v.version_id),
                ("site", v.site_id),
                ("policy", v.policy),
                ("country", v.country),
                ("operator", v.operator),
                ("reasons", "; ".join(v.reasons)),
            ]
            for v in r.violations
        ),
        row_class="bad",
    )


def _buckets(r: Report) -> str:
    rules = {p.name: p for p in r.policies}
    return _table(
        "buckets",
        "The policy each bucket is bound to, its rules in force and their fingerprint (the one "
        "the audit log's policy records carry)",
        [
            ("bucket", False),
            ("tenant", False),
            ("policy", False),
            ("rules", False),
            ("fingerprint", False),
        ],
        (
            [
                ("bucket", b.bucket),
                ("tenant", b.tenant),
                ("policy", b.policy),
                ("rules", rules_text(rules[b.policy]) if b.policy in rules else "-"),
                ("fingerprint", rules[b.policy].fingerprint if b.policy in rules else "-"),
            ]
            for b in r.buckets
        ),
    )


def _shortfalls(r: Report) -> str:
    """Two sections: objects with no readable copy at all, then the other shortfalls."""
    readable = (
        "readable: state ok, no failed read since the last verification, site active or draining"
    )
    if r.shortfall_count and not r.details:
        short_count = r.shortfall_count - r.unreadable_count
        return (
            f'<p data-table="unreadable">{r.unreadable_count:,} objects have no readable copy '
            f"({readable}).</p>"
            f'<p data-table="shortfalls">{short_count:,} other objects have fewer readable '
            f"copies on allowed sites than their policy requires: {_DETAILS}.</p>"
        )
    unreadable = [s for s in r.shortfalls if s.unreadable]
    short = [s for s in r.shortfalls if not s.unreadable]
    return _shortfall_table(
        "unreadable",
        f"Unreadable objects: no copy anywhere is readable ({readable})",
        "No unreadable object: every object has at least one readable copy.",
        unreadable,
    ) + _shortfall_table(
        "shortfalls",
        "Objects with fewer readable copies on allowed sites than their policy requires",
        "No shortfall: every object has the readable copies its policy requires.",
        short,
    )


def _shortfall_table(table_id: str, caption: str, empty: str, rows: list[Shortfall]) -> str:
    if not rows:
        return f'<p data-table="{table_id}">{escape(empty)}</p>'
    return _table(
        table_id,
        caption,
        [
            ("object", False),
            ("version", False),
            ("policy", False),
            ("readable", False),
            ("why the copies do not count", False),
        ],
        (
            [
                ("object", f"{s.bucket}/{s.key}"),
                ("version_id", s.version_id),
                ("policy", s.policy),
                ("readable", "none" if s.unreadable else counted(s)),
                ("uncounted", why_uncounted(s)),
            ]
            for s in rows
        ),
        row_class="bad",
    )


def _copy_counts(r: Report) -> str:
    return _table(
        "copy_counts",
        "Good copies per object (state ok, on a site the policy accepts today) against the "
        "policy's count",
        [
            ("policy", False),
            ("required", True),
            ("objects", True),
            ("under", True),
            ("met", True),
            ("over", True),
            ("distribution (copies: objects)", False),
        ],
        (
            [
                ("policy", c.policy),
                ("required", str(c.required)),
                ("objects", f"{c.objects:,}"),
                ("under", f"{c.under:,}"),
                ("met", f"{c.met:,}"),
                ("over", f"{c.over:,}"),
                ("distribution", ", ".join(f"{k}: {n:,}" for k, n in c.distribution)),
            ]
            for c in r.copy_counts
        ),
    )


def _evidence(r: Report) -> str:
    c, v, g = r.chain, r.verification, r.registry
    if not c.enabled:
        status = "no audit log"
    elif c.ok:
        status = "intact: every record rehashed and every checkpoint signature checked"
    else:
        status = "ALTERED: " + "; ".join(f"seq {p.seq}: {p.kind}: {p.message}" for p in c.problems)
    rows = [
        ("audit chain", "chain_status", status),
        ("audit records", "chain_records", f"{c.records:,}"),
        ("head of the chain", "chain_head", f"seq {c.head_seq or '-'}, {c.head_hash or '-'}"),
        (
            "latest signed checkpoint",
            "chain_checkpoint",
            f"seq {c.checkpoint_seq or '-'} at {iso_time(c.checkpoint_time) or '-'}",
        ),
        ("records after it (unsigned yet)", "chain_unsigned", f"{c.unsigned:,}"),
        ("copy states", "states", ", ".join(f"{n:,} {s}" for s, n in r.states) or "none"),
        ("oldest verification of a copy", "verified_oldest", iso_time(v.oldest) or "-"),
        ("newest verification of a copy", "verified_newest", iso_time(v.newest) or "-"),
        ("copies never verified", "never_verified", f"{v.never:,} of {v.copies:,}"),
        (
            "residency registry",
            "registry",
            f"version {g.version} of {g.date}, SHA-256 {g.sha256 or '-'}",
        ),
        *(("registry warning", "registry_warning", w) for w in g.warnings),
    ]
    return _table(
        "evidence",
        "How the figures above can be trusted",
        [("fact", False), ("value", False)],
        ([("fact", label), (field, value)] for label, field, value in rows),
    )


def _footer() -> str:
    data = map_data()
    try:
        release = version("domicile")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        release = "unknown"
    return (
        f"<footer>Generated by domicile {escape(release)}. The machine-readable report "
        "(schema domicile-report v2) is embedded in this page as JSON. Map: "
        f"{escape(data.source)}. {escape(data.licence)}. Projection: {escape(data.projection)}."
        "</footer>"
    )


def _table(
    table_id: str,
    caption: str,
    headers: Sequence[tuple[str, bool]],
    rows: Iterable[Sequence[Cell]],
    *,
    row_class: str = "",
) -> str:
    numeric = [num for _, num in headers]
    head = "".join(f"<th{' class=num' if num else ''}>{escape(h)}</th>" for h, num in headers)
    body = []
    for row in rows:
        cells = "".join(
            f"<td{' class=num' if numeric[i] else ''}"
            f"{f' data-field={field}' if field else ''}>{escape(text)}</td>"
            for i, (field, text) in enumerate(row)
        )
        body.append(f"<tr{f' class={row_class}' if row_class else ''}>{cells}</tr>")
    return (
        f'<table data-table="{table_id}"><caption>{escape(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )
