"""Small helpers over whole blobs on a site."""

from __future__ import annotations

import hashlib

from domicile.sites import Site


def hash_blob(site: Site, blob_id: str) -> str:
    """The SHA-256 (hex) of a blob as the site returns it, streamed."""
    digest = hashlib.sha256()
    for piece in site.get(blob_id):
        digest.update(piece)
    return digest.hexdigest()
