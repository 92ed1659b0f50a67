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


COMMANDS = (report,)
