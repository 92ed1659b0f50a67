"""Renderings of a placement decision: for people (``explain_text``) and programs (JSON).

Both list every site considered, in the decision's order, with its country, operator,
provider, status, whether it was chosen, and every reason it was refused. They are what
``domicile policy explain`` prints and what a residency refusal carries to S3 clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domicile.policy.placement import Decision
from domicile.policy.verdicts import UNHEALTHY, Reason, Verdict
from domicile.policy.world import subject_to


def explain_json(decision: Decision, failures: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A JSON-ready dict: policy, outcome, registry version, and one entry per site
    (with ``failure``, from ``failures``, for a site observed failing)."""
    policy = decision.policy
    registry = decision.world.registry
    return {
        "policy": policy.name,
        "ok": decision.ok,
        "copies": policy.copies,
        "distinct": policy.distinct.value,
        "chosen": list(decision.chosen),
        "selected": list(decision.selected),
        "missing": decision.missing,
        "rules": {
            "allow": list(policy.allow),
            "deny": list(policy.deny),
            "deny_subject_to": list(policy.deny_subject_to),
        },
        "registry": {"version": registry.version, "date": registry.date},
        "sites": [_site_json(decision, v, failures or {}) for v in decision.verdicts],
    }


def explain_text(decision: Decision, failures: Mapping[str, str] | None = None) -> str:
    """A human-readable, multi-line explanation (no trailing newline); ``failures`` says
    why a site observed failing fails (shown with its ``unhealthy`` reason)."""
    policy = decision.policy
    rules = [f"allow {list(policy.allow)}"]
    if policy.deny:
        rules.append(f"deny {list(policy.deny)}")
    if policy.deny_subject_to:
        rules.append(f"deny_subject_to {list(policy.deny_subject_to)}")
    head = (
        f"policy {policy.name}: {policy.copies} "
        f"cop{'y' if policy.copies == 1 else 'ies'} on distinct {policy.distinct.value}s; "
        + "; ".join(rules)
    )
    if decision.ok:
        outcome = "placed on " + ", ".join(decision.chosen)
    else:
        outcome = (
            f"REFUSED: {decision.missing} cop{'y' if decision.missing == 1 else 'ies'} short"
            + (f" (only {', '.join(decision.selected)} possible)" if decision.selected else "")
        )
    lines = [head, f"  -> {outcome}"]
    for v in decision.verdicts:
        lines.append(f"  {_mark(v):<8} {v.site_id}{_where(decision, v)}")
        lines.extend(f"           - {_reason(r, v, failures or {})}" for r in v.reasons)
        lines.extend(f"           note: {n}" for n in v.notes)
    registry = decision.world.registry
    lines.append(f"  (registry {registry.version}, {registry.date})")
    return "\n".join(lines)


def _reason(reason: Reason, v: Verdict, failures: Mapping[str, str]) -> str:
    if reason.code == UNHEALTHY and v.site_id in failures:
        return f"{reason.text}: {failures[v.site_id]}"
    return reason.text


def _mark(v: Verdict) -> str:
    if v.selected:
        return "kept" if v.held else "chosen"
    if v.accepted:
        return "spare"
    return "refused"


def _where(decision: Decision, v: Verdict) -> str:
    site = decision.world.sites.get(v.site_id)
    if site is None:
        return " (not configured)"
    parts = [site.country, f"operator {site.operator}", f"provider {site.provider}"]
    if site.status.value != "active":
        parts.append(site.status.value)
    if v.held:
        parts.append("holds a copy")
    return " (" + ", ".join(parts) + ")"


def _site_json(decision: Decision, v: Verdict, failures: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "site": v.site_id,
        "accepted": v.accepted,
        "selected": v.selected,
        "chosen": v.selected and decision.ok,
        "held": v.held,
        "compliant": v.compliant,
    }
    site = decision.world.sites.get(v.site_id)
    if site is not None:
        out.update(
            country=site.country,
            operator=site.operator,
            provider=site.provider,
            status=site.status.value,
            template=site.template,
            subject_to=[
                {"jurisdiction": j, "via": via}
                for j, via in subject_to(decision.world, site.operator)
            ],
        )
    if v.site_id in failures:
        out["failure"] = failures[v.site_id]
    out["reasons"] = [r.to_json() for r in v.reasons]
    out["notes"] = list(v.notes)
    return out
