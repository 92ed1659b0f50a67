"""Repair: restore every version's copy count from its healthy copies.

For each version: copies with open read faults are re-verified (full hash) first; the
copies still ``ok`` on readable sites that the policy still allows are *held*; the
placement decision (the same one PUT uses, so residency is never traded for
availability) picks the sites that complete the count, keeping first the sites whose copy
went bad (``corrupt`` or ``missing``) when they are still compliant, active and healthy:
such a copy is rewritten in place. Ciphertext is copied byte for byte from a held copy —
never decrypted — and its SHA-256 is checked while it streams and again once it landed,
so a bad source cannot plant a bad copy. Then the placement is recorded and the copy's
faults resolved. Once a version holds its policy's count of good, compliant copies, every
bad copy left (one whose site could not take the rewrite) is removed: its placement goes
and its blobs are queued as garbage, so that ``verify`` passes and the count is exact. A
version whose policy can no longer be met is reported, not moved, and keeps its bad
copies' records (they say what was lost where).

One repair per scope at a time (a lease, as ``apply`` takes: ``engine/leasing.py``); a
copy written to a site first cancels the queued deletions of its blobs there
(``garbage.reclaim``), and a bad copy is dropped only while the version still holds its
count of good copies, decided in the removing transaction.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from domicile.catalog import Placement, Segment, Version, inline_manifest
from domicile.engine.blobs import hash_blob
from domicile.engine.context import EngineContext
from domicile.engine.garbage import reclaim
from domicile.engine.leasing import Holding
from domicile.engine.locking import refused
from domicile.engine.throttle import Throttle
from domicile.engine.verify import Level, VerifyReport, verify_copy
from domicile.errors import CryptoError, ObjectLocked, ObjectNotFound, SiteError
from domicile.policy import check_copy, decide
from domicile.sites import Site

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class CopyAdded:
    bucket: str
    key: str
    site_id: str
    source: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Unrepairable:
    bucket: str
    key: str
    reason: str


@dataclass(frozen=True, slots=True)
class CopyRemoved:
    """A bad copy dropped once the version held its count of good copies elsewhere."""

    bucket: str
    key: str
    site_id: str
    state: str


@dataclass
class RepairReport:
    versions: int = 0
    added: list[CopyAdded] = field(default_factory=list)
    removed: list[CopyRemoved] = field(default_factory=list)
    unrepairable: list[Unrepairable] = field(default_factory=list)


class BlobMismatch(CryptoError):
    """A copied blob's SHA-256 or size differs from what the catalog recorded."""


def repair(
    ctx: EngineContext, *, bucket: str | None = None, progress: Progress | None = None
) -> RepairReport:
    """Restore the copy count of every version (of ``bucket``, or of all buckets).
    LeaseHeld while another repair runs on an overlapping scope."""
    report = RepairReport()
    with Holding(ctx, "repair", bucket) as held:
        for version in ctx.catalog.iter_versions(bucket):
            held.check()
            report.versions += 1
            _repair_version(ctx, version, report)
            if progress is not None:
                progress(1)
    return report


def _repair_version(ctx: EngineContext, version: Version, report: RepairReport) -> None:
    vid = version.version_id
    segments = ctx.catalog.segments(vid)
    suspects = {f.site_id for f in ctx.catalog.open_faults(version_id=vid)}
    for site_id in sorted(suspects):
        verify_copy(ctx, Level.FULL, version, segments, site_id, report=VerifyReport("full"))
    placements = {p.site_id: p for p in ctx.catalog.placements(vid)}
    policy = ctx.policy(ctx.catalog.get_bucket(version.bucket).policy)
    good = [s for s, p in placements.items() if p.state == "ok" and _readable(ctx, s)]
    held = [s for s in good if check_copy(policy, ctx.world, s).accepted]
    if len(held) >= policy.copies:
        _drop_bad_copies(
            ctx, version, policy=policy.name, held=held, copies=policy.copies, report=report
        )
        return
    if not good:
        report.unrepairable.append(
            Unrepairable(version.bucket, version.key, "no healthy copy is left to copy from")
        )
        return
    # A bad copy on a site that may still hold it is rewritten there rather than replaced
    # elsewhere: the rendezvous ranking (seeded by the version id) need not pick that site
    # again (a multipart upload's sites were ranked by its upload id).
    in_place = [
        s
        for s, p in sorted(placements.items())
        if p.state != "ok"
        and _readable(ctx, s)
        and ctx.health.healthy(s)
        and check_copy(policy, ctx.world, s).accepted
    ]
    decision = decide(
        policy,
        ctx.world,
        ctx.health.snapshot(ctx.world.sites),
        held=held + in_place,
        spread=vid,
    )
    if not decision.ok:
        report.unrepairable.append(
            Unrepairable(
                version.bucket,
                version.key,
                f"policy {policy.name} cannot be met: {decision.missing} more copies needed "
                "and no compliant, healthy site is free ('domicile policy explain')",
            )
        )
        return
    for target in [s for s in decision.chosen if s not in held]:
        try:
            copied = _copy_version(ctx, version, segments, good, target)
        except ObjectNotFound:
            return  # replaced or deleted meanwhile: nothing left to repair
        except (SiteError, CryptoError) as exc:
            report.unrepairable.append(
                Unrepairable(version.bucket, version.key, f"copy to {target} failed: {exc}")
            )
            continue
        source, nbytes = copied
        if target in placements:
            ctx.catalog.set_placement_state(vid, target, "ok", _now())
        else:
            try:
                ctx.catalog.add_placement(Placement(vid, target, "ok", _now(), _now()))
            except ObjectNotFound:
                return  # replaced or deleted while it was copied (the sweep takes the blobs)
        held.append(target)
        ctx.catalog.resolve_faults(vid, target)
        ctx.record(
            "placement_added",
            bucket=version.bucket,
            key=version.key,
            version=vid,
            sites=(target,),
            policy=policy.name,
            detail={"source": source, "reason": "repair"},
        )
        report.added.append(CopyAdded(version.bucket, version.key, target, source, nbytes))
    if len(held) >= policy.copies:
        _drop_bad_copies(
            ctx, version, policy=policy.name, held=held, copies=policy.copies, report=report
        )


def _drop_bad_copies(
    ctx: EngineContext,
    version: Version,
    *,
    policy: str,
    held: list[str],
    copies: int,
    report: RepairReport,
) -> None:
    """Remove the placements of ``version`` that are not ``ok`` (their blobs are queued as
    garbage in the same transaction) while ``copies`` good ones remain on ``held`` sites."""
    for placement in ctx.catalog.placements(version.version_id):
        if placement.state == "ok":
            continue
        try:
            outcome = ctx.catalog.remove_placement(
                version.version_id, placement.site_id, counted=held, at_least=copies
            )
        except ObjectLocked as exc:  # Object Lock keeps it (catalog/objectlocks.py)
            refused(ctx, exc, "placement_kept")
            continue
        if outcome != "removed":
            continue
        ctx.catalog.resolve_faults(version.version_id, placement.site_id)
        ctx.record(
            "placement_removed",
            bucket=version.bucket,
            key=version.key,
            version=version.version_id,
            sites=(placement.site_id,),
            policy=policy,
            detail={"reason": f"repair: copy is {placement.state}, replaced elsewhere"},
        )
        report.removed.append(
            CopyRemoved(version.bucket, version.key, placement.site_id, placement.state)
        )


def _copy_version(
    ctx: EngineContext, version: Version, segments: list[Segment], sources: list[str], target: str
) -> tuple[str, int]:
    """Copy every blob of ``version`` to ``target`` from the first source that works."""
    reclaim(ctx, version.version_id, target)  # its blobs may be queued there for deletion
    last: Exception | None = None
    for source in sources:
        try:
            total = 0
            src, dst = ctx.site(source), ctx.site(target)
            for segment in segments:
                total += copy_blob(
                    src, dst, segment.blob_id, segment.ciphertext_sha256, segment.ciphertext_length
                )
            if not inline_manifest(version, segments):
                dst.put(version.manifest_blob_id, _chunks(src, version.manifest_blob_id))
        except (SiteError, CryptoError) as exc:
            last = exc
            continue
        return source, total
    assert last is not None
    raise last


def copy_blob(
    src: Site,
    dst: Site,
    blob_id: str,
    sha256: str,
    size: int,
    *,
    throttle: Throttle | None = None,
) -> int:
    """Stream ``blob_id`` from ``src`` to ``dst``, checking size and hash before it lands,
    then read the copy back from ``dst`` and check its hash again."""

    def checked() -> Iterator[bytes]:
        digest = hashlib.sha256()
        seen = 0
        for piece in src.get(blob_id):
            if throttle is not None:
                throttle.consume(len(piece))
            digest.update(piece)
            seen += len(piece)
            yield piece
        if seen != size or digest.hexdigest() != sha256:
            raise BlobMismatch(
                f"blob {blob_id} from {src.site_id} does not match the catalog",
                site=src.site_id,
                hint="run 'domicile verify --level full' to mark the bad copy",
            )

    written = dst.put(blob_id, checked())
    if hash_blob(dst, blob_id) != sha256:
        raise BlobMismatch(
            f"the copy of blob {blob_id} on {dst.site_id} does not read back as written",
            site=dst.site_id,
            hint="the target site is losing or altering data; suspend it ('domicile sites "
            "set-status')",
        )
    return written


def _chunks(site: Site, blob_id: str) -> Iterator[bytes]:
    yield from site.get(blob_id)


def _readable(ctx: EngineContext, site_id: str) -> bool:
    spec = ctx.world.sites.get(site_id)
    return spec is not None and spec.status.readable and site_id in ctx.sites


def _now() -> float:
    return time.time()
