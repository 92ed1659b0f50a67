"""Versioned schema migrations, applied in order when a catalog is opened.

Each step is a module ``vNNNN_<name>.py`` with ``upgrade(conn)``, run in its own
transaction together with the bump of the ``schema_version`` row, so a crash leaves the
catalog at the previous version, never half-way. Steps define their tables themselves
(frozen), never from ``schema.py``: a released step is never edited, a change is a new
step, and ``tests/catalog/test_migrations.py`` fails when ``schema.py`` and the migrated
schema drift apart.

A catalog stamped with a version above :data:`LATEST` was written by a newer domicile and
is refused with :class:`~domicile.errors.CatalogVersionError` rather than misread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from domicile.catalog import schema
from domicile.catalog.locks import lock_migrations
from domicile.catalog.migrations import (
    v0001_initial,
    v0002_jobs,
    v0003_audit,
    v0004_multipart,
    v0005_checksums,
    v0006_garbage_origin,
    v0007_conditional_parts,
    v0008_audit_tree,
    v0009_leases,
    v0010_versioning,
    v0011_object_lock,
    v0012_bucket_keys,
)
from domicile.errors import CatalogVersionError

Step = Callable[[sa.Connection], None]

#: (version, upgrade) in order; the version a catalog reaches after the step.
STEPS: tuple[tuple[int, Step], ...] = (
    (1, v0001_initial.upgrade),
    (2, v0002_jobs.upgrade),
    (3, v0003_audit.upgrade),
    (4, v0004_multipart.upgrade),
    (5, v0005_checksums.upgrade),
    (6, v0006_garbage_origin.upgrade),
    (7, v0007_conditional_parts.upgrade),
    (8, v0008_audit_tree.upgrade),
    (9, v0009_leases.upgrade),
    (10, v0010_versioning.upgrade),
    (11, v0011_object_lock.upgrade),
    (12, v0012_bucket_keys.upgrade),
)
LATEST = STEPS[-1][0]


def current_version(conn: sa.Connection) -> int:
    """The catalog's schema version: 0 for an empty database."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    value = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
    return int(value or 0)


def migrate(engine: sa.Engine, url: str) -> int:
    """Apply every pending step, each in its own transaction; return the schema version.

    Safe when several processes open the same catalog at once: each step runs under the
    database's write lock and re-reads the version first, so it is applied exactly once.
    Raises CatalogVersionError when the catalog is newer than this code.
    """
    with _locked(engine) as conn:
        schema.metadata.create_all(conn, tables=[schema.schema_version])
        found = current_version(conn)
    _check(found, url)
    for number, step in STEPS:
        if number <= found:
            continue
        with _locked(engine) as conn:
            found = current_version(conn)
            _check(found, url)
            if number <= found:
                continue
            step(conn)
            conn.execute(sa.delete(schema.schema_version))
            conn.execute(sa.insert(schema.schema_version).values(version=number))
            found = number
    return found


@contextmanager
def _locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A write transaction holding the database's write lock from its first statement."""
    with engine.connect() as conn:
        conn.info["immediate"] = True  # SQLite: BEGIN IMMEDIATE (see database.configure_sqlite)
        try:
            with conn.begin():
                lock_migrations(conn)  # PostgreSQL: hosts starting at once take turns
                yield conn
        finally:
            conn.info["immediate"] = False


def _check(found: int, url: str) -> None:
    if found > LATEST:
        raise CatalogVersionError(
            f"the catalog at {url} has schema version {found}; this domicile knows up to {LATEST}",
            hint="upgrade domicile, or open a backup made by this version",
            catalog=url,
            found=found,
            supported=LATEST,
        )
