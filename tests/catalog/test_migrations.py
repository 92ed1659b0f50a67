"""Migrations: applied on open, idempotent, refusing newer catalogs, and free of drift."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from testbed.postgres import PostgresServer

from domicile.catalog import Holder, open_catalog, schema
from domicile.catalog.database import configure_sqlite
from domicile.catalog.migrations import LATEST, STEPS, current_version, migrate
from domicile.errors import CatalogError, CatalogVersionError
from tests.catalog.records import commit

#: catalog_url is an empty database here, also on PostgreSQL (see tests/conftest.py).
EMPTY_DATABASE = True


def _version_rows(url: str) -> list[int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [v for (v,) in conn.execute(sa.select(schema.schema_version.c.version))]
    finally:
        engine.dispose()


def _shape(url: str) -> dict[str, Any]:
    """Tables, columns (type, nullable), primary keys, indexes, foreign keys of a database."""
    engine = sa.create_engine(url)
    try:
        inspector = sa.inspect(engine)
        shape: dict[str, Any] = {}
        for table in sorted(inspector.get_table_names()):
            shape[table] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
                ],
                "pk": inspector.get_pk_constraint(table)["constrained_columns"],
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
                "fks": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"])
                    for f in inspector.get_foreign_keys(table)
                ),
            }
        return shape
    finally:
        engine.dispose()


def test_open_an_empty_file_then_reopen(catalog_url: str) -> None:
    first = open_catalog(catalog_url)
    first.create_bucket("docs", "p")
    commit(first, "docs", "k")
    first.close()
    assert _version_rows(catalog_url) == [LATEST]
    again = open_catalog(catalog_url)
    assert again.current_version("docs", "k").key == "k"
    again.close()
    assert _version_rows(catalog_url) == [LATEST]


@pytest.fixture
def declared_url(catalog_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """An empty database of the same kind as ``catalog_url`` (types differ by dialect)."""
    if catalog_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/declared.db"
        return
    if "pg_catalog_url" not in request.fixturenames:
        pytest.skip("needs a second database on the server of DOMICILE_TEST_CATALOG_URL")
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"declared{os.getpid()}"
    yield server.create_database(name)
    server.drop_database(name)


def test_the_steps_build_exactly_the_declared_schema(catalog_url: str, declared_url: str) -> None:
    open_catalog(catalog_url).close()
    declared = declared_url
    engine = sa.create_engine(declared)
    schema.metadata.create_all(engine)
    engine.dispose()
    assert _shape(catalog_url) == _shape(declared), (
        "schema.py and the migration steps disagree: add a step to migrations/"
    )


def test_an_old_catalog_is_upgraded_keeping_its_rows(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=[schema.schema_version])
        STEPS[0][1](conn)
        conn.execute(sa.insert(schema.schema_version).values(version=1))
        conn.execute(
            sa.insert(schema.buckets).values(name="old", tenant="t", policy="p", created_at=0)
        )
        conn.execute(
            sa.text(
                "INSERT INTO garbage (site_id, blob_id, reason, queued_at)"
                " VALUES ('s1', 'b1', 'deleted', 0)"
            )
        )
    engine.dispose()
    catalog = open_catalog(sqlite_url)
    assert catalog.get_bucket("old").tenant == "t"
    assert catalog.jobs() == [] and catalog.audit_records() == []
    [queued] = catalog.garbage()  # from before step 6: no origin, for whole-queue collection
    assert (queued.blob_id, queued.origin) == ("b1", None)
    assert catalog.garbage(origins=["b1"]) == []
    catalog.close()
    assert _version_rows(sqlite_url) == [LATEST]


def test_step_9_keeps_the_jobs_and_garbage_of_a_version_8_catalog(catalog_url: str) -> None:
    engine = sa.create_engine(catalog_url)
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=[schema.schema_version])
        for number, step in STEPS[:8]:
            assert number <= 8
            step(conn)
        conn.execute(sa.insert(schema.schema_version).values(version=8))
        for state in ("done", "pending"):
            conn.execute(
                sa.text(
                    "INSERT INTO jobs (run_id, action, version_id, site_id, bytes, state, detail,"
                    " created_at, updated_at) VALUES ('old', 'add', 'v', 's', 5, :state, '', 1, 1)"
                ),
                {"state": state},
            )
        conn.execute(
            sa.text(
                "INSERT INTO garbage (site_id, blob_id, reason, queued_at, origin)"
                " VALUES ('s1', 'b1', 'deleted', 0, 'v')"
            )
        )
    engine.dispose()
    catalog = open_catalog(catalog_url)
    try:
        old = sorted(catalog.jobs(), key=lambda j: j.id)
        assert [(j.state, j.bytes, j.violation, j.reason) for j in old] == [
            ("done", 5, False, None),
            ("pending", 5, False, None),
        ]
        catalog.acquire_lease("apply", None, Holder("h", 1, "new"), 60)  # no lease: interrupted
        catalog.add_jobs(
            "new", [{"action": "remove", "version_id": "v", "site_id": "s", "bytes": 0}]
        )
        jobs = sorted(catalog.jobs(), key=lambda j: j.id)
        assert [j.state for j in jobs] == ["done", "interrupted", "pending"]
        assert jobs[2].id > jobs[1].id
        [item] = catalog.claim_garbage("gc", limit=10, seconds=60)
        assert (item.blob_id, item.origin) == ("b1", "v")
    finally:
        catalog.close()
    assert _version_rows(catalog_url) == [LATEST]


def test_a_newer_catalog_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    open_catalog(sqlite_url).close()
    with sqlite3.connect(tmp_path / "catalog.db") as db:
        db.execute("UPDATE schema_version SET version = ?", (LATEST + 1,))
    db.close()
    with pytest.raises(CatalogVersionError) as err:
        open_catalog(sqlite_url)
    assert "upgrade domicile" in (err.value.hint or "")
    assert err.value.context["found"] == LATEST + 1
    assert err.value.context["supported"] == LATEST


def test_a_failing_step_leaves_the_previous_version(sqlite_url: str) -> None:
    def broken(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE half_done (x INTEGER)"))
        raise RuntimeError("step failed")

    engine = sa.create_engine(sqlite_url)
    configure_sqlite(engine)  # DDL inside our explicit transactions, as the catalog runs it
    steps = (*STEPS, (LATEST + 1, broken))
    try:
        migrate(engine, sqlite_url)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr("domicile.catalog.migrations.STEPS", steps)
            mp.setattr("domicile.catalog.migrations.LATEST", LATEST + 1)
            with pytest.raises(RuntimeError, match="step failed"):
                migrate(engine, sqlite_url)
        with engine.connect() as conn:
            assert current_version(conn) == LATEST
            assert not sa.inspect(conn).has_table("half_done")
    finally:
        engine.dispose()


def test_concurrent_opens_of_a_new_catalog(sqlite_url: str) -> None:
    errors: list[BaseException] = []

    def opener() -> None:
        try:
            open_catalog(sqlite_url).close()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert _version_rows(sqlite_url) == [LATEST]


def test_unusable_catalogs_are_catalog_errors(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogError, match="cannot open the catalog") as err:
        open_catalog(f"sqlite:///{junk}")
    assert err.value.hint
    with pytest.raises(CatalogError):
        open_catalog(f"sqlite:///{tmp_path}/no/such/folder/c.db")
    with pytest.raises(CatalogError, match="cannot open"):
        open_catalog("not a url")


_OPEN_AT = """
import sys, time
from domicile.catalog import open_catalog
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
open_catalog(sys.argv[1]).close()
"""


def test_processes_opening_a_new_catalog_at_once_migrate_it_once(catalog_url: str) -> None:
    """Hosts starting together: every step applied exactly once (a second application of
    a step fails: its tables exist), no process fails."""
    start = time.time() + 2.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _OPEN_AT, catalog_url, str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    failures = [err for p, err in zip(procs, errors, strict=True) if p.returncode != 0]
    assert failures == []
    assert _version_rows(catalog_url) == [LATEST]


def test_postgresql_urls_use_psycopg_and_failures_are_catalog_errors(
    postgres: PostgresServer, pg_catalog_url: str
) -> None:
    name = pg_catalog_url.rsplit("/", 1)[1]
    catalog = open_catalog(postgres.psql_url(name))  # plain postgresql://: psycopg 3
    catalog.create_bucket("docs", "p")
    assert catalog._db.engine.dialect.driver == "psycopg"
    catalog.close()
    with pytest.raises(CatalogError, match="cannot open the catalog") as err:
        open_catalog(postgres.psql_url("no_such_database"))
    assert "database server" in err.value.hint


def test_step_10_makes_existing_versions_null_versions(sqlite_url: str) -> None:
    engine = sa.create_engine(sqlite_url)
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=[schema.schema_version])
        for number, step in STEPS:
            if number < 10:
                step(conn)
        conn.execute(sa.insert(schema.schema_version).values(version=9))  # every step < 10
        conn.execute(sa.text("INSERT INTO buckets VALUES ('old', 't', 'p', 0)"))
        conn.execute(
            sa.text(
                "INSERT INTO versions (version_id, bucket, key, state, size, etag, content_type,"
                " user_metadata, created_at, manifest_blob_id)"
                " VALUES ('v1', 'old', 'k', 'current', 1, 'e', 't', '{}', 0, 'mv1')"
            )
        )
    engine.dispose()
    catalog = open_catalog(sqlite_url)
    assert catalog.get_bucket("old").versioning is None
    found = catalog.current_version("old", "k")
    assert (found.null_version, found.delete_marker, found.seq) == (True, False, 1)
    assert catalog.find_version("old", "k", "null").version_id == "v1"
    catalog.close()
