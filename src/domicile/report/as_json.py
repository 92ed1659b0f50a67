"""The residency report as a JSON document (schema ``domicile-report`` version 1).

The schema is documented field by field in ``docs/reports.md``; a change to it bumps
:data:`SCHEMA_VERSION`. Times are ISO 8601 UTC strings (``2025-07-01T12:00:00Z``) or null;
sizes are plaintext bytes; lists are in a stable order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domicile.engine.facts import Report, SiteTally, Tally

SCHEMA = "domicile-report"
SCHEMA_VERSION = 1


def iso_time(epoch: float | None) -> str | None:
    """``2025-07-01T12:00:00Z`` (seconds precision), or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_json(report: Report) -> dict[str, Any]:
    """The report as plain JSON-ready data."""
    chain = report.chain
    ver = report.verification
    return {
        "schema": SCHEMA,
        "version": SCHEMA_VERSION,
        "deployment": report.deployment,
        "generated_at": iso_time(report.generated_at),
        "scope": {
            "kind": report.scope.kind,
            "name": report.scope.name,
            "buckets": list(report.scope.buckets),
        },
        "totals": {"objects": report.objects, "bytes": report.bytes, "copies": report.copies},
        "compliance": {
            "compliant": report.compliant,
            "violations": [
                {
                    "bucket": v.bucket,
                    "key": v.key,
                    "version_id": v.version_id,
                    "site": v.site_id,
                    "policy": v.policy,
                    "country": v.country,
                    "operator": v.operator,
                    "codes": list(v.codes),
                    "reasons": list(v.reasons),
                }
                for v in report.violations
            ],
        },
        "by_country": [_tally(t) for t in report.by_country],
        "by_operator": [_tally(t) for t in report.by_operator],
        "by_exposure": [_tally(t) for t in report.by_exposure],
        "by_site": [_site(s) for s in report.by_site],
        "copy_counts": [
            {
                "policy": c.policy,
                "required": c.required,
                "objects": c.objects,
                "under": c.under,
                "met": c.met,
                "over": c.over,
                "distribution": {str(copies): n for copies, n in c.distribution},
            }
            for c in report.copy_counts
        ],
        "placement_states": dict(report.states),
        "verification": {
            "copies": ver.copies,
            "never_verified": ver.never,
            "oldest": iso_time(ver.oldest),
            "newest": iso_time(ver.newest),
        },
        "audit_chain": {
            "enabled": chain.enabled,
            "ok": chain.ok,
            "records": chain.records,
            "head_seq": chain.head_seq,
            "head_hash": chain.head_hash,
            "latest_checkpoint": None
            if chain.checkpoint_seq is None
            else {"seq": chain.checkpoint_seq, "time": iso_time(chain.checkpoint_time)},
            "unsigned": chain.unsigned,
            "problems": [
                {"seq": p.seq, "kind": p.kind, "message": p.message} for p in chain.problems
            ],
        },
        "registry": {
            "version": report.registry.version,
            "date": report.registry.date,
            "sha256": report.registry.sha256,
        },
    }


def _tally(t: Tally) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "objects": t.objects, "bytes": t.bytes, "copies": t.copies}


def _site(s: SiteTally) -> dict[str, Any]:
    return {
        "id": s.id,
        "country": s.country,
        "operator": s.operator,
        "provider": s.provider,
        "status": s.status,
        "subject_to": list(s.subject_to),
        "objects": s.objects,
        "bytes": s.bytes,
    }
