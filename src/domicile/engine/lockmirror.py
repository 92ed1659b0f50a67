"""Locks mirrored at the store: ``[sites.<id>] lock = "mirror"`` (docs/object-lock.md).

On a mirror site (an S3 bucket with Object Lock), every blob of a locked version is also
locked at the provider, with the version's retention and legal hold, so that the site's own
credentials cannot delete it before its retention ends. :func:`check_sites` runs when the
deployment opens: a mirror site whose store cannot lock (another backend, a bucket without
Object Lock) is a ConfigError, never a silent downgrade. :func:`mirror_version` runs after a
locked version is written and after its lock changes; :func:`mirror_all` after ``apply``
and ``repair`` (which may have copied locked versions to a mirror site), so no engine path
that adds a copy needs to know about it. A mirror that fails (the site down) is reported
and done again by the next ``apply`` or ``repair``; it never fails the write, whose lock
is already in the catalog and the manifests.
"""

from __future__ import annotations

import logging
import time

from domicile.catalog import VersionLock, version_blobs
from domicile.engine.context import EngineContext
from domicile.errors import ConfigError, ObjectNotFound, SiteError, SiteUnavailable
from domicile.sites import LocksBlobs

_log = logging.getLogger("domicile.lock")


def mirror_sites(ctx: EngineContext) -> set[str]:
    return {sid for sid, spec in ctx.world.sites.items() if spec.lock == "mirror"}


def check_sites(ctx: EngineContext) -> None:
    """ConfigError for a mirror site that cannot lock blobs; a site unreachable now is
    checked when it is next used (logged)."""
    for sid in sorted(mirror_sites(ctx)):
        site = ctx.site(sid)
        if not isinstance(site, LocksBlobs):
            raise ConfigError(
                f'site {sid} cannot lock blobs (lock = "mirror")',
                hint='use lock = "mirror" only on an S3 site whose bucket has Object Lock',
                key=f"sites.{sid}.lock",
            )
        try:
            site.check_locking()
        except SiteUnavailable as exc:
            _log.warning("site %s: Object Lock not checked, unreachable: %s", sid, exc)


def mirror_version(
    ctx: EngineContext, version_id: str, lock: VersionLock | None = None
) -> list[str]:
    """Lock the blobs of ``version_id`` on its mirror sites; the problems (empty: done)."""
    mirrors = mirror_sites(ctx)
    if not mirrors:
        return []
    lock = lock or ctx.catalog.version_lock(version_id)
    if lock is None or not lock.locked(time.time()):
        return []
    held = [p.site_id for p in ctx.catalog.placements(version_id) if p.site_id in mirrors]
    if not held:
        return []
    try:
        version = ctx.catalog.get_version(version_id)
    except ObjectNotFound:  # gone meanwhile: nothing to lock
        return []
    blobs = version_blobs(version, ctx.catalog.segments(version_id))
    problems = []
    for sid in held:
        site = ctx.site(sid)
        assert isinstance(site, LocksBlobs)  # check_sites made sure
        for blob in blobs:
            try:
                site.lock_blob(blob, lock.mode, lock.retain_until, lock.legal_hold)
            except (SiteError, ConfigError) as exc:
                problems.append(f"{sid}: {blob}: {exc}")
                _log.warning("site %s: blob %s not locked at the store: %s", sid, blob, exc)
                break
    return problems


def mirror_all(ctx: EngineContext) -> list[str]:
    """:func:`mirror_version` for every version whose lock is in force."""
    if not mirror_sites(ctx):
        return []
    problems: list[str] = []
    for lock in ctx.catalog.locked_versions(time.time()):
        problems += mirror_version(ctx, lock.version_id, lock)
    return problems
