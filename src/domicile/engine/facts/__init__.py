"""The report facts: a typed query API over the catalog and the audit chain.

The engine answers questions about residency with frozen dataclasses of plain values
(:mod:`domicile.engine.facts.model`); it never draws them. The renderers (text, JSON,
HTML, the world map) are the :mod:`domicile.report` package, beside the CLI and the
gateway, and reach the data only through this API.

- :func:`build_report` — today's state of the buckets in scope (catalog + verification
  marks), with the audit chain's and the registry's evidence; :func:`report_rows` — its
  per-object rows (violations, shortfalls), streamed.
- :func:`readability` — which copies domicile can vouch are readable, and why not.
- :func:`policy_rules` — a policy's rules in the audit log's canonical form.
- :func:`chain_status`, :func:`registry_info`, :func:`verification` — the evidence parts,
  shared with reports over time.
- :func:`build_history` — reports over time: every copy's residence over a period and the
  windows in which a policy, as it was then, refused its site; from the verified chain.
- :func:`country_names` — ISO 3166-1 alpha-2 code → English name, for labels.
"""

from __future__ import annotations

from domicile.engine.facts.evidence import (
    ChainProblem,
    ChainStatus,
    RegistryInfo,
    Verification,
    chain_status,
    registry_info,
    verification,
)
from domicile.engine.facts.history import build_history
from domicile.engine.facts.history_model import (
    BucketAt,
    HistoryReport,
    PolicyAt,
    PolicyVersion,
    Residence,
    SiteAt,
    ViolationWindow,
    WindowCopy,
)
from domicile.engine.facts.model import (
    BucketPolicy,
    CopyCounts,
    PolicyRules,
    Report,
    Scope,
    Shortfall,
    SiteTally,
    Tally,
    UncountedCopy,
    Violation,
)
from domicile.engine.facts.policies import policy_rules
from domicile.engine.facts.readable import Readability, readability
from domicile.engine.facts.snapshot import UNKNOWN, build_report, report_rows
from domicile.policy import countries as country_names

__all__ = [
    "UNKNOWN",
    "BucketAt",
    "BucketPolicy",
    "ChainProblem",
    "ChainStatus",
    "CopyCounts",
    "HistoryReport",
    "PolicyAt",
    "PolicyRules",
    "PolicyVersion",
    "Readability",
    "RegistryInfo",
    "Report",
    "Residence",
    "Scope",
    "Shortfall",
    "SiteAt",
    "SiteTally",
    "Tally",
    "UncountedCopy",
    "Verification",
    "Violation",
    "ViolationWindow",
    "WindowCopy",
    "build_history",
    "build_report",
    "chain_status",
    "country_names",
    "policy_rules",
    "readability",
    "registry_info",
    "report_rows",
    "verification",
]
