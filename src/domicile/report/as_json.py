"""The residency report as a JSON document (schema ``domicile-report`` version 1).

The schema is documented field by field in ``docs/reports.md``; a change to it bumps
:data:`SCHEMA_VERSION`. Times are ISO 8601 UTC strings (``2025-07-01T12:00:00Z``) or null;
sizes are plaintext bytes; lists are in a stable order.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO, TypeVar

from domicile.engine.facts import PolicyRules, Report, Shortfall, SiteTally, Tally, Violation

SCHEMA = "domicile-report"
SCHEMA_VERSION = 3

_Row = TypeVar("_Row", Violation, Shortfall)

#: Gives the per-object rows of a report anew each time it is called (a catalog walk).
Rows = Callable[[], Iterable[Violation | Shortfall]]


def iso_time(epoch: float | None) -> str | None:
    """``2025-07-01T12:00:00Z`` (seconds precision), or None."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_json(report: Report, rows: Rows | None = None) -> dict[str, Any]:
    """The report as plain JSON-ready data. The per-object rows (``violations`` and
    ``shortfalls``, last) are there when the report was built with ``details``, or when
    ``rows`` gives them: then they are read as the document is written
    (:func:`write_json`), never held."""
    doc = _summary(report)
    if report.details:
        doc["violations"] = [_violation(v) for v in report.violations]
        doc["shortfalls"] = [_shortfall(s) for s in report.shortfalls]
    elif rows is not None:
        doc["violations"] = _Streamed(lambda: (_violation(v) for v in _only(rows, Violation)))
        doc["shortfalls"] = _Streamed(lambda: (_shortfall(s) for s in _only(rows, Shortfall)))
    return doc


def write_json(doc: dict[str, Any], out: TextIO) -> None:
    """Write ``doc`` indented, a piece at a time (its streamed lists as they are read)."""
    for chunk in json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(doc):
        out.write(chunk)
    out.write("\n")


class _Streamed(list[dict[str, Any]]):
    """A list the JSON encoder reads as it writes: empty to anything else. The indenting
    encoder (pure Python) asks only ``not lst`` and ``for value in lst``; the first row is
    read up front to answer the former as a list would."""

    def __init__(self, rows: Callable[[], Iterator[dict[str, Any]]]) -> None:
        super().__init__()
        self._rows = rows()
        self._first = next(self._rows, None)

    def __bool__(self) -> bool:
        return self._first is not None

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._first is not None:
            yield self._first
            yield from self._rows


def _only(rows: Rows, kind: type[_Row]) -> Iterator[_Row]:
    return (row for row in rows() if isinstance(row, kind))


def _summary(report: Report) -> dict[str, Any]:
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
            "violations": report.violation_count,
            "shortfalls": report.shortfall_count,
            "unreadable": report.unreadable_count,
        },
        "buckets": [
            {"bucket": b.bucket, "tenant": b.tenant, "policy": b.policy} for b in report.buckets
        ],
        "policies": [_policy(p) for p in report.policies],
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
            "warnings": list(report.registry.warnings),
        },
    }


def _violation(v: Violation) -> dict[str, Any]:
    return {
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


def _shortfall(s: Shortfall) -> dict[str, Any]:
    return {
        "bucket": s.bucket,
        "key": s.key,
        "version_id": s.version_id,
        "policy": s.policy,
        "required": s.required,
        "readable": s.readable,
        "readable_elsewhere": s.readable_elsewhere,
        "unreadable": s.unreadable,
        "uncounted": [{"site": u.site_id, "why": u.why} for u in s.uncounted],
    }


def _policy(p: PolicyRules) -> dict[str, Any]:
    return {
        "name": p.name,
        "fingerprint": p.fingerprint,
        "allow": list(p.allow),
        "deny": list(p.deny),
        "deny_subject_to": list(p.deny_subject_to),
        "copies": p.copies,
        "distinct": p.distinct,
        "require": list(p.require),
        "recipients": list(p.recipients),
        "audit_reads": p.audit_reads,
        "pq": p.pq,
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
        "fingerprint": s.fingerprint,
    }
