"""Delete blobs that the catalog no longer references (replaced or deleted versions).

The catalog enqueues a version's blobs in its ``garbage`` table in the same transaction
that unreferences them, so nothing is lost if we crash here: the next collection retries.
A site that is down or not configured keeps its items queued.

A PUT that replaced a version, a DELETE, a multipart call: each collects only what it
unreferenced itself (``origins``: that version's or upload's items, one indexed read), so
sixteen clients replacing objects at once delete sixteen versions' blobs, not the whole
queue sixteen times over (which they did: 16 threads replacing 64 KiB objects on a Swift
site managed 1.2 PUT/s, against 22.4 now). What is left (items a down site could not delete)
is retried by the whole-queue collections of ``sweep``, ``repair``, ``apply`` and the
gateway's periodic sweep, one at a time per engine.
"""

from __future__ import annotations

from collections.abc import Sequence

from domicile.engine.context import EngineContext
from domicile.errors import SiteError


def collect_garbage(
    ctx: EngineContext, limit: int = 1000, *, origins: Sequence[str] | None = None
) -> int:
    """Delete up to ``limit`` queued blobs (only those of ``origins``, the versions or
    uploads named, if given); return how many were removed."""
    if origins is not None:
        return _collect(ctx, limit, origins) if origins else 0
    with ctx.garbage_lock:  # a second whole-queue collection would delete the same blobs
        return _collect(ctx, limit, None)


def _collect(ctx: EngineContext, limit: int, origins: Sequence[str] | None) -> int:
    done: list[int] = []
    for item in ctx.catalog.garbage(limit, origins=origins):
        site = ctx.sites.get(item.site_id)
        if site is None or not ctx.health.healthy(item.site_id):
            continue
        try:
            site.delete(item.blob_id)
        except SiteError as exc:
            ctx.health.record_failure(item.site_id, exc)
            continue
        done.append(item.id)
    if done:
        ctx.catalog.garbage_done(done)
    return len(done)
