"""Segments: a body cut into age blobs, each encrypted once and streamed to every site.

Shared by a PUT (``engine/writer.py``) and a multipart part (``engine/multipart.py``).
The body is read in pieces of at most 1 MiB and cut into segments of ``segment_size``
plaintext bytes; each segment is one age blob whose ciphertext goes to every chosen site
concurrently (:class:`~domicile.engine.fanout.FanOut`) while it is produced, so memory is
bounded whatever the body's size and nothing is staged anywhere but on those sites.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, BinaryIO

from domicile.crypto import AnyRecipient, Encryptor
from domicile.engine.context import EngineContext
from domicile.engine.fanout import FanOut, StallGuard, put_all
from domicile.engine.manifest import BLOB_PREFIX, SegmentEntry
from domicile.errors import SiteError
from domicile.sites import Site, new_blob_id

PIECE = 1024 * 1024
#: Segments whose upload may still be finishing while the next one is written.
SEGMENTS_IN_FLIGHT = 2

Body = bytes | bytearray | memoryview | BinaryIO | Iterable[bytes]


def iter_body(body: Body) -> Iterator[memoryview]:
    """The body as pieces of at most 1 MiB, whatever form it was given in."""
    if isinstance(body, bytes | bytearray | memoryview):
        view = memoryview(body).cast("B")
        for offset in range(0, len(view), PIECE):
            yield view[offset : offset + PIECE]
        return
    read = getattr(body, "read", None)
    if read is not None:
        while piece := read(PIECE):
            yield memoryview(piece)
        return
    for chunk in body:
        view = memoryview(chunk).cast("B")
        for offset in range(0, len(view), PIECE):
            yield view[offset : offset + PIECE]


class SegmentWriter:
    """One segment: an age blob streamed to every chosen site while it is encrypted."""

    def __init__(
        self,
        sites: Sequence[Site],
        recipients: list[AnyRecipient],
        guard: StallGuard | None = None,
    ):
        self.blob_id = new_blob_id(BLOB_PREFIX)
        self._encryptor = Encryptor(recipients)
        self._fan = FanOut(sites, self.blob_id, guard=guard)
        self._sha = hashlib.sha256()
        self.header_length = len(self._encryptor.header)
        self.plaintext_size = 0
        self.ciphertext_length = 0
        self._emit(self._encryptor.header)

    def write(self, piece: memoryview) -> None:
        self.plaintext_size += len(piece)
        self._emit(self._encryptor.update(piece))

    def close(self) -> SegmentEntry:
        entry = self.seal()
        self.wait()
        return entry

    def seal(self) -> SegmentEntry:
        """Encrypt the last chunk and end the blob; the sites finish it in the background."""
        self._emit(self._encryptor.finalize())
        self._fan.end()
        return SegmentEntry(
            blob_id=self.blob_id,
            plaintext_size=self.plaintext_size,
            header_length=self.header_length,
            ciphertext_length=self.ciphertext_length,
            sha256=self._sha.hexdigest(),
        )

    def wait(self) -> None:
        """Wait until every site holds the sealed blob durably (or raise after rollback)."""
        self._fan.wait()

    def abort(self) -> None:
        self._fan.abort()

    def _emit(self, data: bytes) -> None:
        if data:
            self._sha.update(data)
            self.ciphertext_length += len(data)
            self._fan.send(data)


def stream_segments(
    ctx: EngineContext,
    sites: Sequence[Site],
    recipients: list[AnyRecipient],
    pieces: Iterable[memoryview],
    *,
    md5: Any,
    entries: list[SegmentEntry],
) -> None:
    """Cut the body into segments, each streamed to every site; append each to ``entries``.

    A sealed segment finishes on the sites while the next one is encrypted, so a remote
    site's upload of one segment overlaps the next; at most ``SEGMENTS_IN_FLIGHT`` are.
    An empty body is one empty segment. If anything raises (a site, or the body itself:
    a client gone), the segments in flight are aborted; those in ``entries`` already are
    the caller's to remove."""
    current: SegmentWriter | None = None
    sealed: list[SegmentWriter] = []
    try:
        for piece in pieces:
            md5.update(piece)
            rest = piece
            while rest:
                if current is None:
                    current = SegmentWriter(sites, recipients, ctx.prober)
                room = ctx.segment_size - current.plaintext_size
                current.write(rest[:room])
                rest = rest[room:]
                if current.plaintext_size == ctx.segment_size:
                    entries.append(current.seal())
                    sealed.append(current)
                    current = None
                    while len(sealed) >= SEGMENTS_IN_FLIGHT:
                        sealed.pop(0).wait()
        if current is not None or not entries:
            current = current or SegmentWriter(sites, recipients, ctx.prober)
            entries.append(current.seal())
            sealed.append(current)
            current = None
        while sealed:
            sealed.pop(0).wait()
    except BaseException:
        for writer in [*sealed, *([current] if current is not None else [])]:
            writer.abort()
        raise


def put_blobs(
    ctx: EngineContext, sites: Sequence[Site], blobs: Sequence[tuple[str, bytes]]
) -> None:
    """Write small in-memory blobs to every site at once; raise the first failure (or, for
    a site that stopped answering, SiteUnavailable once its breaker opens)."""
    put_all([(site, blob_id, data) for site in sites for blob_id, data in blobs], ctx.prober)


def remove_blobs(
    sites: Sequence[Site],
    blob_ids: Sequence[str],
    healthy: Callable[[str], bool] = lambda _site_id: True,
) -> None:
    """Best-effort removal of a failed write's blobs; what stays is swept as an orphan later
    (so are the blobs on sites not ``healthy``: a hung site is not waited for)."""
    for site in sites:
        if not healthy(site.site_id):
            continue
        for blob_id in blob_ids:
            try:
                site.delete(blob_id)
            except SiteError:
                continue


def record_health(ctx: EngineContext, site_ids: Sequence[str], exc: BaseException | None) -> None:
    """After a write to ``site_ids``: all healthy, or the failing site marked unhealthy."""
    for site_id in site_ids:
        if exc is None:
            ctx.health.record_success(site_id)
        elif isinstance(exc, SiteError) and exc.context.get("site") == site_id:
            ctx.health.record_failure(site_id, exc)
