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

The audit history comes back first, from the sites' ``alog-`` segments
(:func:`domicile.engine.audithistory.restore`): every record up to the newest checkpoint
signed on the sites, verified link by link before any is inserted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from domicile.catalog import BucketKey, VersionLock
from domicile.crypto import Identity
from domicile.engine.audithistory import restore
from domicile.engine.bucketkeys import KEY_PREFIX, kind_of, parse_key_blob_id
from domicile.engine.context import EngineContext
from domicile.engine.manifest import MANIFEST_PREFIX, Manifest, catalog_records, read_manifest
from domicile.errors import BucketNotFound, CatalogError, CryptoError, SiteError
from domicile.sites import Site

Progress = Callable[[int], None]


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
    identities = [*_restore_keys(ctx, readable, report), *ctx.keyring.identities]
    found = _scan(readable, ctx, identities, report, progress)
    keys: dict[tuple[str, str], list[tuple[Manifest, list[str]]]] = {}
    for manifest, sites in found.values():
        keys.setdefault((manifest.bucket, manifest.key), []).append((manifest, sites))
    for slot in sorted(keys):
        kept = _kept(keys[slot], report)
        _ensure_bucket(ctx, kept[-1][0], report)
        for manifest, sites in kept:  # oldest first: each commit makes the next current
            _restore(ctx, manifest, sites)
            report.versions += 1
            report.placements += len(sites)
    _restore_versioning(ctx, found.values())
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


def _restore_versioning(ctx: EngineContext, found: Iterable[tuple[Manifest, list[str]]]) -> None:
    """Each bucket's versioning status as its newest manifest that knew one says."""
    newest: dict[str, Manifest] = {}
    for manifest, _ in found:
        other = newest.get(manifest.bucket)
        if manifest.versioning is not None and (
            other is None or manifest.created_at > other.created_at
        ):
            newest[manifest.bucket] = manifest
    for bucket, manifest in sorted(newest.items()):
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
        key = BucketKey(
            bucket, version, kind, str(identity.recipient), wrapped, tuple(holders[bucket, version])
        )
        ctx.catalog.add_bucket_key(key)
        report.bucket_keys += 1
        identities.append(identity)
    return identities


def _scan(
    sites: dict[str, Site],
    ctx: EngineContext,
    identities: Sequence[Identity],
    report: RebuildReport,
    progress: Progress | None,
) -> dict[str, tuple[Manifest, list[str]]]:
    """Every complete version found on the sites: version id -> (manifest, its sites)."""
    found: dict[str, tuple[Manifest, list[str]]] = {}
    for site_id, site in sites.items():  # a version's strongest lock wins (see _stronger)
        try:
            infos = list(site.list(MANIFEST_PREFIX))
        except SiteError as exc:
            report.problems.append(f"site {site_id} could not be listed: {exc}")
            continue
        for info in infos:
            report.manifests += 1
            manifest = _read_manifest(ctx, site_id, info.blob_id, identities, report)
            if manifest is not None and _complete(site, manifest, site_id, report):
                seen = found.setdefault(manifest.version_id, (manifest, []))
                seen[1].append(site_id)
                if _stronger(manifest, seen[0]):
                    found[manifest.version_id] = (manifest, seen[1])
            if progress is not None:
                progress(1)
    return found


def _stronger(one: Manifest, other: Manifest) -> bool:
    """Whether ``one`` records a stronger lock than ``other`` (copies of one manifest differ
    when a lock change reached some sites only): a legal hold, then the later date."""
    a, b = one.meta, other.meta
    return (a.legal_hold, a.lock_until or 0.0) > (b.legal_hold, b.lock_until or 0.0)


def _read_manifest(
    ctx: EngineContext,
    site_id: str,
    blob_id: str,
    identities: Sequence[Identity],
    report: RebuildReport,
) -> Manifest | None:
    try:
        return read_manifest(b"".join(ctx.site(site_id).get(blob_id)), identities)
    except (SiteError, CryptoError) as exc:
        report.problems.append(f"manifest {blob_id} on {site_id} is unreadable: {exc}")
        return None


def _complete(site: Site, manifest: Manifest, site_id: str, report: RebuildReport) -> bool:
    for seg in manifest.segments:
        try:
            size = site.head(seg.blob_id).size
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


def _restore(ctx: EngineContext, manifest: Manifest, sites: list[str]) -> None:
    records = catalog_records(manifest, sorted(sites), time.time())
    meta = manifest.meta
    if meta.locked:  # before the commit, as a write does: never restored unlocked
        lock = VersionLock(
            manifest.version_id, meta.lock_mode, meta.lock_until, meta.legal_hold, len(sites)
        )
        ctx.catalog.lock_new_version(lock)
    ctx.catalog.commit_version(*records)
