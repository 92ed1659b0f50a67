"""The orphan sweep: remove blobs that no catalog entry references, after a grace period.

Orphans come from crashed writes (blobs written before a commit that never happened, or
a part before it was recorded),
interrupted migrations (a copy made but never recorded) and deletions that could not
reach a site. A blob is removed only when (1) the catalog does not reference it *on that
site*, (2) it is not already queued for deletion, and (3) it was written longer than
``grace`` seconds ago, so that uploads in flight are never touched. Sites that cannot
tell a blob's age keep their unreferenced blobs and report them.

Writers that died mid-write (``kill -9`` of the gateway or of ``apply``, a power cut) also
leave scratch that never became a blob: a local site's temp files, an S3 site's multipart
uploads never completed. Each site that has such scratch (``SweepsTemp``) removes what is
older than ``grace`` and that no live writer holds (how it tells is the site's contract),
before its orphans are looked for; the report lists these *leftovers* per site.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from domicile.engine.audithistory import SEGMENT_PREFIX
from domicile.engine.auditlog import CHECKPOINT_PREFIX
from domicile.engine.bucketkeys import parse_key_blob_id
from domicile.engine.context import EngineContext
from domicile.engine.listverify import Spool
from domicile.engine.tlog import TREE_PREFIX
from domicile.errors import SiteError
from domicile.sites import BlobInfo, Site, SweepsTemp

DEFAULT_GRACE = 24 * 3600.0


@dataclass
class SiteSweep:
    site_id: str
    removed: list[str] = field(default_factory=list)
    bytes_removed: int = 0
    young: int = 0
    error: str | None = None
    #: Scratch of dead writers removed (temp file names; ``<blob>/<upload id>`` on S3).
    leftovers: list[str] = field(default_factory=list)
    leftover_bytes: int = 0


@dataclass
class SweepReport:
    dry_run: bool
    sites: list[SiteSweep] = field(default_factory=list)

    @property
    def removed(self) -> int:
        return sum(len(s.removed) for s in self.sites)

    @property
    def leftovers(self) -> int:
        return sum(len(s.leftovers) for s in self.sites)


def sweep_orphans(
    ctx: EngineContext, *, grace: float = DEFAULT_GRACE, dry_run: bool = False
) -> SweepReport:
    """Remove (or, with ``dry_run``, list) the leftovers of dead writers and the orphans
    of every readable site.

    What the catalog references on each site (segments and manifests of versions, blobs
    of multipart uploads in progress) is read a page at a time into a temporary spool
    (:class:`~domicile.engine.listverify.Spool`), then merged in blob id order with the
    site's listing: memory does not grow with the deployment. Uploads are read first:
    completing one moves its blobs to a version, never back, so a blob cannot slip between
    the two reads."""
    report = SweepReport(dry_run=dry_run)
    queued = {(g.site_id, g.blob_id) for g in ctx.catalog.garbage(limit=1_000_000)}
    cutoff = time.time() - grace
    swept = _swept_sites(ctx)
    uploads = {site_id: ctx.catalog.upload_blobs_on_site(site_id) for site_id, _ in swept}
    wanted = {site_id for site_id, _ in swept}
    with Spool() as spool:
        for version, segments, placements in ctx.catalog.iter_copies():
            for p in placements:
                if p.site_id in wanted:
                    spool.add(p.site_id, version, segments, p.state)
        spool.seal()
        for site_id, site in swept:
            result = SiteSweep(site_id)
            report.sites.append(result)
            _sweep_leftovers(site, result, grace, dry_run)  # a failure still lets orphans go
            keep = uploads[site_id]
            try:
                for info in _unreferenced(site, spool.blob_ids(site_id)):
                    if info.blob_id.startswith((CHECKPOINT_PREFIX, SEGMENT_PREFIX, TREE_PREFIX)):
                        continue  # audit checkpoints and history are evidence, never orphans
                    if _live_key(ctx, info.blob_id):
                        continue  # a bucket identity's copy (a shredded one's is an orphan)
                    if info.blob_id in keep or (site_id, info.blob_id) in queued:
                        continue
                    if info.modified is None or info.modified > cutoff:
                        result.young += 1
                        continue
                    if not dry_run:
                        site.delete(info.blob_id)
                    result.removed.append(info.blob_id)
                    result.bytes_removed += info.size
            except SiteError as exc:
                _failed(result, exc)
    return report


def _live_key(ctx: EngineContext, blob_id: str) -> bool:
    slot = parse_key_blob_id(blob_id)
    if slot is None:
        return False
    return any(k.version == slot[1] for k in ctx.catalog.bucket_keys(slot[0]))


def _unreferenced(site: Site, referenced: Iterator[str]) -> Iterator[BlobInfo]:
    """The blobs of ``site``'s listing whose id is not in ``referenced`` (both in id
    order)."""
    ref = next(referenced, None)
    for info in site.list():
        while ref is not None and ref < info.blob_id:
            ref = next(referenced, None)
        if ref != info.blob_id:
            yield info


def sweep_leftovers(
    ctx: EngineContext, *, grace: float = DEFAULT_GRACE, dry_run: bool = False
) -> SweepReport:
    """Only the leftovers of dead writers, of every readable site (the gateway's periodic
    sweep: cheap, no listing of the blobs)."""
    report = SweepReport(dry_run=dry_run)
    for site_id, site in _swept_sites(ctx):
        result = SiteSweep(site_id)
        report.sites.append(result)
        _sweep_leftovers(site, result, grace, dry_run)
    return report


def _swept_sites(ctx: EngineContext) -> list[tuple[str, Site]]:
    """The configured sites whose status lets them be read (suspended ones are left)."""
    out = []
    for site_id, site in sorted(ctx.sites.items()):
        spec = ctx.world.sites.get(site_id)
        if spec is not None and spec.status.readable:
            out.append((site_id, site))
    return out


def _sweep_leftovers(site: Site, result: SiteSweep, grace: float, dry_run: bool) -> None:
    if not isinstance(site, SweepsTemp):
        return
    try:
        for leftover in site.sweep_temp(grace, dry_run=dry_run):
            result.leftovers.append(leftover.name)
            result.leftover_bytes += leftover.size
    except SiteError as exc:
        _failed(result, exc)


def _failed(result: SiteSweep, exc: SiteError) -> None:
    text = f"{type(exc).__name__}: {exc}"
    result.error = text if result.error is None else f"{result.error}; {text}"
