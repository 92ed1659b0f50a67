"""A policy's rules as the report shows them: the canonical form and fingerprint that the
audit log's policy records carry (:mod:`domicile.engine.policylog`)."""

from __future__ import annotations

from domicile.engine.facts.model import PolicyRules
from domicile.engine.policylog import fingerprint, rules_of
from domicile.policy import Policy


def policy_rules(policy: Policy) -> PolicyRules:
    """``policy`` in force, with the fingerprint its newest audit record names."""
    rules = rules_of(policy)
    return PolicyRules(
        name=policy.name,
        fingerprint=fingerprint(rules),
        allow=tuple(rules["allow"]),
        deny=tuple(rules["deny"]),
        deny_subject_to=tuple(rules["deny_subject_to"]),
        copies=int(rules["copies"]),
        distinct=str(rules["distinct"]),
        require=tuple(rules["require"]),
        recipients=tuple(rules["recipients"]),
        audit_reads=bool(rules["audit_reads"]),
        pq=bool(rules.get("pq", False)),
    )
