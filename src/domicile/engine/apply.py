"""Apply: carry out the plan, held as jobs in the catalog, under a lease.

One ``apply`` per scope at a time: the run takes the scope's lease (``engine/leasing.py``;
a second run is refused, naming this one), writes the plan's steps as jobs a page at a
time while it summarises them, asks for confirmation, then claims the jobs a batch of
versions at a time (their own leases, renewed while they run) and carries them out,
``concurrency`` versions at once: per version its additions first, then its removals.

Each step re-checks its preconditions when it runs, against the catalog and the sites as
they are then: the version still exists and still wants this change (it is assessed
again, so a target no longer allowed, active or healthy is not written, and the source is
the best good copy now), and a removal never takes the version below its policy's count of
verified-good compliant copies (decided in the removing transaction). A step that went
stale is ``skipped``, counted and reported; the run goes on. Before a copy is written to a
site, the queued deletions of its blobs there are cancelled (``garbage.reclaim``).

An add copies the ciphertext byte for byte (hash-checked while it streams, and read back),
writes the manifest, and records the placement; a removal forgets the copy and queues its
blobs for deletion in the same transaction. Every step is idempotent, so a run killed at
any instant is finished by the next ``apply``: once the killed run's lease expires, the
next run takes the scope over, marks the dead run's pending jobs ``interrupted`` and
re-plans from the catalog.
"""

from __future__ import annotations

import contextvars
import datetime
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any

from domicile.catalog import Job, Lease, Placement, Version, inline_manifest
from domicile.engine.context import EngineContext
from domicile.engine.garbage import collect_garbage, reclaim
from domicile.engine.leasing import Holding
from domicile.engine.locking import refused
from domicile.engine.plan import Assessment, OnStep, PlanSummary, Step, assess, make_plan
from domicile.engine.repair import copy_blob
from domicile.engine.throttle import Throttle
from domicile.errors import CryptoError, ObjectLocked, ObjectNotFound, SiteError

Progress = Callable[[int], None]
#: Asked with the plan's summary before anything changes; False cancels the run.
Confirm = Callable[[PlanSummary], bool]
#: Called with each job as it ends, its final state and why.
OnResult = Callable[[Job, str, str], None]
#: Steps written to the catalog per transaction while planning.
_WRITE_BATCH = 500
#: Failures and skips kept as examples in a report.
_EXAMPLES = 20


@dataclass
class ApplyReport:
    run_id: str = ""
    plan: PlanSummary = field(default_factory=PlanSummary)
    added: int = 0
    removed: int = 0
    bytes_copied: int = 0
    failed: int = 0
    #: Steps found stale when they ran (see the module docstring).
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    skips: list[str] = field(default_factory=list)
    #: The plan was not confirmed: nothing was changed.
    cancelled: bool = False
    #: Runs whose lease had expired (their process gone) and whose work this run took over.
    taken_over: list[str] = field(default_factory=list)

    @property
    def blocked(self) -> int:
        return self.plan.blocked

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "added": self.added,
            "removed": self.removed,
            "bytes_copied": self.bytes_copied,
            "failed": self.failed,
            "skipped": self.skipped,
            "blocked": self.blocked,
            "failures": self.failures,
            "skips": self.skips,
            "cancelled": self.cancelled,
            "taken_over": self.taken_over,
        }


def apply_plan(
    ctx: EngineContext,
    *,
    bucket: str | None = None,
    confirm: Confirm | None = None,
    progress: Progress | None = None,
    on_step: OnStep | None = None,
    on_result: OnResult | None = None,
    concurrency: int = 4,
    bandwidth: float | None = None,
) -> ApplyReport:
    """Plan ``bucket`` (None: every bucket) into jobs, ask ``confirm``, carry them out.
    LeaseHeld if another apply holds an overlapping scope."""
    with Holding(ctx, "apply", bucket) as held:
        report = ApplyReport(held.run_id, taken_over=[_describe(x) for x in held.taken_over])
        try:
            report.plan = _write_plan(ctx, held.run_id, bucket, on_step)
            if not report.plan.steps:
                return report
            if confirm is not None and not confirm(report.plan):
                report.cancelled = True
                return report
            _run(
                ctx,
                held,
                report=report,
                progress=progress,
                on_result=on_result,
                concurrency=concurrency,
                throttle=Throttle(bandwidth),
            )
        finally:
            why = "not confirmed" if report.cancelled else "its run stopped before this step"
            ctx.catalog.abandon_jobs(held.run_id, why)
    collect_garbage(ctx)
    return report


def _write_plan(
    ctx: EngineContext, run_id: str, bucket: str | None, on_step: OnStep | None
) -> PlanSummary:
    pending: list[dict[str, Any]] = []

    def keep(steps: list[Step]) -> None:
        pending.extend(s.job() for s in steps)
        if len(pending) >= _WRITE_BATCH:
            ctx.catalog.add_jobs(run_id, pending)
            pending.clear()

    summary = make_plan(ctx, bucket=bucket, on_step=on_step, on_version=keep)
    ctx.catalog.add_jobs(run_id, pending)
    return summary


def _run(
    ctx: EngineContext,
    held: Holding,
    *,
    report: ApplyReport,
    progress: Progress | None,
    on_result: OnResult | None,
    concurrency: int,
    throttle: Throttle,
) -> None:
    """Claim the run's jobs a batch of versions at a time and carry them out."""
    workers = max(1, concurrency)
    lock = threading.Lock()

    def finish(job: Job, state: str, detail: str) -> None:
        ctx.catalog.finish_job(job.id, state, detail)
        with lock:
            _count(report, job, state, detail)
            if on_result is not None:
                on_result(job, state, detail)
        if state == "done" and job.action == "add" and progress is not None:
            progress(job.bytes)

    with ThreadPoolExecutor(workers, "domicile-apply") as pool:
        while True:
            held.check()
            jobs = ctx.catalog.claim_jobs(held.run_id, str(held.holder), 8 * workers, held.seconds)
            if not jobs:
                return
            futures = [
                pool.submit(
                    contextvars.copy_context().run,  # the audit actor follows the work
                    _apply_version,
                    ctx,
                    list(group),
                    held=held,
                    throttle=throttle,
                    finish=finish,
                )
                for _, group in groupby(jobs, key=lambda j: j.version_id)
            ]
            for fut in futures:
                fut.result()


def _count(report: ApplyReport, job: Job, state: str, detail: str) -> None:
    what = f"{job.bucket}/{job.key}: {job.action} {job.site_id}: {detail}"
    if state == "done":
        if job.action == "add":
            report.added += 1
            report.bytes_copied += job.bytes
        else:
            report.removed += 1
    elif state == "skipped":
        report.skipped += 1
        if len(report.skips) < _EXAMPLES:
            report.skips.append(what)
    else:
        report.failed += 1
        if len(report.failures) < _EXAMPLES:
            report.failures.append(what)


def _apply_version(
    ctx: EngineContext,
    jobs: list[Job],
    *,
    held: Holding,
    throttle: Throttle,
    finish: Callable[[Job, str, str], None],
) -> None:
    for job in sorted(jobs, key=lambda j: (j.action != "add", j.id)):
        held.check()
        try:
            version = ctx.catalog.get_version(job.version_id)
        except ObjectNotFound:
            finish(job, "skipped", "stale: the object was replaced or deleted")
            continue
        if job.action == "add":
            state, detail = _add(ctx, version, job, throttle)
        else:
            state, detail = _remove(ctx, version, job)
        finish(job, state, detail)


def _wanted(ctx: EngineContext, version: Version, job: Job) -> tuple[Step | None, Assessment]:
    """The version assessed now, and the step of it that ``job`` planned, if still wanted."""
    found = assess(ctx, version)
    step = next(
        (s for s in found.steps if s.action == job.action and s.site_id == job.site_id), None
    )
    return step, found


def _add(ctx: EngineContext, version: Version, job: Job, throttle: Throttle) -> tuple[str, str]:
    step, found = _wanted(ctx, version, job)
    if step is None:
        if found.blocked is not None and found.blocked.reason == "NOSOURCE":
            return "skipped", "stale: no readable copy is left to copy from"
        if job.site_id in found.held:
            return "skipped", f"stale: {job.site_id} holds a good copy already"
        return "skipped", (
            f"stale: the policy no longer wants a copy on {job.site_id} now (not allowed, "
            "not active or not healthy)"
        )
    assert step.source is not None
    vid = version.version_id
    try:
        reclaim(ctx, vid, job.site_id)  # its blobs may be queued there for deletion
        src, dst = ctx.site(step.source), ctx.site(job.site_id)
        segments = ctx.catalog.segments(vid)
        for seg in segments:
            copy_blob(
                src,
                dst,
                seg.blob_id,
                seg.ciphertext_sha256,
                seg.ciphertext_length,
                throttle=throttle,
            )
        if not inline_manifest(version, segments):
            dst.put(version.manifest_blob_id, src.get(version.manifest_blob_id))
        now = time.time()
        if job.site_id in found.placements:
            ctx.catalog.set_placement_state(vid, job.site_id, "ok", now)
        else:
            ctx.catalog.add_placement(Placement(vid, job.site_id, "ok", now, now))
    except ObjectNotFound:
        return "skipped", "stale: the object was replaced or deleted while it was copied"
    except (SiteError, CryptoError) as exc:
        return "failed", f"copy from {step.source} failed: {type(exc).__name__}: {exc}"
    ctx.catalog.resolve_faults(vid, job.site_id)
    ctx.record(
        "placement_added",
        bucket=version.bucket,
        key=version.key,
        version=vid,
        sites=(job.site_id,),
        detail={"source": step.source, "job": job.id, "reason": step.why[:200]},
    )
    return "done", f"copied from {step.source}"


def _remove(ctx: EngineContext, version: Version, job: Job) -> tuple[str, str]:
    step, found = _wanted(ctx, version, job)
    if step is None:
        return "skipped", f"stale: the copy on {job.site_id} is gone, or the policy keeps it now"
    policy = found.policy
    need = policy.copies if not step.violation else max(1, min(policy.copies, found.reachable))
    try:
        outcome = ctx.catalog.remove_placement(
            version.version_id, job.site_id, counted=found.held, at_least=need
        )
    except ObjectLocked as exc:  # the copy stays: Object Lock needs it (catalog/objectlocks.py)
        refused(ctx, exc, "placement_kept")
        return "failed", f"kept on {job.site_id} by Object Lock: {exc.message}"
    if outcome == "absent":
        return "skipped", f"stale: the copy on {job.site_id} is gone"
    if outcome == "short":
        return "skipped", (
            f"kept: removing it would leave fewer than {need} verified-good compliant copies "
            f"(policy {policy.name}); an addition it waits for failed or is still to run"
        )
    ctx.record(
        "placement_removed",
        bucket=version.bucket,
        key=version.key,
        version=version.version_id,
        sites=(job.site_id,),
        detail={"job": job.id, "violation": step.violation, "reason": step.why[:200]},
    )
    return "done", "removed"


def _describe(lease: Lease) -> str:
    when = datetime.datetime.fromtimestamp(lease.expires_at, datetime.UTC)
    return (
        f"run {lease.run_id} of process {lease.pid} on {lease.host} "
        f"(its lease expired at {when.isoformat(timespec='seconds')})"
    )
