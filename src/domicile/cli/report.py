"""The residency report command: ``domicile report`` as rich tables, JSON or one HTML page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, human_size, table, when
from domicile.engine.report import Report, SiteTally, Tally
from domicile.engine.report_html import report_html
from domicile.engine.report_json import report_json

#: Exit code when the report finds a violation or an altered audit chain.
NOT_CLEAN = 13


@click.command(name="report")
@click.option("--bucket", help="Report on this bucket only.")
@click.option("--tenant", help="Report on this tenant's buckets only.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default=None,
    help="text (tables, the default), json, or html (one self-contained page).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default="-",
    help="With json or html: the file to write (default: stdout).",
)
@pass_state
def report(
    state: State, bucket: str | None, tenant: str | None, fmt: str | None, output: Path
) -> None:
    """Where every copy rests, under which laws, and whether its policy allows it."""
    if bucket is not None and tenant is not None:
        raise click.UsageError("give --bucket or --tenant, not both")
    fmt = fmt or ("json" if state.as_json else "text")
    if fmt == "text" and str(output) != "-":
        raise click.UsageError("--output needs --format json or html")
    result = state.engine.report(bucket=bucket, tenant=tenant)
    if fmt == "text":
        print_report(result)
    else:
        text = (
            json.dumps(report_json(result), indent=2, ensure_ascii=False) + "\n"
            if fmt == "json"
            else report_html(result)
        )
        _write(output, text)
        if str(output) != "-":
            click.echo(f"wrote {output} ({_verdict_word(result)})", err=True)
    if not result.compliant or not (result.chain.ok or not result.chain.enabled):
        raise SystemExit(NOT_CLEAN)


def _write(output: Path, text: str) -> None:
    if str(output) == "-":
        sys.stdout.write(text)
        return
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)


def _verdict_word(r: Report) -> str:
    return "compliant" if r.compliant else f"{len(r.violations)} violations"


def _scope(r: Report) -> str:
    if r.scope.kind == "all":
        return "every bucket"
    return f"{r.scope.kind} {r.scope.name}"


def print_report(r: Report) -> None:
    """The report as a terminal page: verdict first, then the breakdowns and the facts."""
    console.print(
        f"[bold]Residency report[/] of deployment [bold]{r.deployment}[/], {_scope(r)} "
        f"({', '.join(r.scope.buckets) or 'no bucket'}), generated {when(r.generated_at)} UTC",
        highlight=False,
    )
    if r.compliant:
        console.print("[bold green]COMPLIANT[/]: no copy rests where its policy refuses it")
    else:
        console.print(
            f"[bold red]NOT COMPLIANT[/]: {len(r.violations)} copies rest where their "
            "policy refuses them",
            highlight=False,
        )
    console.print(
        f"{r.objects} objects, {human_size(r.bytes)} ({r.bytes} bytes), {r.copies} copies",
        highlight=False,
    )
    _tallies("by country", "country", r.by_country)
    _tallies("by operator", "operator", r.by_operator)
    _tallies("by legal exposure (operators subject to)", "jurisdiction", r.by_exposure)
    _sites(r.by_site)
    if r.violations:
        t = table("violations", "object", "version", "site", "country", "operator", "why")
        for v in r.violations:
            t.add_row(
                f"{v.bucket}/{v.key}",
                v.version_id,
                v.site_id,
                v.country,
                v.operator,
                "; ".join(v.reasons),
            )
        console.print(t)
    _copy_counts(r)
    _facts(r)


def _tallies(title: str, what: str, rows: tuple[Tally, ...]) -> None:
    t = table(title, what, "name", "objects", "bytes", "copies")
    for row in rows:
        t.add_row(row.id, row.name, str(row.objects), _bytes(row.bytes), str(row.copies))
    console.print(t)


def _sites(rows: tuple[SiteTally, ...]) -> None:
    t = table("by site", "site", "country", "operator", "subject to", "status", "objects", "bytes")
    for s in rows:
        t.add_row(
            s.id,
            s.country,
            s.operator,
            ", ".join(s.subject_to),
            s.status,
            str(s.objects),
            _bytes(s.bytes),
        )
    console.print(t)


def _copy_counts(r: Report) -> None:
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
            c.policy,
            str(c.required),
            str(c.objects),
            f"{style}{c.under}",
            str(c.met),
            str(c.over),
            spread,
        )
    console.print(t)


def _facts(r: Report) -> None:
    states = ", ".join(f"{n} {state}" for state, n in r.states) or "none"
    console.print(f"copy states: {states}", highlight=False)
    v = r.verification
    console.print(
        f"verification: oldest {when(v.oldest)}, newest {when(v.newest)}, "
        f"{v.never} of {v.copies} copies never verified",
        highlight=False,
    )
    c = r.chain
    if not c.enabled:
        console.print("audit chain: [yellow]no audit log[/]")
    elif c.ok:
        console.print(
            f"audit chain: [green]intact[/], {c.records} records, head {c.head_seq}, "
            f"last signed checkpoint {c.checkpoint_seq or '-'} at {when(c.checkpoint_time)}, "
            f"{c.unsigned} records after it",
            highlight=False,
        )
    else:
        console.print(f"audit chain: [red]{len(c.problems)} problems[/]", highlight=False)
        for p in c.problems:
            console.print(f"  seq {p.seq}: {p.kind}: {p.message}", highlight=False)
    g = r.registry
    console.print(
        f"registry: version {g.version} of {g.date}, sha256 {(g.sha256 or '-')[:16]}",
        highlight=False,
    )


def _bytes(n: int) -> str:
    return f"{human_size(n)} ({n})" if n >= 1024 else f"{n} B"


COMMANDS = (report,)
