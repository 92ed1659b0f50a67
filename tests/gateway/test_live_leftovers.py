"""The gateway's periodic sweep removes what dead writers left on the sites (after the
24 h grace), and never a temp file a live writer holds."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

import pytest

from domicile.sites.layout import TEMP
from tests.gateway.live import run_gateway

DAYS_AGO = time.time() - 3 * 24 * 3600


def _leftover(root: Path, site: str, name: str, mtime: float) -> Path:
    path = root / "sites" / site / TEMP / name
    path.write_bytes(b"partial ciphertext of a killed upload")
    os.utime(path, (mtime, mtime))
    return path


@pytest.mark.parametrize("sweeps", [True, False])
def test_the_periodic_sweep_removes_dead_writers_temp_files(tmp_path: Path, sweeps: bool) -> None:
    with run_gateway(tmp_path, gateway="sweep_minutes = 0.005", sweeps=sweeps) as live:
        dead = [_leftover(tmp_path, s, "0" * 32, DAYS_AGO) for s in ("fr", "de")]
        fresh = _leftover(tmp_path, "fr", "1" * 32, time.time())  # younger than 24 h
        held = _leftover(tmp_path, "de", "2" * 32, DAYS_AGO)
        fd = os.open(held, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # as a writer in another process holds its file
            if not sweeps:  # a worker that leaves the sweep to another touches nothing
                time.sleep(1.5)
                assert all(p.exists() for p in dead)
                return
            deadline = time.monotonic() + 10
            while any(p.exists() for p in dead):
                assert time.monotonic() < deadline, "the dead writers' files were never swept"
                time.sleep(0.1)
            time.sleep(0.7)  # two more sweep periods
            assert fresh.exists() and held.exists()
        finally:
            os.close(fd)
        assert live.engine.sweep(grace=0).leftovers == 2  # now unlocked: both go
