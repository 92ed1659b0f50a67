"""Delete blobs that the catalog no longer references (replaced or deleted versions).

The catalog enqueues a version's blobs in its ``garbage`` table in the same transaction
that unreferences them, so nothing is lost if we crash here: the next collection retries.
A site that is down or not configured keeps its items queued.
"""

from __future__ import annotations

from domicile.engine.context import EngineContext
from domicile.errors import SiteError


def collect_garbage(ctx: EngineContext, limit: int = 1000) -> int:
    """Delete up to ``limit`` queued blobs; return how many were removed."""
    done: list[int] = []
    for item in ctx.catalog.garbage(limit):
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
