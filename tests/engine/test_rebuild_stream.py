"""rebuild-catalog at scale (issue #22): it decrypts each manifest once however many sites
hold the same bytes, asks no site again for an inline manifest it just read, and keeps the
newest version of a key."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import domicile
from domicile.engine import manifest as manifest_mod
from domicile.engine import rebuild as rebuild_mod
from tests.engine.conftest import drop_catalog, make_deployment


def state(engine: domicile.Domicile) -> list[tuple[Any, ...]]:
    """What the catalog holds of the objects: versions, their placements and segments."""
    catalog = engine.context.catalog
    return [
        (
            v.bucket,
            v.key,
            v.version_id,
            v.size,
            v.etag,
            [(p.site_id, p.state) for p in placements],
            catalog.segments(v.version_id),
        )
        for v, placements in sorted(catalog.iter_placed(), key=lambda x: x[0].version_id)
    ]


def filled(tmp_path: Path, n: int = 12) -> tuple[Path, list[tuple[Any, ...]]]:
    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        for i in range(n):
            engine.put("docs", f"k/{i:03d}", f"body {i}".encode() * (i + 1))
        want = state(engine)
    drop_catalog(tmp_path)
    return path, want


def test_each_manifest_is_decrypted_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, want = filled(tmp_path)
    decrypted: list[bytes] = []
    real = manifest_mod.read_manifest

    def counting(data: bytes, identities: Any) -> Any:
        decrypted.append(data)
        return real(data, identities)

    monkeypatch.setattr(rebuild_mod, "read_manifest", counting)
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
        assert state(engine) == want
    assert report.versions == 12 and report.placements == 24 and report.manifests == 24
    assert len(decrypted) == 12  # the second site's copies are the same bytes


def test_the_newest_version_of_a_key_is_current_and_the_other_reported(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    with domicile.open(path) as engine:
        engine.put("docs", "twice", b"first")
        old = engine.head("docs", "twice").version_id
    saved = tmp_path / "saved"
    shutil.copytree(tmp_path / "sites", saved)
    with domicile.open(path) as engine:
        engine.put("docs", "twice", b"second")  # the first version's blobs are collected
        new = engine.head("docs", "twice").version_id
    for file in saved.rglob("*"):  # ... but here they were not yet: put them back
        target = tmp_path / "sites" / file.relative_to(saved)
        if file.is_file() and not target.exists():
            shutil.copy2(file, target)
    drop_catalog(tmp_path)
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
        assert engine.get("docs", "twice").read() == b"second"
        assert engine.head("docs", "twice").version_id == new
        assert report.versions == 1 and report.placements == 2 and report.manifests == 4
        assert report.superseded == [old]
