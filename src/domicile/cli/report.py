"""The residency report command: ``domicile report`` as rich tables, JSON or one HTML page
(drawn by :mod:`domicile.report`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console
from domicile.engine.facts import Report
from domicile.report import print_report, report_html, report_json
from domicile.report.words import verdict_reasons

#: Exit code when the report finds a residency violation or an altered audit chain.
NOT_CLEAN = 13
#: Exit code when it finds neither, but objects with fewer readable copies than their
#: policy requires (or none at all).
SHORT_OF_COPIES = 14


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
        print_report(result, console)
    else:
        text = (
            json.dumps(report_json(result), indent=2, ensure_ascii=False) + "\n"
            if fmt == "json"
            else report_html(result)
        )
        _write(output, text)
        if str(output) != "-":
            click.echo(f"wrote {output} ({_verdict_word(result)})", err=True)
    code = exit_code(result)
    if code:
        raise SystemExit(code)


def exit_code(r: Report) -> int:
    """13 for a residency violation or an altered chain, else 14 for objects short of
    readable copies, else 0 (docs/cli.md's exit-code table)."""
    if r.violations or (r.chain.enabled and not r.chain.ok):
        return NOT_CLEAN
    return SHORT_OF_COPIES if r.shortfalls else 0


def _write(output: Path, text: str) -> None:
    if str(output) == "-":
        sys.stdout.write(text)
        return
    tmp = output.with_name(f".{output.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)


def _verdict_word(r: Report) -> str:
    return "compliant" if r.compliant else "NOT COMPLIANT: " + "; ".join(verdict_reasons(r))


COMMANDS = (report,)
