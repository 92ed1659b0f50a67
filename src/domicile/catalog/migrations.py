"""Versioned schema migrations, applied in order when a catalog is opened.

Each step is a function of an open transaction; the catalog's ``schema_version`` row says
which steps have run. A catalog written by a newer domicile (a version above
:data:`LATEST`) is refused rather than misread. Never edit a released step: add one.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from domicile.catalog import schema
from domicile.errors import CatalogVersionError

Step = Callable[[sa.Connection], None]


def _v1_initial(conn: sa.Connection) -> None:
    """0.1: buckets, versions, segments, placements, faults, garbage."""
    tables = [
        schema.buckets,
        schema.versions,
        schema.segments,
        schema.placements,
        schema.faults,
        schema.garbage,
    ]
    schema.metadata.create_all(conn, tables=tables)


def _v2_jobs(conn: sa.Connection) -> None:
    """0.1: the jobs of plan/apply runs."""
    schema.metadata.create_all(conn, tables=[schema.jobs])


def _v3_audit(conn: sa.Connection) -> None:
    """0.1: the audit chain and its signed checkpoints."""
    schema.metadata.create_all(conn, tables=[schema.audit_records, schema.audit_checkpoints])


STEPS: tuple[tuple[int, Step], ...] = ((1, _v1_initial), (2, _v2_jobs), (3, _v3_audit))
LATEST = STEPS[-1][0]


def current_version(conn: sa.Connection) -> int:
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    value = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    return int(value or 0)


def migrate(engine: sa.Engine, url: str) -> int:
    """Apply every pending step, each in its own transaction; return the schema version."""
    with engine.begin() as conn:
        schema.metadata.create_all(conn, tables=[schema.schema_version])
        found = current_version(conn)
    if found > LATEST:
        raise CatalogVersionError(
            f"the catalog at {url} has schema version {found}; this domicile knows up to {LATEST}",
            hint="upgrade domicile, or open a backup made by this version",
            catalog=url,
        )
    for number, step in STEPS:
        if number <= found:
            continue
        with engine.begin() as conn:
            step(conn)
            conn.execute(sa.delete(schema.schema_version))
            conn.execute(sa.insert(schema.schema_version).values(version=number))
    return LATEST
