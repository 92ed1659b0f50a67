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

A copy can be re-added where its blobs are queued for deletion (``apply`` moving an object
back to a site it left while that site was down; ``repair`` rewriting a copy it dropped):
the queued deletion would then destroy the new copy. So a whole-queue collection deletes
only the items it claimed under a lease, and :func:`reclaim` cancels the unclaimed items of
a version's blobs on a site *before* a copy is written there, waiting for a collector that
holds one to finish. (A collection by ``origins`` deletes only the items of versions and
uploads that are gone: nothing can re-add those.)
"""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Sequence

from domicile.catalog import GarbageItem
from domicile.engine.context import EngineContext
from domicile.errors import SiteError, SiteUnavailable

#: Items a collection claims at once (each batch is deleted under one lease).
_BATCH = 100


def collect_garbage(
    ctx: EngineContext, limit: int = 1000, *, origins: Sequence[str] | None = None
) -> int:
    """Delete up to ``limit`` queued blobs (only those of ``origins``, the versions or
    uploads named, if given; else those this collection claims, a batch at a time); return
    how many were removed."""
    if origins is not None:
        return _collect(ctx, limit, origins) if origins else 0
    with ctx.garbage_lock:  # a second whole-queue collection would delete the same blobs
        return _collect(ctx, limit, None)


def _collect(ctx: EngineContext, limit: int, origins: Sequence[str] | None) -> int:
    if origins is not None:
        done, _ = _delete(ctx, ctx.catalog.garbage(limit, origins=origins))
        if done:
            ctx.catalog.garbage_done(done)
        return len(done)
    holder = f"{socket.gethostname()}:{os.getpid()}:gc-{secrets.token_hex(4)}"
    removed = 0
    while removed < limit:
        items = ctx.catalog.claim_garbage(holder, min(_BATCH, limit - removed), ctx.lease_seconds)
        if not items:
            break
        done, kept = _delete(ctx, items)
        if done:
            ctx.catalog.garbage_done(done)
        ctx.catalog.release_garbage(kept)
        removed += len(done)
        if not done:
            break  # every claimed site is down: the rest waits for the next collection
    return removed


def _delete(ctx: EngineContext, items: list[GarbageItem]) -> tuple[list[int], list[int]]:
    """Delete the items' blobs; (ids deleted, ids kept because their site is down)."""
    done: list[int] = []
    kept: list[int] = []
    for item in items:
        site = ctx.sites.get(item.site_id)
        if site is None or not ctx.health.healthy(item.site_id):
            kept.append(item.id)
            continue
        try:
            site.delete(item.blob_id)
        except SiteError as exc:
            ctx.health.record_failure(item.site_id, exc)
            kept.append(item.id)
            continue
        done.append(item.id)
    return done, kept


def reclaim(ctx: EngineContext, version_id: str, site_id: str, *, poll: float = 0.05) -> None:
    """Before writing a copy of ``version_id`` to ``site_id``: cancel the queued deletions
    of its blobs there, waiting (up to one lease) for a collector deleting one right now.
    ObjectNotFound if the version is gone; SiteUnavailable if a collector still holds an
    item after that (the step fails and is retried by the next run)."""
    deadline = time.monotonic() + ctx.lease_seconds + 1
    while ctx.catalog.reclaim_blobs(version_id, site_id):
        if time.monotonic() > deadline:
            raise SiteUnavailable(
                f"a garbage collection is still deleting blobs of {version_id} on {site_id}",
                hint="run the command again once it has finished",
                site=site_id,
            )
        time.sleep(poll)
