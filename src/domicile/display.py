"""How the faces (the CLI, the report renderers) write times, sizes and tables: one place,
so a size reads the same in a terminal, a report and a page."""

from __future__ import annotations

from datetime import UTC, datetime

from rich.table import Table
from rich.text import Text

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def when(epoch: float | None) -> str:
    """``2025-07-01 12:00:00`` (UTC), or ``-``."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def human_size(n: int, *, exact_bytes: bool = False) -> str:
    """``11.4 MiB``: binary units, one decimal; whole bytes below 1 KiB (``1,023 B`` with
    thousands separators when ``exact_bytes``)."""
    size = float(n)
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{n:,} B" if exact_bytes else f"{size:.0f} B"
            return f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def table(title: str | Text | None, *columns: str) -> Table:
    """A table whose first column (an id) is never cut behind an ellipsis; the others wrap
    between words, or fold when a single word is too long."""
    t = Table(title=title, title_justify="left", header_style="bold")
    for i, column in enumerate(columns):
        t.add_column(column, overflow="fold", no_wrap=i == 0)
    return t
