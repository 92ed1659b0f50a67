"""Conditional writes through the library API: put, copy and complete_multipart with
``if_none_match`` / ``if_match``, decided with the commit; racing creators of one key leave
one object and only its blobs on the sites; parts keep their sizes."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

import domicile
from domicile.catalog import version_blobs
from domicile.errors import ObjectNotFound, PreconditionFailed
from tests.engine.conftest import blob_files

#: Each test runs on a SQLite and on a PostgreSQL catalog (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]

SITES = ("fr", "de", "us")
MiB = 1024 * 1024


def _on_sites(root: Path) -> set[str]:
    return {p.name for site in SITES for p in blob_files(root, site)}


def test_put_if_none_match_and_if_match(engine: domicile.Domicile, tmp_path: Path) -> None:
    first = engine.put("docs", "k", b"one", if_none_match=True)
    held = _on_sites(tmp_path)
    with pytest.raises(PreconditionFailed):
        engine.put("docs", "k", b"two", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        engine.put("docs", "k", b"two", if_match="0" * 32)
    with pytest.raises(ObjectNotFound):
        engine.put("docs", "absent", b"two", if_match=first.etag)
    assert _on_sites(tmp_path) == held
    second = engine.put("docs", "k", b"two", if_match=f'"{first.etag}"')
    assert engine.get("docs", "k").read() == b"two"
    engine.put("docs", "k", b"three", if_match="*")
    with pytest.raises(PreconditionFailed):
        engine.put("docs", "k", b"four", if_match=second.etag)


def test_racing_puts_leave_one_object_and_only_its_blobs(
    engine: domicile.Domicile, tmp_path: Path
) -> None:
    """16 threads put one key with if_none_match, bodies big enough to be segmented (the
    losers' segments and manifests must go too): one wins, the sites hold its blobs only."""
    before = _on_sites(tmp_path)
    bodies = [os.urandom(MiB + 1000) + bytes([n]) for n in range(16)]
    start = threading.Barrier(16)
    won: list[int] = []
    refused: list[int] = []
    lock = threading.Lock()

    def put(n: int) -> None:
        start.wait()
        try:
            engine.put("docs", "raced", bodies[n], if_none_match=True)
        except PreconditionFailed:
            with lock:
                refused.append(n)
        else:
            with lock:
                won.append(n)

    threads = [threading.Thread(target=put, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert len(won) == 1 and len(refused) == 15
    assert engine.get("docs", "raced").read() == bodies[won[0]]
    catalog = engine.context.catalog
    version = catalog.current_version("docs", "raced")
    blobs = set(version_blobs(version, catalog.segments(version.version_id)))
    assert len(blobs) == 3  # two segments and the manifest
    assert _on_sites(tmp_path) - before == blobs


def test_copy_and_complete_are_conditional(engine: domicile.Domicile, tmp_path: Path) -> None:
    engine.put("docs", "src", b"source")
    engine.put("docs", "dst", b"taken")
    with pytest.raises(PreconditionFailed):
        engine.copy("docs", "src", "docs", "dst", if_none_match=True)
    copied = engine.copy("docs", "src", "docs", "new", if_none_match=True)
    assert engine.get("docs", "new").read() == b"source" and copied.etag

    upload = engine.create_multipart("docs", "mp", meta=domicile.ObjectMeta())
    a = engine.upload_part("docs", "mp", upload.upload_id, 1, b"a" * 5 * MiB)
    b = engine.upload_part("docs", "mp", upload.upload_id, 2, b"bb")
    listed = [(1, a.etag), (2, b.etag)]
    with pytest.raises(ObjectNotFound):
        engine.complete_multipart("docs", "mp", upload.upload_id, listed, if_match="*")
    info = engine.complete_multipart("docs", "mp", upload.upload_id, listed, if_none_match=True)
    assert info.part_sizes == (5 * MiB, 2)
    assert engine.head("docs", "mp").part_sizes == (5 * MiB, 2)
    assert engine.head("docs", "src").part_sizes == ()
