"""What every command shares: the config path, the output mode, the opened engine."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType

import click

from domicile.engine import Domicile, open_deployment


class State:
    """Opens the engine on first use and closes it when the command ends."""

    def __init__(self, config_path: Path, as_json: bool) -> None:
        self.config_path = config_path
        self.as_json = as_json
        self._engine: Domicile | None = None

    @property
    def engine(self) -> Domicile:
        if self._engine is None:
            self._engine = open_deployment(self.config_path)
        return self._engine

    def reopen(self) -> None:
        """Forget the opened engine (after the configuration changed)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None

    def __enter__(self) -> State:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._engine is not None:
            self._engine.close()


pass_state = click.make_pass_decorator(State)
