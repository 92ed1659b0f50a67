"""Fill a catalog fast with objects that exist only in the catalog (benchmarks and tests
of commands that read only metadata, e.g. ``plan``: bounded memory at any size)."""

from __future__ import annotations

import sqlalchemy as sa

from domicile.catalog import schema


def fill(url: str, bucket: str, start: int, stop: int, sites: tuple[str, ...]) -> None:
    """Record objects ``start`` to ``stop`` of ``bucket`` (keys ``objects/00000042``), each
    with one 137-byte segment and a copy on each of ``sites``, in one transaction, as a
    PUT would record them (no blob is written: for commands that read only the catalog)."""
    ids = [f"{i:032x}" for i in range(start, stop)]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.insert(schema.versions),
                [
                    {
                        "version_id": vid,
                        "bucket": bucket,
                        "key": f"objects/{int(vid, 16):08d}",
                        "state": "current",
                        "size": 100,
                        "etag": "0" * 32,
                        "content_type": "application/octet-stream",
                        "user_metadata": "{}",
                        "created_at": 1_700_000_000_000_000,
                        "manifest_blob_id": f"m{vid}",
                    }
                    for vid in ids
                ],
            )
            conn.execute(
                sa.insert(schema.segments),
                [
                    {
                        "version_id": vid,
                        "idx": 0,
                        "blob_id": f"b{vid}",
                        "plaintext_size": 100,
                        "header_length": 32,
                        "ciphertext_length": 137,
                        "ciphertext_sha256": "0" * 64,
                    }
                    for vid in ids
                ],
            )
            conn.execute(
                sa.insert(schema.placements),
                [
                    {"version_id": vid, "site_id": site, "state": "ok", "created_at": 1}
                    for vid in ids
                    for site in sites
                ],
            )
    finally:
        engine.dispose()
