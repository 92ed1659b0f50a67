"""Residency views: where copies rest and what the configured sites look like now."""

from __future__ import annotations

from collections.abc import Sequence

from domicile.catalog import Placement
from domicile.engine.context import EngineContext
from domicile.engine.records import CopyInfo, SiteView
from domicile.policy import Policy, check_copy, subject_to


def copies_of(
    ctx: EngineContext, policy: Policy, placements: Sequence[Placement]
) -> list[CopyInfo]:
    """One :class:`CopyInfo` per placement, judged against ``policy`` as it stands today."""
    out = []
    for p in placements:
        spec = ctx.world.sites.get(p.site_id)
        if spec is None:
            out.append(
                CopyInfo(
                    p.site_id,
                    "?",
                    "?",
                    "?",
                    (),
                    "unknown",
                    p.state,
                    False,
                    ("the site is no longer configured",),
                    p.verified_at,
                )
            )
            continue
        verdict = check_copy(policy, ctx.world, p.site_id)
        out.append(
            CopyInfo(
                site_id=p.site_id,
                country=spec.country,
                operator=spec.operator,
                provider=spec.provider,
                subject_to=tuple(j for j, _ in subject_to(ctx.world, spec.operator)),
                site_status=spec.status.value,
                state=p.state,
                compliant=verdict.compliant,
                reasons=tuple(r.text for r in verdict.reasons),
                verified_at=p.verified_at,
            )
        )
    return out


def site_views(ctx: EngineContext) -> list[SiteView]:
    """Each configured site: country, operator, legal exposure, status and health."""
    views = []
    for site_id, spec in sorted(ctx.world.sites.items()):
        health = ctx.health.describe(site_id)
        views.append(
            SiteView(
                site_id=site_id,
                country=spec.country,
                operator=spec.operator,
                provider=spec.provider,
                subject_to=tuple(j for j, _ in subject_to(ctx.world, spec.operator)),
                status=spec.status.value,
                healthy=health.healthy,
                last_error=health.last_error,
                template=spec.template,
                latency_ms=health.latency_ms,
                state=health.state,
                p50_ms=health.p50_ms,
                p99_ms=health.p99_ms,
                hedge_ms=health.hedge_ms,
            )
        )
    return views
