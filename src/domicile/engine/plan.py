"""Plan and apply: make every copy comply with what its policy demands today.

:func:`make_plan` compares each version's copies with its policy, given each site's
status, health, operator and the registry — a dry run that changes nothing. It lists
copies to add (with the source they are copied from), copies to remove (on a site the
policy now refuses, a draining/suspended/retired site, or beyond the count), and the
versions that cannot be made compliant, with why.

:func:`apply_plan` carries it out, version by version: copy the ciphertext byte for byte
(hash-checked while it streams), write the manifest, record the placement, and only then
remove the copies that must go (their blobs are queued for deletion in the same
transaction). Every step is idempotent and the plan is recomputed from the catalog, so an
apply killed at any instant is resumed by running it again: nothing is lost, duplicated,
or left on a refused site.
"""

from __future__ import annotations

import contextvars
import secrets
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from domicile.catalog import Placement, Version, inline_manifest
from domicile.engine.context import EngineContext
from domicile.engine.garbage import collect_garbage
from domicile.engine.locking import refused
from domicile.engine.repair import copy_blob
from domicile.engine.throttle import Throttle
from domicile.errors import CryptoError, ObjectLocked, SiteError
from domicile.policy import Policy, check_copy, decide

Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class Step:
    """One change to one copy: ``add`` (from ``source``) or ``remove``."""

    action: str
    bucket: str
    key: str
    version_id: str
    site_id: str
    source: str | None
    bytes: int
    reason: str
    violation: bool = False


@dataclass(frozen=True, slots=True)
class Blocked:
    bucket: str
    key: str
    version_id: str
    reason: str


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    versions: int = 0

    @property
    def adds(self) -> list[Step]:
        return [s for s in self.steps if s.action == "add"]

    @property
    def removes(self) -> list[Step]:
        return [s for s in self.steps if s.action == "remove"]

    @property
    def violations(self) -> list[Step]:
        return [s for s in self.steps if s.violation]

    def routes(self) -> dict[str, int]:
        """Bytes to copy per ``source -> target``."""
        out: dict[str, int] = defaultdict(int)
        for s in self.adds:
            out[f"{s.source} -> {s.site_id}"] += s.bytes
        return dict(sorted(out.items()))

    @property
    def empty(self) -> bool:
        return not self.steps and not self.blocked


@dataclass
class ApplyReport:
    added: int = 0
    removed: int = 0
    bytes_copied: int = 0
    failed: list[str] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    interrupted: int = 0


def make_plan(ctx: EngineContext, *, bucket: str | None = None) -> Plan:
    """What must change for every copy to comply; changes nothing."""
    plan = Plan()
    for version in ctx.catalog.iter_versions(bucket):
        plan.versions += 1
        steps, blocked = _plan_version(ctx, version)
        plan.steps += steps
        if blocked is not None:
            plan.blocked.append(blocked)
    return plan


def _plan_version(ctx: EngineContext, version: Version) -> tuple[list[Step], Blocked | None]:
    vid = version.version_id
    policy = ctx.policy(ctx.catalog.get_bucket(version.bucket).policy)
    placements = {p.site_id: p for p in ctx.catalog.placements(vid)}
    verdicts = {s: check_copy(policy, ctx.world, s) for s in placements}
    ok = [s for s, p in placements.items() if p.state == "ok"]
    held = [s for s in ok if verdicts[s].accepted]
    sources = [s for s in ok if _readable(ctx, s)]
    sources.sort(key=lambda s: (not verdicts[s].accepted, not ctx.health.healthy(s), s))
    size = sum(seg.ciphertext_length for seg in ctx.catalog.segments(vid))
    decision = decide(
        policy, ctx.world, ctx.health.snapshot(ctx.world.sites), held=held, spread=vid
    )
    targets = list(decision.selected)
    steps: list[Step] = []
    blocked = None

    def step(action: str, site: str, source: str | None, reason: str, violation: bool) -> Step:
        return Step(action, version.bucket, version.key, vid, site, source, size, reason, violation)

    if not sources:
        return [], Blocked(version.bucket, version.key, vid, "no readable copy to copy from")
    if not decision.ok:
        blocked = Blocked(
            version.bucket,
            version.key,
            vid,
            f"policy {policy.name} needs {policy.copies} copies; only {len(targets)} compliant "
            "sites are available ('domicile policy explain' for each site's reason)",
        )
    for site in targets:
        if site not in held:
            steps.append(step("add", site, sources[0], _why_add(policy, held), False))
    for site, placement in sorted(placements.items()):
        if site in targets:
            continue
        verdict = verdicts[site]
        residency = any(r.residency for r in verdict.reasons)
        if not decision.ok and not residency:
            continue  # never reduce copies of an object that is already short
        if residency and not targets:
            continue  # never delete the last copies: reported as blocked
        reason = "; ".join(r.text for r in verdict.reasons) or (
            f"not needed: {policy.copies} copies are enough"
            if placement.state == "ok"
            else f"copy is {placement.state}"
        )
        steps.append(step("remove", site, None, reason, residency))
    return steps, blocked


def _why_add(policy: Policy, held: list[str]) -> str:
    return f"policy {policy.name} needs {policy.copies} compliant copies; {len(held)} held"


def apply_plan(
    ctx: EngineContext,
    plan: Plan,
    *,
    progress: Progress | None = None,
    concurrency: int = 4,
    bandwidth: float | None = None,
) -> ApplyReport:
    """Carry out ``plan``: per version adds first, then removes; ``concurrency`` versions
    at a time, all copies together within ``bandwidth`` bytes/s. Each step is a job in the
    catalog; pending jobs of an earlier, interrupted apply are marked ``interrupted``."""
    report = ApplyReport(blocked=list(plan.blocked))
    run_id = secrets.token_hex(8)
    job_ids, report.interrupted = ctx.catalog.start_jobs(
        run_id,
        [
            {
                "action": s.action,
                "version_id": s.version_id,
                "site_id": s.site_id,
                "source": s.source,
                "bytes": s.bytes,
            }
            for s in plan.steps
        ],
    )
    by_version: dict[str, list[tuple[int, Step]]] = defaultdict(list)
    for job_id, s in zip(job_ids, plan.steps, strict=True):
        by_version[s.version_id].append((job_id, s))
    throttle = Throttle(bandwidth)
    lock = threading.Lock()
    with ThreadPoolExecutor(max(1, concurrency), "domicile-apply") as pool:
        futures = [
            pool.submit(
                contextvars.copy_context().run,  # the audit actor follows the work
                _apply_version,
                ctx,
                steps,
                throttle=throttle,
                report=report,
                lock=lock,
                progress=progress,
            )
            for steps in by_version.values()
        ]
        for fut in futures:
            fut.result()
    collect_garbage(ctx)
    return report


def _apply_version(
    ctx: EngineContext,
    steps: list[tuple[int, Step]],
    *,
    throttle: Throttle,
    report: ApplyReport,
    lock: threading.Lock,
    progress: Progress | None,
) -> None:
    added_ok = True
    for job_id, s in steps:
        if s.action != "add":
            continue
        try:
            _add(ctx, s, throttle)
        except (SiteError, CryptoError) as exc:
            added_ok = False
            ctx.catalog.finish_job(job_id, "failed", f"{type(exc).__name__}: {exc}")
            with lock:
                report.failed.append(f"{s.bucket}/{s.key}: copy to {s.site_id} failed: {exc}")
            continue
        ctx.catalog.finish_job(job_id, "done")
        ctx.record(
            "placement_added",
            bucket=s.bucket,
            key=s.key,
            version=s.version_id,
            sites=(s.site_id,),
            detail={"source": s.source or "", "job": job_id, "reason": s.reason[:200]},
        )
        with lock:
            report.added += 1
            report.bytes_copied += s.bytes
        if progress is not None:
            progress(s.bytes)
    for job_id, s in steps:
        if s.action != "remove":
            continue
        if not added_ok and not s.violation:
            ctx.catalog.finish_job(job_id, "failed", "kept until its replacement exists")
            continue  # keep the extra copy until its replacement exists
        try:
            ctx.catalog.remove_placement(s.version_id, s.site_id)
        except ObjectLocked as exc:  # the copy stays: Object Lock needs it (catalog/objectlocks.py)
            ctx.catalog.finish_job(job_id, "failed", f"kept by Object Lock: {exc.message}")
            refused(ctx, exc, "placement_kept")
            with lock:
                report.failed.append(f"{s.bucket}/{s.key}: kept on {s.site_id}: {exc.message}")
            continue
        ctx.catalog.finish_job(job_id, "done")
        ctx.record(
            "placement_removed",
            bucket=s.bucket,
            key=s.key,
            version=s.version_id,
            sites=(s.site_id,),
            detail={"job": job_id, "violation": s.violation, "reason": s.reason[:200]},
        )
        with lock:
            report.removed += 1


def _add(ctx: EngineContext, s: Step, throttle: Throttle) -> None:
    assert s.source is not None
    version = ctx.catalog.get_version(s.version_id)
    src, dst = ctx.site(s.source), ctx.site(s.site_id)
    segments = ctx.catalog.segments(s.version_id)
    for seg in segments:
        copy_blob(
            src, dst, seg.blob_id, seg.ciphertext_sha256, seg.ciphertext_length, throttle=throttle
        )
    if not inline_manifest(version, segments):
        dst.put(version.manifest_blob_id, src.get(version.manifest_blob_id))
    now = time.time()
    existing = {p.site_id for p in ctx.catalog.placements(s.version_id)}
    if s.site_id in existing:
        ctx.catalog.set_placement_state(s.version_id, s.site_id, "ok", now)
    else:
        ctx.catalog.add_placement(Placement(s.version_id, s.site_id, "ok", now, now))
    ctx.catalog.resolve_faults(s.version_id, s.site_id)


def _readable(ctx: EngineContext, site_id: str) -> bool:
    spec = ctx.world.sites.get(site_id)
    return spec is not None and spec.status.readable and site_id in ctx.sites
