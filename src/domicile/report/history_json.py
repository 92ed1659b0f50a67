"""The history report as a JSON document (schema ``domicile-history-report`` version 1).

Documented field by field in ``docs/reports.md``; a change bumps :data:`SCHEMA_VERSION`.
Times are ISO 8601 UTC strings to the microsecond (``2025-07-01T12:00:00.000000Z``), the
audit records' own precision; lists are in a stable order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domicile.engine.facts import HistoryReport, PolicyAt, PolicyVersion, SiteAt
from domicile.report.as_json import iso_time

HISTORY_SCHEMA = "domicile-history-report"
HISTORY_SCHEMA_VERSION = 1


def iso_us(epoch: float | None) -> str | None:
    """``2025-07-01T12:00:00.123456Z``, or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def history_json(r: HistoryReport) -> dict[str, Any]:
    """The history report as plain JSON-ready data."""
    chain = r.chain
    return {
        "schema": HISTORY_SCHEMA,
        "version": HISTORY_SCHEMA_VERSION,
        "deployment": r.deployment,
        "generated_at": iso_time(r.generated_at),
        "period": {"from": iso_us(r.start), "to": iso_us(r.end)},
        "scope": {"kind": r.scope.kind, "name": r.scope.name, "buckets": list(r.scope.buckets)},
        "compliant": r.compliant,
        "totals": {
            "versions": r.versions,
            "copies": r.copies,
            "violation_windows": len(r.windows),
        },
        "buckets": [
            {"bucket": b.bucket, "tenant": b.tenant, "policy": b.policy} for b in r.buckets
        ],
        "policies": [_policy_version(p) for p in r.policies],
        "violation_windows": [
            {
                "bucket": w.bucket,
                "site": _site(w.site),
                "policy": _policy(w.policy),
                "from": iso_us(w.start),
                "to": iso_us(w.end),
                "ongoing": w.ongoing,
                "codes": list(w.codes),
                "reasons": list(w.reasons),
                "copies": [
                    {
                        "key": c.key,
                        "version_id": c.version_id,
                        "from": iso_us(c.start),
                        "to": iso_us(c.end),
                    }
                    for c in w.copies
                ],
            }
            for w in r.windows
        ],
        "residences": [
            {
                "bucket": x.bucket,
                "site": _site(x.site),
                "policy": _policy(x.policy),
                "from": iso_us(x.start),
                "to": iso_us(x.end),
                "copies": x.copies,
                "allowed": x.allowed,
                "codes": list(x.codes),
                "reasons": list(x.reasons),
            }
            for x in r.residences
        ],
        "blocs_from_current_registry": list(r.blocs),
        "audit_chain": {
            "ok": chain.ok,
            "records": chain.records,
            "replayed": r.records,
            "head_seq": chain.head_seq,
            "head_hash": chain.head_hash,
            "latest_checkpoint": None
            if chain.checkpoint_seq is None
            else {"seq": chain.checkpoint_seq, "time": iso_time(chain.checkpoint_time)},
        },
        "registry": {
            "version": r.registry.version,
            "date": r.registry.date,
            "sha256": r.registry.sha256,
            "warnings": list(r.registry.warnings),
        },
    }


def _site(s: SiteAt) -> dict[str, Any]:
    return {
        "id": s.id,
        "version": s.version,
        "fingerprint": s.fingerprint,
        "country": s.country,
        "operator": s.operator,
        "subject_to": list(s.subject_to),
        "status": s.status,
    }


def _policy(p: PolicyAt) -> dict[str, Any]:
    return {"name": p.name, "version": p.version, "fingerprint": p.fingerprint}


def _policy_version(p: PolicyVersion) -> dict[str, Any]:
    return {
        "name": p.name,
        "version": p.version,
        "fingerprint": p.fingerprint,
        "allow": list(p.allow),
        "deny": list(p.deny),
        "deny_subject_to": list(p.deny_subject_to),
        "copies": p.copies,
        "distinct": p.distinct,
        "require": list(p.require),
        "from": iso_us(p.start),
        "to": iso_us(p.end),
    }
