"""The private PostgreSQL server the tests start (testbed/postgres.py)."""

from __future__ import annotations

import os

import sqlalchemy as sa
from testbed.postgres import PostgresServer

EMPTY_DATABASE = True  # pg_catalog_url: an empty database, not a migrated copy


def test_each_test_gets_a_fresh_database_on_a_private_server(
    postgres: PostgresServer, pg_catalog_url: str
) -> None:
    assert postgres.port > 0 and f":{postgres.port}/" in pg_catalog_url
    engine = sa.create_engine(pg_catalog_url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(
                sa.text("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
            ).scalar()
            owner = conn.execute(
                sa.text("SELECT usename FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            ).scalar()
            data_dir = conn.execute(sa.text("SHOW data_directory")).scalar()
    finally:
        engine.dispose()
    assert tables == 0
    assert owner == "domicile"
    assert data_dir == str(postgres.data)
    # Started as root, the cluster belongs to an unprivileged user (PostgreSQL insists).
    if os.geteuid() == 0:
        assert postgres.data.stat().st_uid != 0
