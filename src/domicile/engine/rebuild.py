"""Rebuild a lost catalog from the sites' manifests and the keyring alone.

Every readable site is listed for manifests (blob ids starting with ``m``); each manifest
is decrypted with the keyring and names its bucket, policy, tenant, key, metadata and
segments (an inline manifest's blob is its object's only segment). A version is restored
with a placement on every site that holds its manifest and all of its segments at their
recorded sizes. A key's versions are restored oldest first (by their manifests'
``created_at``), so the newest is current: every version that has its own S3 id (written
while the bucket's versioning was enabled) and every delete marker (its manifest is its
durable record), and the newest *null* version; an older null version was replaced (its
blobs not yet collected) and is reported as superseded: its blobs are orphans for the
sweep. A bucket's versioning status is the one its newest manifest written under a status
names (a status changed after the bucket's last write is not on the sites: see
docs/catalog.md).

The versions found are spooled to a temporary SQLite file
(:mod:`domicile.engine.rebuildspool`) and restored a key at a time, :data:`BATCH` versions
per catalog transaction, so memory does not grow with the deployment. Each site's listing
is read as it is walked; a manifest whose bytes another site already gave is not decrypted
again.

The audit history comes back first, from the sites' ``alog-`` segments
(:func:`domicile.engine.audithistory.restore`): every record up to the newest checkpoint
signed on the sites, verified link by link before any is inserted.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from domicile.catalog import BucketKey, Placement, Segment, Version, VersionLock
from domicile.crypto import Identity
from domicile.engine.audithistory import restore
from domicile.engine.bucketkeys import KEY_PREFIX, kind_of, parse_key_blob_id
from domicile.engine.context import EngineContext
from domicile.engine.manifest import MANIFEST_PREFIX, Manifest, catalog_records, read_manifest
from domicile.engine.rebuildspool import FoundSpool
from domicile.errors import BucketNotFound, CatalogError, CryptoError, SiteError
from domicile.sites import Site

Progress = Callable[[int], None]

#: Versions restored per catalog transaction.
BATCH = 500


@dataclass
class RebuildReport:
    audit_records: int = 0
    audit_checkpoints: int = 0
    bucket_keys: int = 0
    manifests: int = 0
    versions: int = 0
    placements: int = 0
    buckets_created: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def rebuild_catalog(ctx: EngineContext, *, progress: Progress | None = None) -> RebuildReport:
    """Fill an empty catalog from the manifests on the sites; refuse a non-empty one."""
    if any(True for _ in ctx.catalog.iter_versions()):
        raise CatalogError(
            "the catalog is not empty; rebuilding would mix two histories",
            hint="point [deployment] catalog at a new, empty file and run it again",
        )
    report = RebuildReport()
    readable = {
        sid: site
        for sid, site in sorted(ctx.sites.items())
        if (spec := ctx.world.sites.get(sid)) is not None and spec.status.readable
    }
    if ctx.audit is not None:
        history = restore(ctx.catalog, readable, ctx.keyring.identities, ctx.audit.public_key)
        report.audit_records, report.audit_checkpoints = history.records, history.checkpoints
        report.problems += history.problems
    with FoundSpool() as found:
        identities = [*_restore_keys(ctx, readable, report), *ctx.keyring.identities]
        _scan(readable, ctx, report, progress, found, identities=identities)
        versioning = _Versioning()
        pending: list[tuple[Version, list[Segment], list[Placement]]] = []
        for versions in found.by_key():  # a key at a time: memory does not grow with keys
            versioning.add(versions)
            kept = _kept(versions, report)
            _ensure_bucket(ctx, kept[-1][0], report)
            for manifest, sites in kept:  # oldest first: each commit makes the next current
                if manifest.meta.locked:  # its lock first, as a write does
                    ctx.catalog.commit_versions(pending)
                    pending = []
                    _lock(ctx, manifest, sites)
                pending.append(catalog_records(manifest, sorted(sites), time.time()))
                report.versions += 1
                report.placements += len(sites)
            if len(pending) >= BATCH:
                ctx.catalog.commit_versions(pending)
                pending = []
        ctx.catalog.commit_versions(pending)
        versioning.apply(ctx)
    return report


def _kept(
    versions: list[tuple[Manifest, list[str]]], report: RebuildReport
) -> list[tuple[Manifest, list[str]]]:
    """A key's versions to restore, oldest first: every version with its own S3 id
    (written while versioning was enabled; delete markers too) and the newest null
    version; an older null version was replaced, its blobs not yet collected."""
    ordered = sorted(versions, key=lambda m: (m[0].created_at, m[0].version_id))
    nulls = [m for m, _ in ordered if m.null_version]
    kept = []
    for manifest, sites in ordered:
        if manifest.null_version and manifest is not nulls[-1]:
            report.superseded.append(manifest.version_id)
        else:
            kept.append((manifest, sites))
    return kept


class _Versioning:
    """Each bucket's versioning status as its newest manifest that knew one says."""

    def __init__(self) -> None:
        self._newest: dict[str, Manifest] = {}

    def add(self, found: Iterable[tuple[Manifest, list[str]]]) -> None:
        for manifest, _ in found:
            other = self._newest.get(manifest.bucket)
            if manifest.versioning is not None and (
                other is None or manifest.created_at > other.created_at
            ):
                self._newest[manifest.bucket] = manifest

    def apply(self, ctx: EngineContext) -> None:
        for bucket, manifest in sorted(self._newest.items()):
            assert manifest.versioning is not None
            ctx.catalog.set_versioning(bucket, manifest.versioning)


def _restore_keys(
    ctx: EngineContext, sites: dict[str, Site], report: RebuildReport
) -> list[Identity]:
    """Every bucket identity whose copy (``bkey-``) is on a site, back in the catalog;
    returns them unwrapped (they read the manifests of their buckets)."""
    found: dict[tuple[str, int], bytes] = {}
    holders: dict[tuple[str, int], list[str]] = {}
    for site_id, site in sites.items():
        try:
            for info in site.list(KEY_PREFIX):
                slot = parse_key_blob_id(info.blob_id)
                if slot is None:
                    continue
                holders.setdefault(slot, []).append(site_id)
                if slot not in found:
                    found[slot] = b"".join(site.get(info.blob_id))
        except SiteError as exc:
            report.problems.append(f"site {site_id}: bucket keys not read: {exc}")
    identities: list[Identity] = []
    assert ctx.bucket_keys is not None
    for (bucket, version), wrapped in sorted(found.items()):
        try:
            identity = ctx.bucket_keys.unwrap(wrapped)
        except CryptoError as exc:
            report.problems.append(f"bucket key {bucket} v{version} is unreadable: {exc}")
            continue
        kind = kind_of(identity.recipient.post_quantum)
        recipient = str(identity.recipient)
        sites_of = tuple(holders[bucket, version])
        ctx.catalog.add_bucket_key(BucketKey(bucket, version, kind, recipient, wrapped, sites_of))
        report.bucket_keys += 1
        identities.append(identity)
    return identities


def _scan(
    sites: dict[str, Site],
    ctx: EngineContext,
    report: RebuildReport,
    progress: Progress | None,
    found: FoundSpool,
    *,
    identities: Sequence[Identity],
) -> None:
    """Every complete version found on the sites, into ``found`` (manifest, its sites).

    Each site's listing is read as it is walked. A manifest blob byte for byte the one
    already decrypted for its version (the same copy on another site) is not decrypted
    again; one that differs (a lock change that reached some sites only) is."""
    for site_id, site in sites.items():  # a version's strongest lock wins (see _stronger)
        try:
            for info in site.list(MANIFEST_PREFIX):
                report.manifests += 1
                _take(ctx, site_id, site, info.blob_id, report, found, identities=identities)
                if progress is not None:
                    progress(1)
        except SiteError as exc:
            report.problems.append(f"site {site_id} could not be listed: {exc}")


def _take(  # noqa: PLR0917 (one manifest, and what the scan gathered so far)
    ctx: EngineContext,
    site_id: str,
    site: Site,
    blob_id: str,
    report: RebuildReport,
    found: FoundSpool,
    *,
    identities: Sequence[Identity],
) -> None:
    """Read the manifest ``blob_id`` of ``site`` into ``found`` if its copy is complete."""
    data = _read_blob(ctx, site_id, blob_id, report)
    if data is None:
        return
    digest = hashlib.sha256(data).hexdigest()
    vid = blob_id[len(MANIFEST_PREFIX) :]
    if found.digest(vid) == digest:  # the very manifest kept: no decrypting, no comparing
        kept = found.manifest(vid)
        if _complete(site, kept, site_id, report, blob_id, len(data)):
            found.add_site(vid, site_id)
        return
    manifest = _decrypt(site_id, blob_id, data, report, identities)
    if manifest is None or not _complete(site, manifest, site_id, report, blob_id, len(data)):
        return
    found.add(manifest, site_id, digest, _stronger)


def _stronger(one: Manifest, other: Manifest) -> bool:
    """Whether ``one`` records a stronger lock than ``other`` (copies of one manifest differ
    when a lock change reached some sites only): a legal hold, then the later date."""
    a, b = one.meta, other.meta
    return (a.legal_hold, a.lock_until or 0.0) > (b.legal_hold, b.lock_until or 0.0)


def _read_blob(
    ctx: EngineContext, site_id: str, blob_id: str, report: RebuildReport
) -> bytes | None:
    try:
        return b"".join(ctx.site(site_id).get(blob_id))
    except SiteError as exc:
        report.problems.append(f"manifest {blob_id} on {site_id} is unreadable: {exc}")
        return None


def _decrypt(
    site_id: str,
    blob_id: str,
    data: bytes,
    report: RebuildReport,
    identities: Sequence[Identity],
) -> Manifest | None:
    try:
        return read_manifest(data, identities)
    except CryptoError as exc:
        report.problems.append(f"manifest {blob_id} on {site_id} is unreadable: {exc}")
        return None


def _complete(  # noqa: PLR0917 (the copy, and the manifest blob just read)
    site: Site,
    manifest: Manifest,
    site_id: str,
    report: RebuildReport,
    manifest_blob: str,
    manifest_size: int,
) -> bool:
    """Whether ``site`` holds every segment at its recorded size; the manifest blob just
    read (``manifest_size`` bytes), an inline object's one segment, is not asked again."""
    for seg in manifest.segments:
        try:
            size = manifest_size if seg.blob_id == manifest_blob else site.head(seg.blob_id).size
        except SiteError as exc:
            report.problems.append(f"{manifest.bucket}/{manifest.key} on {site_id}: {exc}")
            return False
        if size != seg.ciphertext_length:
            report.problems.append(
                f"{manifest.bucket}/{manifest.key} on {site_id}: blob {seg.blob_id} is "
                f"{size} bytes, its manifest says {seg.ciphertext_length}"
            )
            return False
    return True


def _ensure_bucket(ctx: EngineContext, manifest: Manifest, report: RebuildReport) -> None:
    try:
        ctx.catalog.get_bucket(manifest.bucket)
    except BucketNotFound:
        ctx.catalog.create_bucket(manifest.bucket, manifest.policy, manifest.tenant)
        report.buckets_created.append(manifest.bucket)
    if manifest.bucket_lock is not None and ctx.catalog.bucket_lock(manifest.bucket) is None:
        ctx.catalog.set_bucket_lock(manifest.bucket_lock)


def _lock(ctx: EngineContext, manifest: Manifest, sites: list[str]) -> None:
    """Lock the version before it is committed: never restored unlocked."""
    meta = manifest.meta
    lock = VersionLock(
        manifest.version_id, meta.lock_mode, meta.lock_until, meta.legal_hold, len(sites)
    )
    ctx.catalog.lock_new_version(lock)
