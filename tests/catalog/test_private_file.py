"""A SQLite catalog is private to its owner: mode 0600, like the keyring and the config."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from domicile.catalog import Bucket, open_catalog


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_catalog_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    old = os.umask(0o022)  # the usual umask, which would give 0644
    try:
        catalog = open_catalog(f"sqlite:///{db}")
        try:
            catalog.create_bucket("b", "p")
            assert isinstance(catalog.get_bucket("b"), Bucket)
            files = [db, db.with_name("catalog.db-wal"), db.with_name("catalog.db-shm")]
            assert all(f.exists() for f in files)
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
        finally:
            catalog.close()
    finally:
        os.umask(old)


def test_an_existing_catalog_keeps_its_mode(tmp_path: Path) -> None:
    db = tmp_path / "catalog.db"
    open_catalog(f"sqlite:///{db}").close()
    db.chmod(0o640)  # the operator's choice (a backup group, say)
    open_catalog(f"sqlite:///{db}").close()
    assert mode(db) == 0o640
