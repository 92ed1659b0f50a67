"""The residency report command: ``domicile report`` as rich tables, JSON or one HTML page
(drawn by :mod:`domicile.report`)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console
from domicile.engine.facts import HistoryReport, Report, Shortfall, Violation
from domicile.report import (
    history_html,
    history_json,
    history_text,
    print_report,
    report_html,
    report_json,
    write_json,
)
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
@click.option(
    "--from",
    "since",
    metavar="DATE",
    help="Report over time from DATE (ISO date or datetime, UTC unless it says otherwise), "
    "answered from the verified audit chain.",
)
@click.option(
    "--to",
    "until",
    metavar="DATE",
    help="End of the period (a date alone: the end of that day; default: now).",
)
@click.option(
    "--details",
    is_flag=True,
    help="List every violation and shortfall (one row per copy or object), streamed as "
    "the catalog is read; without it they are counted.",
)
@pass_state
def report(
    state: State,
    *,
    bucket: str | None,
    tenant: str | None,
    fmt: str | None,
    output: Path,
    since: str | None,
    until: str | None,
    details: bool,
) -> None:
    """Where every copy rests, under which laws, and whether its policy allows it; with
    --from/--to, where every copy rested over that period and when its policy, as it was
    then, refused the site."""
    if bucket is not None and tenant is not None:
        raise click.UsageError("give --bucket or --tenant, not both")
    fmt = fmt or ("json" if state.as_json else "text")
    if fmt == "text" and str(output) != "-":
        raise click.UsageError("--output needs --format json or html")
    if since is not None or until is not None:
        _history(
            state,
            bucket=bucket,
            tenant=tenant,
            fmt=fmt,
            output=output,
            since=since,
            until=until,
        )
        return
    engine = state.engine
    # The page holds its rows (it is handed to a person); text and JSON stream them.
    result = engine.report(bucket=bucket, tenant=tenant, details=details and fmt == "html")

    def rows() -> Iterator[Violation | Shortfall]:
        return engine.report_rows(bucket=bucket, tenant=tenant)

    if fmt == "text":
        print_report(result, console, rows() if details else None)
    else:
        if fmt == "json":
            doc = report_json(result, rows if details else None)
            _write_with(output, lambda out: write_json(doc, out))
        else:
            _write(output, report_html(result))
        if str(output) != "-":
            click.echo(f"wrote {output} ({_verdict_word(result)})", err=True)
    code = exit_code(result)
    if code:
        raise SystemExit(code)


def _history(
    state: State,
    *,
    bucket: str | None,
    tenant: str | None,
    fmt: str,
    output: Path,
    since: str | None,
    until: str | None,
) -> None:
    if since is None:
        raise click.UsageError("--to needs --from")
    start = parse_when(since, "--from", end=False)
    end = parse_when(until, "--to", end=True) if until is not None else time.time()
    if end < start:
        raise click.UsageError("--to is before --from")
    # AuditAltered (exit 12) propagates before anything is printed or written.
    result = state.engine.history_report(start, end, bucket=bucket, tenant=tenant)
    if fmt == "text":
        click.echo(history_text(result), nl=False)
    else:
        text = (
            json.dumps(history_json(result), indent=2, ensure_ascii=False) + "\n"
            if fmt == "json"
            else history_html(result)
        )
        _write(output, text)
        if str(output) != "-":
            word = "compliant" if result.compliant else "NOT COMPLIANT"
            click.echo(f"wrote {output} ({word})", err=True)
    code = history_exit_code(result)
    if code:
        raise SystemExit(code)


def parse_when(text: str, option: str, *, end: bool) -> float:
    """Epoch seconds of an ISO 8601 date or datetime; naive times are UTC. A date alone
    is its first moment, or with ``end`` its last (the next midnight, less 1 µs)."""
    try:
        if len(text) == 10:
            day = datetime.fromisoformat(text).replace(tzinfo=UTC)
            return (day + timedelta(days=1, microseconds=-1) if end else day).timestamp()
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO date (2026-03-01) or datetime (2026-03-01T12:00:00Z)",
            param_hint=option,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def history_exit_code(r: HistoryReport) -> int:
    """13 when a copy rested where its policy refused it during the period, else 0."""
    return 0 if r.compliant else NOT_CLEAN


def exit_code(r: Report) -> int:
    """13 for a residency violation or an altered chain, else 14 for objects short of
    readable copies, else 0 (docs/cli.md's exit-code table)."""
    if r.violation_count or (r.chain.enabled and not r.chain.ok):
        return NOT_CLEAN
    return SHORT_OF_COPIES if r.shortfall_count else 0


def _write(output: Path, text: str) -> None:
    _write_with(output, lambda out: out.write(text))


def _write_with(output: Path, write: Callable[[TextIO], object]) -> None:
    """``write`` to stdout, or to ``output`` through a temporary file renamed at the end."""
    if str(output) == "-":
        write(sys.stdout)
        return
    tmp = output.with_name(f".{output.name}.tmp")
    with tmp.open("w", encoding="utf-8") as out:
        write(out)
    tmp.replace(output)


def _verdict_word(r: Report) -> str:
    return "compliant" if r.compliant else "NOT COMPLIANT: " + "; ".join(verdict_reasons(r))


COMMANDS = (report,)
