"""Rendering helpers: one console, tables, JSON, progress bars and error panels."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from domicile.errors import DomicileError
from domicile.policy import explain_text

console = Console()
err_console = Console(stderr=True)

#: Objects at least this large get a progress bar (on a terminal).
PROGRESS_THRESHOLD = 8 * 1024 * 1024


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (for ``--json``)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def print_error(error: DomicileError, *, as_json: bool) -> None:
    """The error, what to do next, and its context, on stderr."""
    if as_json:
        click.echo(json.dumps(error.to_dict(), sort_keys=True, default=str), err=True)
        return
    err_console.print(f"[bold red]error:[/] {escape(error.message)}", highlight=False)
    if error.hint:  # both are plain text: "[gateway] listen" is no markup
        err_console.print(f"[yellow]what to do:[/] {escape(error.hint)}", highlight=False)
    decision = getattr(error, "decision", None)
    if decision is not None:
        err_console.print(explain_text(decision), highlight=False)


def _ignore(n: int) -> None:
    del n


@contextmanager
def transfer_progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(nbytes)``: a bar with bytes/s and ETA for large transfers on a terminal.

    Small transfers, and output that is not a terminal, get no bar (``advance`` does nothing).
    """
    if (total is not None and total < PROGRESS_THRESHOLD) or not err_console.is_terminal:
        yield _ignore
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def split_path(path: str) -> tuple[str, str]:
    """``bucket/key/with/slashes`` -> (``bucket``, ``key/with/slashes``)."""
    bucket, sep, key = path.partition("/")
    if not sep or not key:
        raise click.BadParameter(f"{path!r} is not BUCKET/KEY", param_hint="BUCKET/KEY")
    return bucket, key
