"""Policy changes applied: when the deployment opens with residency policies whose rules
differ from the ones last recorded, the audit log gets ``policy_added``,
``policy_change`` and ``policy_removed`` records.

Each policy's rules have a canonical form (:func:`rules_of`: every list sorted, so that
reordering ``allow`` is no change) and a fingerprint and version as every versioned
definition (:mod:`domicile.engine.deflog`). The records carry the name and version in
``policy`` (``eu-only@2``) and the whole new definition in ``detail.rules``, so the chain
alone tells what was in force from when. What was last recorded is cached next to the
audit key (``<audit key>.policies.json``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from domicile.audit import Record
from domicile.engine.auditlog import AuditLog
from domicile.engine.deflog import (
    Recorded,
    canonical,
    fingerprint,
    record_changes,
    summarize,
)
from domicile.policy import Policy

ACTIONS = ("policy_added", "policy_change", "policy_removed")

__all__ = ["ACTIONS", "fingerprint", "record_policy_changes", "rules_of"]


def rules_of(policy: Policy) -> dict[str, Any]:
    """The rules of ``policy`` in canonical form (lists sorted; no name). ``pq`` appears
    only when true, so the fingerprints of policies written before it existed stay put."""
    rules: dict[str, Any] = {
        "allow": sorted(policy.allow),
        "deny": sorted(policy.deny),
        "deny_subject_to": sorted(policy.deny_subject_to),
        "copies": policy.copies,
        "distinct": str(policy.distinct.value),
        "recipients": sorted(policy.recipients),
        "audit_reads": policy.audit_reads,
        "require": sorted(policy.require),
    }
    if policy.pq:
        rules["pq"] = True
    return rules


class _Policies:
    """The policy kind of versioned definition."""

    actions = ACTIONS
    plural = "policies"

    def added(self, audit: AuditLog, name: str, rules: dict[str, Any]) -> Record:
        fp = fingerprint(rules)
        return audit.record(
            "policy_added",
            policy=f"{name}@1",
            detail={"name": name, "version": 1, "fingerprint": fp, "rules": canonical(rules)},
        )

    def changed(
        self, audit: AuditLog, name: str, before: Recorded, rules: dict[str, Any]
    ) -> Record:
        version = before.version + 1
        return audit.record(
            "policy_change",
            policy=f"{name}@{version}",
            detail={
                "name": name,
                "version": version,
                "from": before.fingerprint,
                "fingerprint": fingerprint(rules),
                "changes": summarize(before.rules, rules),
                "rules": canonical(rules),
            },
        )

    def removed(self, audit: AuditLog, name: str, before: Recorded) -> Record:
        return audit.record(
            "policy_removed",
            policy=f"{name}@{before.version}",
            detail={"name": name, "version": before.version, "fingerprint": before.fingerprint},
        )

    def recorded(self, record: Record) -> tuple[str, Recorded | None] | None:
        name = record.detail.get("name")
        if not isinstance(name, str):
            return None
        if record.action == "policy_removed":
            return name, None
        rules, version, fp = (record.detail.get(k) for k in ("rules", "version", "fingerprint"))
        if isinstance(rules, str) and isinstance(version, int) and isinstance(fp, str):
            return name, Recorded(version, fp, json.loads(rules))
        return None


def record_policy_changes(
    audit: AuditLog, policies: Mapping[str, Policy], cache: Path
) -> list[Record]:
    """Append a record per policy added, changed or removed since the last recorded
    definitions; return them (none when nothing changed)."""
    current = {name: rules_of(p) for name, p in policies.items()}
    return record_changes(audit, _Policies(), current, cache)
