"""The residency report as a terminal page (rich tables): verdict first, then the
breakdowns, the compliance sections and the evidence.

Every name that comes from the deployment (buckets, keys, sites, reasons) is escaped, so
a key such as ``[red]x`` prints as written and never as markup. The page asks for markup
itself (``markup=True``): the CLI's console prints everything else as written.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from domicile.display import human_size, table, when
from domicile.engine.facts import Report, Shortfall, SiteTally, Tally, Violation
from domicile.report.words import counted, plural, rules_text, verdict_reasons, why_uncounted


def print_report(
    r: Report, console: Console, rows: Iterable[Violation | Shortfall] | None = None
) -> None:
    """Print the whole report on ``console``. The per-object rows: the report's own when
    it was built with ``details``; else ``rows`` (a stream, printed one line each as it
    comes); else only their counts."""
    out = _Out(console)
    out.line(
        f"[bold]Residency report[/] of deployment [bold]{escape(r.deployment)}[/], "
        f"{escape(_scope(r))} ({escape(', '.join(r.scope.buckets) or 'no bucket')}), "
        f"generated {when(r.generated_at)} UTC"
    )
    if r.compliant:
        out.line(
            "[bold green]COMPLIANT[/]: no copy rests where its policy refuses it, and every "
            "object has the readable copies its policy requires"
        )
    else:
        out.line(f"[bold red]NOT COMPLIANT[/]: {escape('; '.join(verdict_reasons(r)))}")
    out.line(f"{r.objects} objects, {human_size(r.bytes)} ({r.bytes} bytes), {r.copies} copies")
    _policies(out, r)
    _tallies(out, "by country", "country", r.by_country)
    _tallies(out, "by operator", "operator", r.by_operator)
    _tallies(out, "by legal exposure (operators subject to)", "jurisdiction", r.by_exposure)
    _sites(out, r.by_site)
    if rows is not None:
        _streamed(out, r, rows)
    elif r.details:
        _violations(out, r)
        _shortfalls(out, r)
    else:
        _counts(out, r)
    _copy_counts(out, r)
    _facts(out, r)


def _violations(out: _Out, r: Report) -> None:
    if r.violations:
        t = table("violations", "object", "version", "site", "country", "operator", "why")
        for v in r.violations:
            t.add_row(
                *map(
                    escape,
                    (
                        f"{v.bucket}/{v.key}",
                        v.version_id,
                        v.site_id,
                        v.country,
                        v.operator,
                        "; ".join(v.reasons),
                    ),
                )
            )
        out.table(t)


def _counts(out: _Out, r: Report) -> None:
    """Without the rows: how many there are, and how to list them."""
    more = " (--details lists them)"
    if r.violation_count:
        out.line(
            f"[red]violations[/]: {plural(r.violation_count, 'copy rests', 'copies rest')} "
            f"on a site its policy refuses{more}"
        )
    if r.unreadable_count:
        out.line(
            f"[bold red]unreadable objects[/]: {r.unreadable_count} (no copy anywhere is "
            f"readable){more}"
        )
    short = r.shortfall_count - r.unreadable_count
    if short:
        out.line(f"objects short of readable copies on allowed sites: {short}{more}")
    if not r.shortfall_count:
        out.line("every object has the readable copies its policy requires")


def _streamed(out: _Out, r: Report, rows: Iterable[Violation | Shortfall]) -> None:
    """Every violation and shortfall, one line each, as the catalog is read."""
    if r.violation_count or r.shortfall_count:
        out.line(
            "[bold]objects not compliant[/], as the catalog is read "
            "(violation: object version site country operator why; unreadable / short: "
            "object version policy readable why the copies do not count):"
        )
    for row in rows:
        fields: tuple[str, ...]
        if isinstance(row, Violation):
            fields = (
                "violation",
                f"{row.bucket}/{row.key}",
                row.version_id,
                row.site_id,
                row.country,
                row.operator,
                "; ".join(row.reasons),
            )
        else:
            fields = (
                "unreadable" if row.unreadable else "short",
                f"{row.bucket}/{row.key}",
                row.version_id,
                row.policy,
                "none" if row.unreadable else counted(row),
                why_uncounted(row),
            )
        out.line(escape("  ".join(fields)))
    if not r.shortfall_count:
        out.line("every object has the readable copies its policy requires")


class _Out:
    """The console, printing this page's markup (names escaped) without rich's guesswork
    highlighting."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def line(self, text: str) -> None:
        self.console.print(text, markup=True, highlight=False)

    def table(self, t: Table) -> None:
        self.console.print(t, markup=True)


def _scope(r: Report) -> str:
    if r.scope.kind == "all":
        return "every bucket"
    return f"{r.scope.kind} {r.scope.name}"


def _tallies(out: _Out, title: str, what: str, rows: tuple[Tally, ...]) -> None:
    t = table(title, what, "name", "objects", "bytes", "copies")
    for row in rows:
        t.add_row(
            escape(row.id), escape(row.name), str(row.objects), _bytes(row.bytes), str(row.copies)
        )
    out.table(t)


def _sites(out: _Out, rows: tuple[SiteTally, ...]) -> None:
    t = table("by site", "site", "country", "operator", "subject to", "status", "objects", "bytes")
    for s in rows:
        t.add_row(
            escape(s.id),
            escape(s.country),
            escape(s.operator),
            escape(", ".join(s.subject_to)),
            escape(s.status),
            str(s.objects),
            _bytes(s.bytes),
        )
    out.table(t)


def _policies(out: _Out, r: Report) -> None:
    t = table("buckets and their policies", "bucket", "tenant", "policy", "rules")
    rules = {p.name: p for p in r.policies}
    for b in r.buckets:
        p = rules.get(b.policy)
        text = f"{rules_text(p)} (fingerprint {p.fingerprint})" if p else "-"
        t.add_row(escape(b.bucket), escape(b.tenant), escape(b.policy), escape(text))
    out.table(t)


def _shortfalls(out: _Out, r: Report) -> None:
    """Unreadable objects first (no readable copy at all), then the other shortfalls."""
    unreadable = [s for s in r.shortfalls if s.unreadable]
    short = [s for s in r.shortfalls if not s.unreadable]
    if unreadable:
        _shortfall_table(
            out,
            Text.from_markup("[bold red]unreadable objects[/]: no copy anywhere is readable"),
            unreadable,
        )
    if short:
        _shortfall_table(out, "objects short of readable copies on allowed sites", short)
    if not r.shortfalls:
        out.line("every object has the readable copies its policy requires")


def _shortfall_table(out: _Out, title: str | Text, rows: list[Shortfall]) -> None:
    t = table(title, "object", "version", "policy", "readable", "why the copies do not count")
    for s in rows:
        t.add_row(
            escape(f"{s.bucket}/{s.key}"),
            escape(s.version_id),
            escape(s.policy),
            "none" if s.unreadable else escape(counted(s)),
            escape(why_uncounted(s)),
        )
    out.table(t)


def _copy_counts(out: _Out, r: Report) -> None:
    t = table(
        "good copies per object",
        "policy",
        "required",
        "objects",
        "under",
        "met",
        "over",
        "distribution (copies: objects)",
    )
    for c in r.copy_counts:
        spread = ", ".join(f"{copies}: {n}" for copies, n in c.distribution)
        style = "[red]" if c.under else ""
        t.add_row(
            escape(c.policy),
            str(c.required),
            str(c.objects),
            f"{style}{c.under}",
            str(c.met),
            str(c.over),
            spread,
        )
    out.table(t)


def _facts(out: _Out, r: Report) -> None:
    states = ", ".join(f"{n} {state}" for state, n in r.states) or "none"
    out.line(f"copy states: {escape(states)}")
    v = r.verification
    out.line(
        f"verification: oldest {when(v.oldest)}, newest {when(v.newest)}, "
        f"{v.never} of {v.copies} copies never verified"
    )
    c = r.chain
    if not c.enabled:
        out.line("audit chain: [yellow]no audit log[/]")
    elif c.ok:
        out.line(
            f"audit chain: [green]intact[/], {c.records} records, head {c.head_seq}, "
            f"last signed checkpoint {c.checkpoint_seq or '-'} at {when(c.checkpoint_time)}, "
            f"{c.unsigned} records after it"
        )
    else:
        out.line(f"audit chain: [red]{len(c.problems)} problems[/]")
        for p in c.problems:
            out.line(f"  seq {p.seq}: {escape(p.kind)}: {escape(p.message)}")
    g = r.registry
    out.line(
        f"registry: version {escape(g.version)} of {escape(g.date)}, "
        f"sha256 {(g.sha256 or '-')[:16]}"
    )
    for warning in g.warnings:
        out.line(f"[yellow]registry warning[/]: {escape(warning)}")


def _bytes(n: int) -> str:
    return f"{human_size(n)} ({n})" if n >= 1024 else f"{n} B"
