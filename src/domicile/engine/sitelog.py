"""Site changes applied: when the deployment opens with sites whose residency facts differ
from the ones last recorded, the audit log gets ``site_added``, ``site_change`` and
``site_removed`` records (an operator handover, a move to another country, a new endpoint).

A site's **definition** (:func:`definition_of`) is what an auditor asks about where the
bytes rest, never a secret: the ``country`` of the hardware; the ``operator`` entity and
its ``operator_chain`` up the parent entities (each as ``id (country)``: a parent
acquired abroad changes it); ``subject_to``, every jurisdiction that chain brings; the
``provider`` label; the registry ``template`` it was filled from; its ``status``; and the
``backend`` identity (type, and path, or endpoint, region, bucket and prefix; never keys,
TLS or tuning settings). Versions, fingerprints and the cache beside the audit key
(``<audit key>.sites.json``) work as for policies (:mod:`domicile.engine.deflog`). A
``site_change`` names what changed (``operator aws-bj -> sinnet``) and carries the whole
definition ``before`` and ``after``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from domicile.audit import Record
from domicile.engine.auditlog import AuditLog
from domicile.engine.deflog import Recorded, canonical, fingerprint, record_changes, summarize
from domicile.policy import SiteSpec, World, subject_to

ACTIONS = ("site_added", "site_change", "site_removed")

#: The backend keys that say where the bytes go (the rest are secrets or tuning).
BACKEND_IDENTITY = ("type", "path", "endpoint", "region", "bucket", "prefix")


def definition_of(world: World, site: SiteSpec) -> dict[str, Any]:
    """The residency facts of ``site`` in canonical form (see the module docstring)."""
    return {
        "country": site.country,
        "operator": site.operator,
        "operator_chain": [
            f"{e} ({world.entities[e].country})" for e in world.chain(site.operator)
        ],
        "subject_to": sorted({j for j, _ in subject_to(world, site.operator)}),
        "provider": site.provider,
        "template": site.template,
        "status": site.status.value,
        "backend": {
            k: str(site.backend[k]) for k in BACKEND_IDENTITY if site.backend.get(k) is not None
        },
    }


class _Sites:
    """The site kind of versioned definition."""

    actions = ACTIONS
    plural = "sites"

    def added(self, audit: AuditLog, name: str, rules: dict[str, Any]) -> Record:
        return audit.record(
            "site_added",
            sites=(name,),
            detail={
                "site": name,
                "version": 1,
                "fingerprint": fingerprint(rules),
                "after": canonical(rules),
            },
        )

    def changed(
        self, audit: AuditLog, name: str, before: Recorded, rules: dict[str, Any]
    ) -> Record:
        return audit.record(
            "site_change",
            sites=(name,),
            detail={
                "site": name,
                "version": before.version + 1,
                "from": before.fingerprint,
                "fingerprint": fingerprint(rules),
                "changes": summarize(before.rules, rules, arrow=" -> "),
                "before": canonical(before.rules),
                "after": canonical(rules),
            },
        )

    def removed(self, audit: AuditLog, name: str, before: Recorded) -> Record:
        return audit.record(
            "site_removed",
            sites=(name,),
            detail={
                "site": name,
                "version": before.version,
                "fingerprint": before.fingerprint,
                "before": canonical(before.rules),
            },
        )

    def recorded(self, record: Record) -> tuple[str, Recorded | None] | None:
        name = record.detail.get("site")
        if not isinstance(name, str):
            return None
        if record.action == "site_removed":
            return name, None
        after, version, fp = (record.detail.get(k) for k in ("after", "version", "fingerprint"))
        if isinstance(after, str) and isinstance(version, int) and isinstance(fp, str):
            return name, Recorded(version, fp, json.loads(after))
        return None


def record_site_changes(audit: AuditLog, world: World, cache: Path) -> list[Record]:
    """Append a record per site added, changed or removed since the last recorded
    definitions; return them (none when nothing changed)."""
    current = {sid: definition_of(world, spec) for sid, spec in world.sites.items()}
    return record_changes(audit, _Sites(), current, cache)
