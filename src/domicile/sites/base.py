"""The ``Site`` protocol: the one narrow seam between domicile and any storage.

A site stores opaque, immutable blobs (ciphertext) under ids chosen by the engine. It knows
nothing of objects, buckets, policies or keys. Every implementation runs the same
conformance suite (``tests/sites/conformance.py``).

Contract, for every method:

- ``blob_id`` must satisfy :func:`check_blob_id`; anything else raises
  :class:`~domicile.errors.InvalidName` before any I/O.
- A missing blob raises :class:`~domicile.errors.BlobNotFound` (from ``get`` and ``head``;
  ``delete`` of a missing blob is not an error).
- Transient failures (unreachable, timeout, 5xx) raise
  :class:`~domicile.errors.SiteUnavailable` (retryable); no space raises
  :class:`~domicile.errors.SiteFull`; refused credentials raise
  :class:`~domicile.errors.SiteAccessDenied`. Every ``SiteError`` names the site.
- ``put`` is atomic: after it returns the whole blob is durable; if it raises, no blob (and no
  partial blob) is visible under ``blob_id``. Putting an id that exists replaces it atomically.
- ``get`` streams a byte range with bounded memory. A range past the end is clipped; a blob
  shorter than the site's own account of it raises :class:`~domicile.errors.SiteCorrupt`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from domicile.errors import InvalidName

_BLOB_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")


def check_blob_id(blob_id: str) -> str:
    """Return ``blob_id`` if it is a safe blob id (``[a-z0-9][a-z0-9_-]{0,127}``), else raise."""
    if not isinstance(blob_id, str) or not _BLOB_ID.fullmatch(blob_id):
        raise InvalidName(
            f"invalid blob id {blob_id!r}",
            hint="blob ids are 1-128 characters of a-z, 0-9, '_' and '-', chosen by domicile",
        )
    return blob_id


def new_blob_id(kind: str = "b") -> str:
    """A fresh random blob id: ``kind`` (a short lowercase tag) and 128 random bits."""
    return check_blob_id(f"{kind}{secrets.token_hex(16)}")


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a site knows of one blob: its id and its size in bytes."""

    blob_id: str
    size: int


@runtime_checkable
class Site(Protocol):
    """One place where blobs rest. See the module docstring for the contract."""

    @property
    def site_id(self) -> str:
        """The configured id of this site, used in every error and log line."""
        ...

    def put(self, blob_id: str, chunks: Iterable[bytes]) -> int:
        """Store the concatenation of ``chunks`` atomically under ``blob_id``; return its size."""
        ...

    def get(self, blob_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes ``[start, end)`` of the blob (``end=None``: to the end)."""
        ...

    def head(self, blob_id: str) -> BlobInfo:
        """The blob's size, or :class:`~domicile.errors.BlobNotFound`."""
        ...

    def delete(self, blob_id: str) -> None:
        """Remove the blob; removing a blob that is not there is not an error."""
        ...

    def list(self, prefix: str = "") -> Iterator[BlobInfo]:
        """Every blob whose id starts with ``prefix``, in ascending id order."""
        ...

    def close(self) -> None:
        """Release connections and handles; the site is not used afterwards."""
        ...
