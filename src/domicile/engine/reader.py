"""GET: read only the chunks a range needs, from the best copy, failing over mid-stream.

For each segment the range touches, the copies are tried in order: healthy sites before
unhealthy ones, and never a site whose status forbids reading (suspended, retired) or a
placement known to be missing or corrupt. A copy that is unreachable, short, or fails
authentication is recorded as a fault (for the repairer) and the read resumes on the next
copy at the exact byte where it stopped, so the client sees one uninterrupted stream. If no
copy can serve, :class:`~domicile.errors.CopiesUnavailable` lists every fault.

A copy that does not answer is treated like one that fails, only later: the copies are
read through :class:`~domicile.engine.hedge.CopySource`, which asks the next copy when the
first has sent no byte within its hedge delay, and abandons a copy that stalls mid-body
(the read then resumes on the next copy at the same plaintext offset, as above). Sites
whose breaker is open come last: they are read only when no other copy could serve.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from domicile.catalog import Lookup, Placement, Segment, Version
from domicile.crypto import CHUNK_SIZE, SeekableReader, chunk_offset
from domicile.engine.context import EngineContext
from domicile.engine.hedge import CopySource
from domicile.engine.streamread import StreamingReader
from domicile.errors import (
    BlobNotFound,
    CopiesUnavailable,
    CryptoError,
    SiteCorrupt,
    SiteError,
    SiteUnavailable,
)
from domicile.policy import SiteStatus

#: Chunks per decryption window. One: the streaming reader then hands each chunk over as a
#: view of the site's piece (a 4 MiB window was a 4 MiB copy of every byte read).
WINDOW_CHUNKS = 1
_READABLE = {SiteStatus.ACTIVE, SiteStatus.DRAINING}
_FAULT_KINDS: tuple[tuple[type[Exception], str], ...] = (
    (SiteUnavailable, "unreachable"),
    (BlobNotFound, "not_found"),
    (SiteCorrupt, "short_read"),
    (CryptoError, "corrupt"),
)


def readable_sites(ctx: EngineContext, placements: Sequence[Placement]) -> list[str]:
    """The sites to read from, best first: readable status, state ok, healthy first, then
    the fastest by probed latency."""
    candidates = []
    for p in placements:
        spec = ctx.world.sites.get(p.site_id)
        if p.state != "ok" or spec is None or spec.status not in _READABLE:
            continue
        candidates.append(p.site_id)
    return ctx.health.read_order(candidates)


def iter_range(ctx: EngineContext, found: Lookup, start: int, end: int) -> Iterator[bytes]:
    """Plaintext bytes ``[start, end)`` of the version ``found``."""
    version = found.version
    order = readable_sites(ctx, found.placements)
    seg_start = 0
    for segment in found.segments:
        seg_end = seg_start + segment.plaintext_size
        lo, hi = max(start, seg_start), min(end, seg_end)
        if lo < hi:
            yield from _segment_range(
                ctx, version, segment, order, start=lo - seg_start, end=hi - seg_start
            )
        seg_start = seg_end
        if seg_start >= end:
            break


def _segment_range(
    ctx: EngineContext,
    version: Version,
    segment: Segment,
    order: Sequence[str],
    *,
    start: int,
    end: int,
) -> Iterator[bytes]:
    position = start
    faults: list[dict[str, str]] = []
    left = list(order)
    while left:
        left = ctx.health.read_order(left) if len(left) < len(order) else left
        source = CopySource(ctx.health, [(s, ctx.site(s)) for s in left])
        try:
            reader = _open(source, segment, position, end, ctx.identities_for(version.bucket))
            for piece in reader.iter_range(position, end, window_chunks=WINDOW_CHUNKS):
                position += len(piece)
                yield piece
        except (SiteError, CryptoError) as exc:
            failed = [*source.failed, (source.site_id, exc)] if source.site_id else source.failed
            for site_id, error in failed:
                faults.append(
                    {"site": site_id, "error": type(error).__name__, "detail": str(error)}
                )
                _record(ctx, version, segment, site_id, error)
                left.remove(site_id)
            if not failed:  # raised before any copy was asked (cannot happen): stop
                raise
            continue
        finally:
            source.close()
        for site_id, error in source.failed:  # copies that failed before one answered
            faults.append({"site": site_id, "error": type(error).__name__, "detail": str(error)})
            _record(ctx, version, segment, site_id, error)
        if source.site_id is not None:
            ctx.health.record_success(source.site_id)
        return
    raise CopiesUnavailable(
        f"no copy of {version.bucket}/{version.key} could be read"
        + (f" ({len(faults)} copies failed)" if faults else " (no readable copy)"),
        hint="check the sites with 'domicile sites'; 'domicile repair' restores copies "
        "once a site is back",
        bucket=version.bucket,
        key=version.key,
        faults=faults,
    )


def _open(
    source: CopySource, segment: Segment, start: int, end: int, identities: Any
) -> SeekableReader:
    last_chunk = max(end - 1, start) // CHUNK_SIZE
    stop = min(chunk_offset(last_chunk + 1, segment.header_length), segment.ciphertext_length)
    stream = StreamingReader(
        source, segment.blob_id, header_length=segment.header_length, start=start, stop=stop
    )
    return SeekableReader(
        stream, segment.ciphertext_length, identities, header_length=segment.header_length
    )


def _record(
    ctx: EngineContext, version: Version, segment: Segment, site_id: str, exc: Exception
) -> None:
    kind = next((k for cls, k in _FAULT_KINDS if isinstance(exc, cls)), "error")
    if kind == "unreachable":
        ctx.health.record_failure(site_id, exc)
    ctx.catalog.record_fault(
        version.version_id, site_id, kind, f"{type(exc).__name__}: {exc}", segment_idx=segment.idx
    )
