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
- ``get`` streams a byte range with bounded memory. A range past the end is clipped (so a
  ``start`` at or past the end yields nothing); a negative ``start`` or an ``end`` before
  ``start`` raises :class:`~domicile.errors.InvalidRange` before any I/O; a blob shorter than
  the site's own account of it raises :class:`~domicile.errors.SiteCorrupt`. ``get`` and
  ``list`` return iterators: an error may surface when the call is made or at the first
  ``next()``, so callers consume them inside their error handling.
- ``chunks`` given to ``put`` are bytes-like objects (``bytes``, ``bytearray``,
  ``memoryview``); an exception raised by the chunk iterator itself propagates unchanged
  (and, being a failed put, leaves nothing visible).
- ``put_once`` is the write-once form of ``put``, for small evidence blobs (signed audit
  checkpoints): it stores ``data`` only if no blob exists under ``blob_id`` and returns True,
  or returns False and changes nothing when one exists (whatever its content: the caller
  reads it and compares). It is atomic like ``put``. Local and memory sites decide it
  atomically (create-exclusive); an S3 site checks with HEAD and then sends a conditional
  PutObject (``If-None-Match: *``), so that a server honouring the condition also closes the
  race between two writers (see :mod:`domicile.sites.s3`).
- ``list`` takes a ``prefix`` that must be a possible start of a blob id (``""`` or
  ``[a-z0-9_-]{1,128}``), else :class:`~domicile.errors.InvalidName`.

A site whose writers leave scratch behind when they die (a local site's temp files, an S3
site's unfinished multipart uploads) also offers ``sweep_temp`` (:class:`SweepsTemp`),
which removes what crashed writers left and never what a live writer is still writing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from domicile.errors import InvalidName, InvalidRange

_BLOB_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")
_PREFIX = re.compile(r"[a-z0-9_-]{0,128}")


def check_blob_id(blob_id: str) -> str:
    """Return ``blob_id`` if it is a safe blob id (``[a-z0-9][a-z0-9_-]{0,127}``), else raise."""
    if not isinstance(blob_id, str) or not _BLOB_ID.fullmatch(blob_id):
        shown = (
            repr(blob_id[:64]) + "..."
            if isinstance(blob_id, str) and len(blob_id) > 64
            else repr(blob_id)
        )
        raise InvalidName(
            f"invalid blob id {shown}",
            hint="blob ids are 1-128 characters of a-z, 0-9, '_' and '-', chosen by domicile",
        )
    return blob_id


def new_blob_id(kind: str = "b") -> str:
    """A fresh random blob id: ``kind`` (a short lowercase tag) and 128 random bits."""
    return check_blob_id(f"{kind}{secrets.token_hex(16)}")


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it can start a blob id (``""`` included), else raise InvalidName."""
    if not isinstance(prefix, str) or not _PREFIX.fullmatch(prefix):
        raise InvalidName(
            f"invalid blob id prefix {prefix!r}",
            hint="a listing prefix is 0-128 characters of a-z, 0-9, '_' and '-'",
        )
    return prefix


def check_range(start: int, end: int | None, *, site: str | None = None) -> None:
    """Refuse a negative ``start`` or an ``end`` before ``start`` (InvalidRange)."""
    if start < 0 or (end is not None and end < start):
        raise InvalidRange(
            f"invalid byte range [{start}, {end}) for a blob read",
            hint="start must be >= 0 and end (if given) >= start; this is a bug in the caller",
            site=site,
        )


def chunk_views(chunks: Iterable[bytes]) -> Iterator[memoryview]:
    """Each chunk of ``chunks`` as a flat byte ``memoryview`` (no copy).

    A bare bytes-like object is taken as one chunk (iterating it would give integers);
    anything that is not bytes-like raises TypeError naming what was given.
    """
    pieces: Iterable[Any] = (
        [chunks] if isinstance(chunks, bytes | bytearray | memoryview) else chunks
    )
    for chunk in pieces:
        try:
            view = memoryview(chunk)
        except TypeError:
            raise TypeError(
                f"a blob chunk must be bytes-like, not {type(chunk).__name__}"
            ) from None
        yield view if view.format == "B" and view.ndim == 1 else view.cast("B")


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a site knows of one blob: its id, its size in bytes, and when it was written
    (seconds since the epoch, when the site can tell; ``list`` fills it in)."""

    blob_id: str
    size: int
    modified: float | None = field(default=None, compare=False)


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

    def put_once(self, blob_id: str, data: bytes) -> bool:
        """Store ``data`` under ``blob_id`` unless a blob is there: True if written, False
        (nothing changed) if one already existed."""
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


@dataclass(frozen=True, slots=True)
class Leftover:
    """Scratch that a writer left on a site and never published: a local temp file, or an
    S3 multipart upload never completed. ``name`` is what the site calls it (a temp file's
    name; ``<blob id>/<upload id>`` for an upload), ``size`` its bytes so far, ``modified``
    its last write (seconds since the epoch)."""

    name: str
    size: int
    modified: float


@runtime_checkable
class LocksBlobs(Protocol):
    """What a site whose store can lock blobs itself offers (an S3 bucket created with
    Object Lock): ``[sites.<id>] lock = "mirror"``.

    ``check_locking()`` raises SiteError (or ConfigError) unless the store can lock blobs
    here (the bucket has Object Lock enabled). ``lock_blob`` gives a blob a retention
    (``mode`` ``GOVERNANCE``/``COMPLIANCE`` until ``until``, epoch seconds) and a legal
    hold, never shortening a retention the store holds already; BlobNotFound if absent.
    """

    def check_locking(self) -> None:
        """Raise unless this store can lock blobs."""
        ...

    def lock_blob(
        self, blob_id: str, mode: str | None, until: float | None, legal_hold: bool
    ) -> None:
        """Lock ``blob_id`` at the store (see the class docstring)."""
        ...


@runtime_checkable
class SweepsTemp(Protocol):
    """What a site with writer scratch offers besides :class:`Site`.

    ``sweep_temp(older_than)`` removes (with ``dry_run``, only lists) the leftovers whose
    last write is more than ``older_than`` seconds old and that no live writer holds, and
    returns them. Each implementation says how it tells a live writer from a dead one.
    Errors are SiteErrors, as for the other operations.
    """

    def sweep_temp(self, older_than: float, *, dry_run: bool = False) -> list[Leftover]:
        """Remove the leftovers of dead writers untouched for ``older_than`` seconds."""
        ...
