"""Rebuild a lost catalog from the sites' manifests and the keyring alone.

Every readable site is listed for manifests (blob ids starting with ``m``); each manifest
is decrypted with the keyring and names its bucket, policy, tenant, key, metadata and
segments (an inline manifest's blob is its object's only segment). A version is restored
with a placement on every site that holds its manifest and all of its segments at their
recorded sizes. When a key has several versions on the sites (a replaced version whose
blobs were not yet collected), the newest one is made current and the older ones are
reported: their blobs are orphans for the sweep (or, when the older one was restored
first, queued for collection as a PUT that replaced it would have).

It writes as it reads: manifests are taken :data:`BATCH` at a time from each site's
listing and their versions written in one catalog transaction, so memory does not grow with
the deployment. A manifest that another site already gave is not decrypted again when its
bytes are the same (its segments are only checked on this site). Interrupted, it resumes:
a journal file beside the configuration (``rebuild-catalog.json``) says a rebuild of this
catalog is under way, so running it again goes on over the non-empty catalog, skipping the
manifests whose version and placement are restored already; it is removed at the end.

The audit history comes back first, from the sites' ``alog-`` segments
(:func:`domicile.engine.audithistory.restore`): every record up to the newest checkpoint
signed on the sites, verified link by link before any is inserted (again on a resumed run:
records already there are skipped).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from domicile.catalog import Placement, Segment, Version
from domicile.engine.audithistory import restore
from domicile.engine.context import EngineContext
from domicile.engine.manifest import MANIFEST_PREFIX, Manifest, catalog_records, read_manifest
from domicile.errors import BucketNotFound, CatalogError, CryptoError, ObjectNotFound, SiteError
from domicile.sites import Site

Progress = Callable[[int], None]

#: Manifests read, then written in one catalog transaction.
BATCH = 500
#: The journal's name, beside the configuration file.
REBUILD_JOURNAL = "rebuild-catalog.json"


@dataclass
class RebuildReport:
    audit_records: int = 0
    audit_checkpoints: int = 0
    manifests: int = 0
    versions: int = 0
    placements: int = 0
    buckets_created: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    resumed: bool = False


@dataclass(frozen=True)
class Journal:
    """Where a rebuild notes that it is under way (``path``), and of which ``catalog``."""

    path: Path
    catalog: str


def rebuild_catalog(
    ctx: EngineContext, *, journal: Journal | None = None, progress: Progress | None = None
) -> RebuildReport:
    """Fill an empty catalog from the manifests on the sites; refuse a non-empty one,
    unless ``journal`` says a rebuild of it was interrupted (then go on with it)."""
    report = RebuildReport()
    if any(True for _ in ctx.catalog.iter_versions()):
        if journal is None or not _resumable(journal):
            raise CatalogError(
                "the catalog is not empty; rebuilding would mix two histories",
                hint="point [deployment] catalog at a new, empty file and run it again",
            )
        report.resumed = True
    if journal is not None:
        _write_journal(journal)
    readable = {
        sid: site
        for sid, site in sorted(ctx.sites.items())
        if (spec := ctx.world.sites.get(sid)) is not None and spec.status.readable
    }
    if ctx.audit is not None:
        history = restore(ctx.catalog, readable, ctx.keyring.identities, ctx.audit.public_key)
        report.audit_records, report.audit_checkpoints = history.records, history.checkpoints
        report.problems += history.problems
    _Rebuild(ctx, readable, report, progress).run()
    if journal is not None:
        journal.path.unlink(missing_ok=True)
    return report


def _resumable(journal: Journal) -> bool:
    try:
        noted: object = json.loads(journal.path.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return noted == {"catalog": journal.catalog}


def _write_journal(journal: Journal) -> None:
    tmp = journal.path.with_name(f".{journal.path.name}.tmp")
    tmp.write_text(json.dumps({"catalog": journal.catalog}), encoding="utf-8")
    tmp.replace(journal.path)


Found = tuple[Version, list[Segment], list[Placement]]


class _Rebuild:
    """One pass over every site's manifests, a batch at a time (see the module)."""

    def __init__(
        self,
        ctx: EngineContext,
        sites: dict[str, Site],
        report: RebuildReport,
        progress: Progress | None,
    ) -> None:
        self._ctx = ctx
        self._sites = sites
        self._report = report
        self._progress = progress
        self._buckets: set[str] = set()
        self._superseded: set[str] = set()

    def run(self) -> None:
        for site_id, site in self._sites.items():
            try:
                batch: list[str] = []
                for info in site.list(MANIFEST_PREFIX):
                    batch.append(info.blob_id)
                    if len(batch) >= BATCH:
                        self._batch(site_id, site, batch)
                        batch = []
                self._batch(site_id, site, batch)
            except SiteError as exc:
                self._report.problems.append(f"site {site_id} could not be listed: {exc}")

    def _batch(self, site_id: str, site: Site, blob_ids: Sequence[str]) -> None:
        """Read a batch of manifests of one site, then write it in one transaction."""
        if not blob_ids:
            return
        report = self._report
        vids = {b: b[len(MANIFEST_PREFIX) :] for b in blob_ids}
        held = self._ctx.catalog.placed_sites(list(vids.values()))
        fresh: list[Found] = []
        more: list[Placement] = []
        for blob_id in blob_ids:
            report.manifests += 1
            if self._progress is not None:
                self._progress(1)
            where = held.get(vids[blob_id])
            if where is not None and site_id in where:
                continue  # restored before this run was interrupted
            found = self._one(site_id, site, blob_id, where or [])
            if isinstance(found, Placement):
                more.append(found)
            elif found is not None:
                fresh.append(found)
        superseded = self._ctx.catalog.restore_versions(fresh, more)
        report.versions += len(fresh)
        report.placements += len(fresh) + len(more)
        restored = {f[0].version_id for f in fresh}
        for vid, had in superseded:
            if had or vid in restored:  # counted above or before, and now not current
                report.versions -= 1
                report.placements -= had or 1
            if vid not in self._superseded:
                self._superseded.add(vid)
                report.superseded.append(vid)

    def _one(
        self, site_id: str, site: Site, blob_id: str, where: Sequence[str]
    ) -> Found | Placement | None:
        """What one manifest on ``site`` restores: a version, a placement of a version
        restored from another site (``where``), or nothing (unreadable, incomplete)."""
        report, now = self._report, time.time()
        data = self._read(site_id, site, blob_id)
        if data is None:
            return None
        same = self._same_as_held(blob_id, where, data) if where else None
        if same is not None:  # the manifest restored from another site: no decrypting
            version, segments = same
            name = f"{version.bucket}/{version.key}"
            blobs = [(g.blob_id, g.ciphertext_length) for g in segments]
            if not _complete(site, blobs, site_id, name, report, blob_id, data):
                return None
            return Placement(version.version_id, site_id, "ok", version.created_at, now)
        manifest = self._decrypt(site_id, blob_id, data)
        if manifest is None:
            return None
        blobs = [(e.blob_id, e.ciphertext_length) for e in manifest.segments]
        name = f"{manifest.bucket}/{manifest.key}"
        if not _complete(site, blobs, site_id, name, report, blob_id, data):
            return None
        self._ensure_bucket(manifest)
        return catalog_records(manifest, [site_id], now)

    def _read(self, site_id: str, site: Site, blob_id: str) -> bytes | None:
        try:
            return b"".join(site.get(blob_id))
        except SiteError as exc:
            self._report.problems.append(f"manifest {blob_id} on {site_id} is unreadable: {exc}")
            return None

    def _decrypt(self, site_id: str, blob_id: str, data: bytes) -> Manifest | None:
        try:
            return read_manifest(data, self._ctx.keyring.identities)
        except CryptoError as exc:
            self._report.problems.append(f"manifest {blob_id} on {site_id} is unreadable: {exc}")
            return None

    def _same_as_held(
        self, blob_id: str, where: Sequence[str], data: bytes
    ) -> tuple[Version, list[Segment]] | None:
        """The version and its segments as restored, when ``data`` is byte for byte the
        manifest it was restored from (decrypted then); else None. An inline manifest (the
        object's one segment) is compared by its SHA-256, which the catalog holds; another
        is compared with a copy read from a site holding it."""
        vid = blob_id[len(MANIFEST_PREFIX) :]
        catalog = self._ctx.catalog
        segments = catalog.segments(vid)
        inline = [g for g in segments if g.blob_id == blob_id]
        if inline:
            if hashlib.sha256(data).hexdigest() != inline[0].ciphertext_sha256:
                return None
            try:
                return catalog.get_version(vid), segments
            except ObjectNotFound:
                return None
        for other in where:
            site = self._sites.get(other)
            if site is None:
                continue
            try:
                if b"".join(site.get(blob_id)) == data:
                    return catalog.get_version(vid), segments
            except (SiteError, ObjectNotFound):
                continue
        return None

    def _ensure_bucket(self, manifest: Manifest) -> None:
        if manifest.bucket in self._buckets:
            return
        try:
            self._ctx.catalog.get_bucket(manifest.bucket)
        except BucketNotFound:
            self._ctx.catalog.create_bucket(manifest.bucket, manifest.policy, manifest.tenant)
            self._report.buckets_created.append(manifest.bucket)
        self._buckets.add(manifest.bucket)


def _complete(  # noqa: PLR0917 (the copy, and the manifest blob just read)
    site: Site,
    blobs: Sequence[tuple[str, int]],
    site_id: str,
    name: str,
    report: RebuildReport,
    manifest_blob: str,
    data: bytes,
) -> bool:
    """Whether ``site`` holds every segment blob at its recorded size (``name``: the
    object, for the problems). The manifest blob just read (``data``), when it is the
    object's one segment (inline), is not asked for again."""
    for blob, want in blobs:
        try:
            size = len(data) if blob == manifest_blob else site.head(blob).size
        except SiteError as exc:
            report.problems.append(f"{name} on {site_id}: {exc}")
            return False
        if size != want:
            report.problems.append(
                f"{name} on {site_id}: blob {blob} is {size} bytes, its manifest says {want}"
            )
            return False
    return True
