"""Run the real ``domicile`` entry point in-process and capture what it prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest

from domicile.cli.main import main


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def lines(self) -> list[Any]:
        """The output as JSON Lines."""
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


Run = Callable[..., Result]


BIN = Path(sys.executable).parent


def serve_process(
    deployment: Path, port: int, *options: str, stderr: IO[str] | int = subprocess.PIPE
) -> subprocess.Popen[str]:
    """``domicile serve`` on ``port`` as a process, its stdout piped (wide lines), its
    stderr piped or sent to ``stderr``."""
    listen = f"127.0.0.1:{port}"
    return subprocess.Popen(
        [str(BIN / "domicile"), "--config", str(deployment), "serve", "--listen", listen, *options],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )


def wait_for(process: subprocess.Popen[str], pattern: str, timeout: float = 30) -> str:
    """Read the process's stdout until a line matches; return everything read."""
    assert process.stdout is not None
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen += line
        if re.search(pattern, line):
            return seen
    raise AssertionError(f"no line matching {pattern!r}; the output was:\n{seen}")


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    return invoker(capsys, monkeypatch)


def invoker(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """The ``domicile`` entry point run in-process, 200 columns wide (the ``run`` fixture)."""
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke


@pytest.fixture
def deployment(tmp_path: Path, run: Run) -> Path:
    """A fresh deployment written by ``domicile init``; returns its config path."""
    config = tmp_path / "dep" / "domicile.toml"
    result = run("--config", str(config), "init")
    assert result.code == 0, result.err
    return config
