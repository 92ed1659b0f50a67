"""Phrases every rendering shares, so text, HTML and the CLI say the same thing."""

from __future__ import annotations

from domicile.engine.facts import PolicyRules, Report, Shortfall


def plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"


def rules_text(p: PolicyRules) -> str:
    """A policy's rules in one line: ``allow EU; deny subject to CN, US; 2 copies on
    distinct providers``; empty rules are left out."""
    parts = [f"allow {', '.join(p.allow) or 'nothing'}"]
    if p.deny:
        parts.append(f"deny {', '.join(p.deny)}")
    if p.deny_subject_to:
        parts.append(f"deny subject to {', '.join(p.deny_subject_to)}")
    domains = {"country": "countries"}.get(p.distinct, f"{p.distinct}s")
    parts.append(f"{plural(p.copies, 'copy', 'copies')} on distinct {domains}")
    if p.require:
        parts.append(f"a copy in each of {', '.join(p.require)}")
    if p.recipients:
        parts.append(f"also readable by {plural(len(p.recipients), 'recipient', 'recipients')}")
    if p.pq:
        parts.append("post-quantum recipients only")
    if p.audit_reads:
        parts.append("reads audited")
    return "; ".join(parts)


def verdict_reasons(r: Report) -> list[str]:
    """Why the report is not compliant, one phrase per section (empty when it is)."""
    out = []
    if r.violation_count:
        n = r.violation_count
        where = "where its policy refuses it" if n == 1 else "where their policy refuses them"
        out.append(f"{plural(n, 'copy rests', 'copies rest')} {where}")
    short = r.shortfall_count - r.unreadable_count
    if short:
        out.append(
            f"{plural(short, 'object has', 'objects have')} fewer readable copies than "
            f"{'its policy requires' if short == 1 else 'their policy requires'}"
        )
    if r.unreadable_count:
        out.append(f"{plural(r.unreadable_count, 'object has', 'objects have')} no readable copy")
    return out


def counted(s: Shortfall) -> str:
    """``1 of 2`` (readable copies on allowed sites, of the required count), plus the
    readable copies on refused sites when there are."""
    text = f"{s.readable} of {s.required}"
    n = s.readable_elsewhere
    return text + (f" (+{n} on {'a refused site' if n == 1 else 'refused sites'})" if n else "")


def why_uncounted(s: Shortfall) -> str:
    """Each copy that does not count: ``fra: marked missing by verify; ...``."""
    return "; ".join(f"{u.site_id}: {u.why}" for u in s.uncounted) or "no copy at all"


def policy_label(name: str, version: int | None) -> str:
    """``eu-only@3``, or ``eu-only (not recorded)`` when the chain holds no definition."""
    return f"{name}@{version}" if version is not None else f"{name} (not recorded)"
