"""Quick verify by listing: compare each site's listing with the catalog, never one HEAD
per blob.

A quick verify asks only whether every blob of a copy is on its site at its recorded
size. Asking blob by blob costs a request per blob (an S3 HEAD; a ``stat`` and an open on
a local folder); a site's listing answers the same for a thousand blobs per request (one
S3 LIST per 1,000 keys; a local site's ``os.scandir`` of its fan-out folders). So:

1. the catalog is read a page at a time (versions, their segments and placements: three
   queries per 500 versions); every blob a copy needs on a site that can be read is
   spooled, with its size, to a temporary SQLite file (memory stays flat however many
   there are); copies on sites that may not be read, or whose breaker is open, are
   reported skipped or unreachable as a copy-by-copy verify would;
2. per site, the spooled blobs in id order are merged with the site's listing (also in id
   order): a blob absent is ``missing``, one of another size ``corrupt`` (a non-inline
   manifest is only required to exist, as before);
3. per site, each copy is marked: ``ok`` through :class:`~domicile.engine.verify.
   VerifiedBatch` (never over a state a reader changed since the catalog was read), or
   ``missing`` / ``corrupt`` with its fault, as :func:`~domicile.engine.verify.
   verify_copy` does. A site whose listing fails leaves its copies ``unreachable``.
"""

from __future__ import annotations

from collections.abc import Iterator

from domicile.catalog import Segment, Version, inline_manifest
from domicile.engine.context import EngineContext
from domicile.engine.scratch import ScratchDb
from domicile.errors import BlobNotFound, ObjectNotFound

ANY_SIZE = -1  # a non-inline manifest: only its presence is checked

_SCHEMA = (
    "CREATE TABLE blobs (site TEXT, blob TEXT, size INTEGER, vid TEXT)",
    "CREATE TABLE copies (site TEXT, vid TEXT, seen TEXT)",
)
_INDEXES = (
    "CREATE INDEX blobs_by_id ON blobs (site, blob)",
    "CREATE INDEX copies_by_site ON copies (site, vid)",
)


class Spool(ScratchDb):
    """The blobs and copies the catalog expects, per site, in a temporary SQLite file
    (a quick verify checks them; the sweep keeps them)."""

    def __init__(self) -> None:
        super().__init__("domicile-verify-", _SCHEMA)
        self._sites: set[str] = set()

    def add(self, site_id: str, version: Version, segments: list[Segment], seen: str) -> None:
        """Copy ``site_id`` of ``version``, in state ``seen``, and every blob it needs."""
        vid = version.version_id
        blobs = [(site_id, s.blob_id, s.ciphertext_length, vid) for s in segments]
        if not inline_manifest(version, segments):  # else the one segment is the manifest
            blobs.append((site_id, version.manifest_blob_id, ANY_SIZE, vid))
        self.db.executemany("INSERT INTO blobs VALUES (?, ?, ?, ?)", blobs)
        self.db.execute("INSERT INTO copies VALUES (?, ?, ?)", (site_id, vid, seen))
        self._sites.add(site_id)

    def seal(self) -> None:
        """Done adding: index what was spooled."""
        self.db.execute("COMMIT")
        for statement in _INDEXES:
            self.db.execute(statement)

    def sites(self) -> list[str]:
        return sorted(self._sites)

    def blobs(self, site_id: str) -> Iterator[tuple[str, int, str]]:
        """(blob id, size, version id) of ``site_id``, in blob id order."""
        query = "SELECT blob, size, vid FROM blobs WHERE site = ? ORDER BY blob"
        yield from self.db.execute(query, (site_id,))

    def blob_ids(self, site_id: str) -> Iterator[str]:
        """The distinct blob ids spooled for ``site_id``, in order."""
        query = "SELECT DISTINCT blob FROM blobs WHERE site = ? ORDER BY blob"
        return (blob for (blob,) in self.db.execute(query, (site_id,)))

    def copies(self, site_id: str) -> Iterator[tuple[str, str]]:
        """(version id, state seen) of every copy spooled on ``site_id``."""
        query = "SELECT vid, seen FROM copies WHERE site = ? ORDER BY vid"
        yield from self.db.execute(query, (site_id,))


class Mismatch(Exception):
    """A blob of another size than the catalog recorded."""


def compare(ctx: EngineContext, site_id: str, spool: Spool) -> dict[str, Exception]:
    """Merge ``site_id``'s listing with its spooled blobs: the first failure of each copy
    that has one (BlobNotFound, Mismatch). SiteError when the listing fails."""
    failed: dict[str, Exception] = {}
    listing = iter(ctx.sites[site_id].list())
    here = next(listing, None)
    for blob_id, size, vid in spool.blobs(site_id):
        while here is not None and here.blob_id < blob_id:
            here = next(listing, None)
        if here is None or here.blob_id != blob_id:
            failed.setdefault(vid, _not_found(site_id, blob_id))
        elif size not in (ANY_SIZE, here.size):
            failed.setdefault(
                vid, Mismatch(f"blob {blob_id} is {here.size} bytes, the catalog says {size}")
            )
    return failed


def _not_found(site_id: str, blob_id: str) -> BlobNotFound:
    return BlobNotFound(
        f"blob {blob_id} not found on site {site_id}",
        hint="the catalog may be out of date or the copy was lost: verify and repair "
        "the object's copies from another site",
        site=site_id,
        blob=blob_id,
        operation="list",
    )


def version_of(ctx: EngineContext, vid: str) -> Version | None:
    """The version (for its bucket and key in reports), None if it went meanwhile."""
    try:
        return ctx.catalog.get_version(vid)
    except ObjectNotFound:
        return None


__all__ = ["ANY_SIZE", "Mismatch", "Spool", "compare", "version_of"]
