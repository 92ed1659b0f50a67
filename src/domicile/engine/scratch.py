"""A scratch SQLite file in a private temporary folder: where a command that walks the
whole deployment keeps what it must remember (expected blobs, manifests found) without
holding it in memory. Nothing in it must survive: no journal, no fsync, one transaction
open from the start; the folder is removed on exit."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self


class ScratchDb:
    """``with ScratchDb(prefix, statements) as scratch: scratch.db.execute(...)``."""

    def __init__(self, prefix: str, schema: Sequence[str]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix=prefix)
        self.db = sqlite3.connect(Path(self._dir.name) / "scratch.db", isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE"):
            self.db.execute(f"PRAGMA {pragma}")
        for statement in schema:
            self.db.execute(statement)
        self.db.execute("BEGIN")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.db.close()
        self._dir.cleanup()
