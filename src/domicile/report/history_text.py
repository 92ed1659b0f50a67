"""The history report as plain text, every line at most 80 columns: verdict first, then
the buckets and their policies over the period, the violation windows, where copies
rested, and the evidence."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime

from domicile.engine.facts import HistoryReport, PolicyAt, PolicyVersion, SiteAt
from domicile.report.words import plural, policy_label

WIDTH = 80
#: Copies listed per violation window in text (the JSON lists them all).
COPIES_SHOWN = 10


def at(epoch: float | None) -> str:
    """``2025-07-01 12:00:00.123456`` (UTC), or ``-``."""
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def history_text(r: HistoryReport) -> str:
    """The whole report, lines of at most :data:`WIDTH` characters, ending in a newline."""
    out = _Lines()
    scope = "every bucket" if r.scope.kind == "all" else f"{r.scope.kind} {r.scope.name}"
    out.para(
        f"History report of deployment {r.deployment}, {scope} "
        f"({', '.join(r.scope.buckets) or 'no bucket'})"
    )
    out.para(f"period {at(r.start)} to {at(r.end)} UTC; generated {at(r.generated_at)[:19]} UTC")
    out.blank()
    out.para(verdict_line(r))
    out.para(
        f"{plural(r.versions, 'object version', 'object versions')} and "
        f"{plural(r.copies, 'copy', 'copies')} existed in the period; "
        f"{plural(r.records, 'audit record', 'audit records')} replayed"
    )
    out.title("Buckets and their policies in the period")
    if not r.buckets:
        out.para("no bucket in scope existed in the period", indent=2)
    for b in r.buckets:
        out.para(f"{b.bucket} (tenant {b.tenant}): policy {b.policy}", indent=2)
        for p in (p for p in r.policies if p.name == b.policy):
            out.para(
                f"{policy_label(p.name, p.version)} {p.fingerprint}, in force "
                f"{at(p.start)} to {at(p.end) if p.end is not None else 'the end'}: "
                f"{rules(p)}",
                indent=4,
            )
    out.title("Violation windows")
    if not r.windows:
        out.para(
            "no violations in the period: no copy rested on a site that its bucket's policy, "
            "as it was at that moment, refused",
            indent=2,
        )
    for w in r.windows:
        out.para(f"{w.bucket} on {_site(w.site)}, {_policy(w.policy)}", indent=2)
        ongoing = " (still there at the end of the period)" if w.ongoing else ""
        out.para(
            f"from {at(w.start)} to {at(w.end)}{ongoing}: "
            f"{plural(len(w.copies), 'copy', 'copies')}",
            indent=4,
        )
        for reason in w.reasons:
            out.para(f"why: {reason}", indent=4)
        for c in w.copies[:COPIES_SHOWN]:
            out.para(f"{c.key} ({c.version_id}) {at(c.start)} to {at(c.end)}", indent=6)
        if len(w.copies) > COPIES_SHOWN:
            out.para(
                f"and {len(w.copies) - COPIES_SHOWN:,} more (--format json lists all)", indent=6
            )
    out.title("Where copies rested")
    if not r.residences:
        out.para("no copy of a bucket in scope existed in the period", indent=2)
    for x in r.residences:
        verdict = "allowed" if x.allowed else "REFUSED"
        out.para(f"{x.bucket} on {_site(x.site)}", indent=2)
        out.para(
            f"{at(x.start)} to {at(x.end)}: {plural(x.copies, 'copy', 'copies')}, "
            f"{verdict} by {_policy(x.policy)}",
            indent=4,
        )
    out.title("Evidence")
    chain = r.chain
    out.para(
        f"audit chain: verified ({chain.records:,} records, head seq {chain.head_seq or '-'} "
        f"{chain.head_hash or '-'}; latest signed checkpoint seq "
        f"{chain.checkpoint_seq or '-'})",
        indent=2,
    )
    g = r.registry
    out.para(f"registry: version {g.version} of {g.date}, SHA-256 {g.sha256 or '-'}", indent=2)
    for warning in g.warnings:
        out.para(f"registry warning: {warning}", indent=2)
    if r.blocs:
        out.para(
            f"blocs {', '.join(r.blocs)}: members taken from today's registry (the audit "
            "chain does not record bloc membership)",
            indent=2,
        )
    return out.text()


def verdict_line(r: HistoryReport) -> str:
    """``COMPLIANT: ...`` or ``NOT COMPLIANT: ...``, one sentence."""
    if r.compliant:
        return (
            "COMPLIANT: no violations in the period; every copy rested on sites its "
            "bucket's policy allowed at that moment"
        )
    sites = len({(w.bucket, w.site.id) for w in r.windows})
    return (
        f"NOT COMPLIANT: {plural(len(r.windows), 'violation window', 'violation windows')} "
        f"({plural(sites, 'bucket-site pair', 'bucket-site pairs')}): copies rested on "
        "sites their bucket's policy refused at that moment"
    )


def rules(p: PolicyVersion) -> str:
    """A recorded policy's rules in one line."""
    parts = [f"allow {', '.join(p.allow) or 'nothing'}"]
    if p.deny:
        parts.append(f"deny {', '.join(p.deny)}")
    if p.deny_subject_to:
        parts.append(f"deny subject to {', '.join(p.deny_subject_to)}")
    domains = {"country": "countries"}.get(p.distinct, f"{p.distinct}s")
    parts.append(f"{plural(p.copies, 'copy', 'copies')} on distinct {domains}")
    if p.require:
        parts.append(f"a copy in each of {', '.join(p.require)}")
    return "; ".join(parts)


def _policy(p: PolicyAt) -> str:
    return f"policy {policy_label(p.name, p.version)}"


def _site(s: SiteAt) -> str:
    if s.version is None:
        return f"{s.id} (no definition recorded)"
    exposure = ", ".join(s.subject_to) or "-"
    return (
        f"{s.id} v{s.version} ({s.country}, operator {s.operator}, subject to {exposure}, "
        f"{s.status})"
    )


class _Lines:
    def __init__(self) -> None:
        self._lines: list[str] = []

    def para(self, text: str, indent: int = 0) -> None:
        pad = " " * indent
        self._lines.extend(
            textwrap.wrap(
                text,
                WIDTH,
                initial_indent=pad,
                subsequent_indent=pad + "  ",
                break_on_hyphens=False,
            )
            or [pad]
        )

    def title(self, text: str) -> None:
        self._lines += ["", text]

    def blank(self) -> None:
        self._lines.append("")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
