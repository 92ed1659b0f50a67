"""Rendering helpers: one console, tables, JSON, progress bars and error panels.

Everything printed through :data:`console` and :data:`err_console` is printed as written:
rich markup, emoji codes and guesswork highlighting are off, so a key named ``[bold]x[/]``
or ``:smile:``, a site id in brackets, or a literal ``[sites]`` in a message never loses
text. A word in a style is asked for explicitly, with :func:`styled` (``("ok", "green")``
pieces).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from domicile.errors import DomicileError
from domicile.policy import explain_text

console = Console(markup=False, emoji=False, highlight=False)
err_console = Console(stderr=True, markup=False, emoji=False, highlight=False)

#: A piece of a styled line: text printed as written, or ``(text, style)``.
Piece = str | tuple[str, str]

#: Objects at least this large get a progress bar (on a terminal).
PROGRESS_THRESHOLD = 8 * 1024 * 1024


def styled(*pieces: Piece) -> Text:
    """One line from pieces: strings print as written, ``(text, style)`` in that style."""
    return Text.assemble(*pieces)


def say(*pieces: Piece, err: bool = False) -> None:
    """Print :func:`styled` pieces as one line on stdout (stderr with ``err``)."""
    (err_console if err else console).print(styled(*pieces))


def emit_json(data: Any) -> None:
    """Print ``data`` as JSON on stdout (for ``--json``)."""
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def print_error(error: DomicileError, *, as_json: bool) -> None:
    """The error, what to do next, and its context, on stderr."""
    if as_json:
        click.echo(json.dumps(error.to_dict(), sort_keys=True, default=str), err=True)
        return
    say(("error:", "bold red"), " ", error.message, err=True)
    if error.hint:
        say(("what to do:", "yellow"), " ", error.hint, err=True)
    decision = getattr(error, "decision", None)
    if decision is not None:
        err_console.print(explain_text(decision))


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
        TextColumn("{task.description}", markup=False),  # the label holds a key
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
