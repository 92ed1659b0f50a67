"""Reads survive a corrupt or missing copy; faults are recorded for the repairer."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import domicile
from domicile.errors import CopiesUnavailable
from tests.engine.conftest import first_reader, segment_files

MiB = 1024 * 1024


def test_corrupt_copy_fails_over_and_is_recorded(engine: domicile.Domicile, tmp_path: Path) -> None:
    body = os.urandom(300_000)
    info = engine.put("docs", "k", body)
    first = first_reader(engine, "docs", "k")
    for blob in segment_files(engine, tmp_path, first):
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0x01  # one flipped bit in the middle of the payload
        blob.write_bytes(bytes(data))
    for _ in range(2):  # the faulty copy may be tried first or second: both must work
        assert engine.get("docs", "k").read() == body
        assert engine.get("docs", "k", 150_000, 150_100).read() == body[150_000:150_100]
    faults = engine.context.catalog.open_faults(version_id=info.version_id)
    assert faults and {f.site_id for f in faults} == {first}
    assert {f.kind for f in faults} == {"corrupt"}


def test_vanished_site_folder_fails_over(engine: domicile.Domicile, tmp_path: Path) -> None:
    body = os.urandom(2 * MiB + 1)
    info = engine.put("docs", "k", body)
    lost = first_reader(engine, "docs", "k")
    shutil.rmtree(tmp_path / "sites" / lost)
    assert engine.get("docs", "k").read() == body
    kinds = {f.kind for f in engine.context.catalog.open_faults(version_id=info.version_id)}
    assert kinds & {"unreachable", "not_found"}


def test_every_copy_lost_is_a_clear_error(engine: domicile.Domicile, tmp_path: Path) -> None:
    engine.put("docs", "k", b"payload")
    for site in ("fr", "de"):
        for blob in segment_files(engine, tmp_path, site):
            blob.unlink()
    with pytest.raises(CopiesUnavailable) as err:
        engine.get("docs", "k").read()
    assert len(err.value.context["faults"]) == 2
    assert err.value.hint


def test_truncated_copy_is_detected(engine: domicile.Domicile, tmp_path: Path) -> None:
    body = os.urandom(200_000)
    engine.put("docs", "k", body)
    first = first_reader(engine, "docs", "k")
    for blob in segment_files(engine, tmp_path, first):
        blob.write_bytes(blob.read_bytes()[:-65552])  # drop the final chunk
    assert engine.get("docs", "k").read() == body
    assert engine.get("docs", "k", 199_000, None).read() == body[199_000:]
