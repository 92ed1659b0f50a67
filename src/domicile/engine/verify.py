"""Verify copies: quick (exists, right size), full (re-hash the ciphertext), deep (decrypt).

Every placement of every version (or of one bucket) is checked on its site, segment by
segment and its manifest too. The placement's state becomes ``ok`` (with ``verified_at``),
``missing`` or ``corrupt``, and each problem is also recorded as a fault, so that
:mod:`domicile.engine.repair` restores the copy count from healthy copies. Copies on sites
that may not be read (suspended, retired) or that are not configured are reported as
skipped, never touched.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domicile.catalog import Segment, Version, inline_manifest
from domicile.crypto import SeekableReader
from domicile.engine.blobs import hash_blob
from domicile.engine.context import EngineContext
from domicile.engine.listverify import Spool, compare, version_of
from domicile.errors import BlobNotFound, CryptoError, SiteError
from domicile.sites import Site

Progress = Callable[[int], None]
BATCH = 500  # copies marked (and placement_verified records) per catalog transaction


class Level(StrEnum):
    QUICK = "quick"
    FULL = "full"
    DEEP = "deep"


@dataclass(frozen=True, slots=True)
class Problem:
    bucket: str
    key: str
    version_id: str
    site_id: str
    kind: str  # missing | corrupt | unreachable | skipped
    detail: str


@dataclass
class VerifyReport:
    level: str
    versions: int = 0
    copies: int = 0
    bytes_read: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(p.kind in ("missing", "corrupt") for p in self.problems)


def verify(
    ctx: EngineContext,
    level: Level = Level.QUICK,
    *,
    bucket: str | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check every copy at ``level``; update placement states; return what was found.
    The catalog is read a page at a time; a quick verify compares each site's listing with
    it (:mod:`domicile.engine.listverify`) instead of asking blob by blob."""
    report = VerifyReport(level=level.value)
    verified = VerifiedBatch(ctx)
    try:
        if level is Level.QUICK:
            _quick(ctx, report, verified, bucket, progress)
            return report
        for version, segments, placements in ctx.catalog.iter_copies(bucket):
            report.versions += 1
            for placement in placements:
                report.copies += 1
                verify_copy(
                    ctx,
                    level,
                    version,
                    segments,
                    placement.site_id,
                    report=report,
                    verified=verified,
                    seen=placement.state,
                )
            if progress is not None:
                progress(1)
    finally:
        verified.flush()
    return report


def _quick(
    ctx: EngineContext,
    report: VerifyReport,
    verified: VerifiedBatch,
    bucket: str | None,
    progress: Progress | None,
) -> None:
    """Quick verify by listing (see :mod:`domicile.engine.listverify`)."""
    with Spool() as spool:
        for version, segments, placements in ctx.catalog.iter_copies(bucket):
            report.versions += 1
            for placement in placements:
                report.copies += 1
                if _listable(ctx, placement.site_id):
                    spool.add(placement.site_id, version, segments, placement.state)
                else:  # reported skipped or unreachable, nothing read
                    verify_copy(
                        ctx, Level.QUICK, version, segments, placement.site_id, report=report
                    )
            if progress is not None:
                progress(1)
        spool.seal()
        for site_id in spool.sites():
            try:
                failed = compare(ctx, site_id, spool)
            except SiteError as exc:
                ctx.health.record_failure(site_id, exc)
                for vid, _ in spool.copies(site_id):
                    if (gone := version_of(ctx, vid)) is not None:
                        report.problems.append(
                            Problem(
                                gone.bucket,
                                gone.key,
                                vid,
                                site_id,
                                "unreachable",
                                f"{type(exc).__name__}: {exc}",
                            )
                        )
                continue
            for vid, seen in spool.copies(site_id):
                failure = failed.get(vid)
                if failure is None:
                    verified.mark(vid, site_id, seen)
                    continue
                found = version_of(ctx, vid)
                if found is None:
                    continue  # deleted meanwhile: nothing to mark
                state = "missing" if isinstance(failure, BlobNotFound) else "corrupt"
                _mark(ctx, found, site_id, state, failure)
                report.problems.append(
                    Problem(found.bucket, found.key, vid, site_id, state, str(failure))
                )


def _listable(ctx: EngineContext, site_id: str) -> bool:
    """A site whose copies a verify reads: configured, opened, readable, answering."""
    spec = ctx.world.sites.get(site_id)
    return (
        spec is not None
        and site_id in ctx.sites
        and spec.status.readable
        and ctx.health.failure(site_id) is None
    )


class VerifiedBatch:
    """The copies a run found good, marked ``ok`` and (above quick) recorded as
    ``placement_verified``, ``size`` at a time in one catalog transaction each: one
    transaction per record would add ~40 % to a full verify of small objects, batches of
    500 add ~4 % (bench/bench_audit_verify.py); one per mark made a quick verify spend
    three quarters of its time writing them."""

    def __init__(self, ctx: EngineContext, size: int | None = None) -> None:
        self._ctx = ctx
        self._size = size or BATCH
        self._marks: list[tuple[str, str, str, float]] = []
        self._events: list[tuple[str, dict[str, Any]]] = []

    def add(self, level: Level, version: Version, site_id: str, seen: str) -> None:
        """Copy ``site_id`` of ``version`` is good; its state was ``seen`` when the check
        began (the mark is skipped if a reader changed it since: its fault stands)."""
        if level is not Level.QUICK and self._ctx.audit is not None:
            # a size that matches proves little: no record per copy for quick
            self._events.append(_verified_event(level, version, site_id))
        self.mark(version.version_id, site_id, seen)

    def mark(self, version_id: str, site_id: str, seen: str) -> None:
        """Copy ``site_id`` of ``version_id`` is good (quick: marked, not recorded)."""
        self._marks.append((version_id, site_id, seen, time.time()))
        if len(self._marks) >= self._size:
            self.flush()

    def flush(self) -> None:
        marks, self._marks = self._marks, []
        events, self._events = self._events, []
        self._ctx.catalog.mark_verified(marks)
        if events and self._ctx.audit is not None:
            self._ctx.audit.record_many(events)


def _verified_event(level: Level, version: Version, site_id: str) -> tuple[str, dict[str, Any]]:
    return "placement_verified", {
        "bucket": version.bucket,
        "key": version.key,
        "version": version.version_id,
        "sites": (site_id,),
        "detail": {"level": level.value},
    }


def verify_copy(
    ctx: EngineContext,
    level: Level,
    version: Version,
    segments: list[Segment],
    site_id: str,
    *,
    report: VerifyReport,
    verified: VerifiedBatch | None = None,
    seen: str = "ok",
) -> None:
    """Check one copy; mark it ``ok`` (and, above quick, record ``placement_verified``),
    through ``verified`` if given, else at once; or mark it ``missing`` or ``corrupt``."""

    def problem(kind: str, detail: str) -> None:
        report.problems.append(
            Problem(version.bucket, version.key, version.version_id, site_id, kind, detail)
        )

    spec = ctx.world.sites.get(site_id)
    site = ctx.sites.get(site_id)
    if spec is None or site is None or not spec.status.readable:
        status = "not configured" if spec is None else f"status {spec.status.value}"
        problem("skipped", f"site {site_id} is {status}; its copy was not read")
        return
    failure = ctx.health.failure(site_id)
    if failure is not None:  # the breaker is open: a hung site would hold every copy
        problem("unreachable", f"site {site_id} is not answering ({failure}); not read")
        return
    try:
        for segment in segments:
            report.bytes_read += _check_segment(ctx, level, site, segment, version.bucket)
        if not inline_manifest(version, segments):
            _check_blob(site, version.manifest_blob_id)
    except BlobNotFound as exc:
        _mark(ctx, version, site_id, "missing", exc)
        problem("missing", str(exc))
    except _Mismatch as exc:
        _mark(ctx, version, site_id, "corrupt", exc)
        problem("corrupt", str(exc))
    except CryptoError as exc:
        _mark(ctx, version, site_id, "corrupt", exc)
        problem("corrupt", f"{type(exc).__name__}: {exc}")
    except SiteError as exc:
        ctx.health.record_failure(site_id, exc)
        problem("unreachable", f"{type(exc).__name__}: {exc}")
    else:
        if verified is not None:
            verified.add(level, version, site_id, seen)
            return
        ctx.catalog.set_placement_state(version.version_id, site_id, "ok", time.time())
        if level is not Level.QUICK:  # a size that matches proves little: not recorded
            action, fields = _verified_event(level, version, site_id)
            ctx.record(action, **fields)


class _Mismatch(Exception):
    """A blob's size or hash differs from what the catalog recorded."""


def _check_blob(site: Site, blob_id: str) -> int:
    return site.head(blob_id).size


def _check_segment(
    ctx: EngineContext, level: Level, site: Site, segment: Segment, bucket: str
) -> int:
    size = site.head(segment.blob_id).size
    if size != segment.ciphertext_length:
        raise _Mismatch(
            f"blob {segment.blob_id} is {size} bytes, the catalog says {segment.ciphertext_length}"
        )
    if level is Level.QUICK:
        return 0
    if level is Level.FULL:
        if hash_blob(site, segment.blob_id) != segment.ciphertext_sha256:
            raise _Mismatch(f"blob {segment.blob_id} does not match its recorded SHA-256")
        return size

    def read(offset: int, length: int) -> bytes:
        return b"".join(site.get(segment.blob_id, offset, offset + length))

    SeekableReader(
        read, size, ctx.identities_for(bucket), header_length=segment.header_length
    ).verify()
    return size


def _mark(ctx: EngineContext, version: Version, site_id: str, state: str, exc: Exception) -> None:
    kind = "not_found" if state == "missing" else "corrupt"
    ctx.catalog.set_placement_state(version.version_id, site_id, state, time.time())
    ctx.record(
        "placement_failed",
        bucket=version.bucket,
        key=version.key,
        version=version.version_id,
        sites=(site_id,),
        result=state,
        detail={"error": str(exc)[:200]},
    )
    ctx.catalog.record_fault(version.version_id, site_id, kind, f"verify: {exc}")
