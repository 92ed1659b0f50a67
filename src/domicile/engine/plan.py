"""Plan: what must change for every copy to comply with what its policy demands today.

:func:`assess` compares one version's copies with its policy, given each site's status,
health, operator and the registry: copies to add (with the source they are copied from),
copies to remove (on a site the policy now refuses, a draining/suspended/retired site, or
beyond the count), or why the version cannot be made compliant. :func:`make_plan` walks
the catalog a page at a time and hands each step to a callback while it adds it to a
:class:`PlanSummary` (counts, bytes and a few examples per route and reason): memory does
not grow with the number of objects. ``apply`` (``engine/apply.py``) writes the steps as
jobs in the catalog and carries them out; it re-assesses each version when its step runs.

Every reason has a short code (:data:`REASONS`, the legend printed under a plan) and a
sentence (``why``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from domicile.catalog import Placement, Version
from domicile.engine.context import EngineContext
from domicile.policy import Policy, check_copy, decide

#: Short reason codes and what they mean (the legend of a plan).
REASONS: dict[str, str] = {
    "COUNT": "the policy needs more compliant copies than are held",
    "COUNTRY": "the site's country is not one the policy allows",
    "DENIED": "the site's country is one the policy denies",
    "SUBJECT": "the site's operator is subject to a jurisdiction the policy denies",
    "UNKNOWN": "the site is no longer in the configuration",
    "STATUS": "the site is draining, suspended or retired",
    "HEALTH": "the site is failing",
    "DIVERSE": "another chosen site is in the same failure domain",
    "EXTRA": "more copies than the policy needs",
    "BAD": "the copy is corrupt or missing",
    "NOSOURCE": "no readable copy is left to copy from",
    "NOSITES": "too few compliant, healthy sites for the policy's copy count",
}
#: The policy's refusal codes (``policy/verdicts.py``) as plan codes.
_POLICY_CODES = {
    "country_not_allowed": "COUNTRY",
    "country_denied": "DENIED",
    "subject_to": "SUBJECT",
    "unknown_site": "UNKNOWN",
    "status": "STATUS",
    "unhealthy": "HEALTH",
    "diversity": "DIVERSE",
}
#: Versions whose copies are read in one query while planning.
_PAGE = 500
#: Examples kept per group of a summary.
EXAMPLES = 3


@dataclass(frozen=True, slots=True)
class Step:
    """One change to one copy: ``add`` (from ``source``) or ``remove``."""

    action: str
    bucket: str
    key: str
    version_id: str
    site_id: str
    source: str | None
    bytes: int
    #: A code of :data:`REASONS`, and the sentence.
    reason: str
    why: str
    violation: bool = False

    @property
    def route(self) -> str:
        return f"{self.source} -> {self.site_id}" if self.action == "add" else self.site_id

    def job(self) -> dict[str, Any]:
        """The step as the columns of its job row."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Blocked:
    """A version that cannot be made compliant now."""

    bucket: str
    key: str
    version_id: str
    reason: str
    why: str


@dataclass(slots=True)
class Assessment:
    """One version against its policy now: what its copies are and what must change."""

    version: Version
    policy: Policy
    placements: dict[str, Placement]
    #: Sites holding a verified-good (``ok``) copy that the policy accepts.
    held: list[str]
    #: How many of the version's copies the policy can have now (its sites chosen).
    reachable: int
    steps: list[Step]
    blocked: Blocked | None


@dataclass(slots=True)
class Group:
    """Steps (or blocked objects) of one route and reason: how many, bytes, examples."""

    count: int = 0
    bytes: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, nbytes: int, example: str) -> None:
        self.count += 1
        self.bytes += nbytes
        if len(self.examples) < EXAMPLES:
            self.examples.append(example)


@dataclass
class PlanSummary:
    """A plan in bounded memory: totals, and per (action, route, reason) a group."""

    versions: int = 0
    changing: int = 0
    adds: int = 0
    removes: int = 0
    violations: int = 0
    bytes_to_copy: int = 0
    blocked: int = 0
    groups: dict[tuple[str, str, str], Group] = field(default_factory=dict)
    blocked_groups: dict[str, Group] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.adds + self.removes

    @property
    def empty(self) -> bool:
        return not self.steps and not self.blocked

    def add(self, version: Version, steps: list[Step], blocked: Blocked | None) -> None:
        self.versions += 1
        if steps:
            self.changing += 1
        for s in steps:
            nbytes = s.bytes if s.action == "add" else 0
            if s.action == "add":
                self.adds += 1
                self.bytes_to_copy += s.bytes
            else:
                self.removes += 1
                self.violations += s.violation
            group = self.groups.setdefault((s.action, s.route, s.reason), Group())
            group.add(nbytes, f"{s.bucket}/{s.key}")
        if blocked is not None:
            self.blocked += 1
            group = self.blocked_groups.setdefault(blocked.reason, Group())
            group.add(0, f"{version.bucket}/{version.key}")

    def reasons(self) -> list[str]:
        """The codes used, in legend order."""
        used = {r for _, _, r in self.groups} | set(self.blocked_groups)
        return [code for code in REASONS if code in used]

    def to_json(self) -> dict[str, Any]:
        return {
            "versions": self.versions,
            "changing": self.changing,
            "adds": self.adds,
            "removes": self.removes,
            "violations": self.violations,
            "bytes_to_copy": self.bytes_to_copy,
            "blocked": self.blocked,
            "empty": self.empty,
            "groups": [
                {"action": a, "route": route, "reason": reason, **asdict(g)}
                for (a, route, reason), g in sorted(self.groups.items())
            ],
            "cannot_comply": [
                {"reason": reason, **asdict(g)} for reason, g in sorted(self.blocked_groups.items())
            ],
            "legend": {code: REASONS[code] for code in self.reasons()},
        }


#: Called with each step and each blocked version as the plan is made.
OnStep = Callable[[Step | Blocked], None]


def make_plan(
    ctx: EngineContext,
    *,
    bucket: str | None = None,
    on_step: OnStep | None = None,
    on_version: Callable[[list[Step]], None] | None = None,
) -> PlanSummary:
    """What must change for every copy to comply; changes nothing. Each step (and each
    version that cannot comply) goes to ``on_step``; each version's steps together to
    ``on_version``."""
    summary = PlanSummary()
    policies: dict[str, str] = {}  # bucket -> policy name, read once per bucket
    page: list[Version] = []
    for version in ctx.catalog.iter_versions(bucket):
        if version.bucket not in policies:
            policies[version.bucket] = ctx.catalog.get_bucket(version.bucket).policy
        page.append(version)
        if len(page) == _PAGE:
            _plan_page(ctx, page, policies, summary, on_step=on_step, on_version=on_version)
            page = []
    _plan_page(ctx, page, policies, summary, on_step=on_step, on_version=on_version)
    return summary


def _plan_page(
    ctx: EngineContext,
    page: list[Version],
    policies: dict[str, str],
    summary: PlanSummary,
    *,
    on_step: OnStep | None,
    on_version: Callable[[list[Step]], None] | None,
) -> None:
    """Plan ``page``'s versions, their copies and sizes read in one go."""
    copies = ctx.catalog.copies_of([v.version_id for v in page])
    for version in page:
        placements, size = copies[version.version_id]
        found = assess(ctx, version, policy_name=policies[version.bucket], known=(placements, size))
        summary.add(version, found.steps, found.blocked)
        if on_step is not None:
            for s in found.steps:
                on_step(s)
            if found.blocked is not None:
                on_step(found.blocked)
        if on_version is not None and found.steps:
            on_version(found.steps)


def assess(
    ctx: EngineContext,
    version: Version,
    *,
    policy_name: str | None = None,
    known: tuple[list[Placement], int] | None = None,
) -> Assessment:
    """``version``'s copies against its policy now, and the steps that make it comply.
    A caller that read them already gives its bucket's ``policy_name`` and ``known``
    (its placements and ciphertext bytes); else they are read now."""
    vid = version.version_id
    if policy_name is None:
        policy_name = ctx.catalog.get_bucket(version.bucket).policy
    policy = ctx.policy(policy_name)
    copies, size = known if known is not None else ctx.catalog.copies_of([vid])[vid]
    placements = {p.site_id: p for p in copies}
    verdicts = {s: check_copy(policy, ctx.world, s) for s in placements}
    ok = [s for s, p in placements.items() if p.state == "ok"]
    held = [s for s in ok if verdicts[s].accepted]
    sources = [s for s in ok if readable(ctx, s)]
    sources.sort(key=lambda s: (not verdicts[s].accepted, not ctx.health.healthy(s), s))
    decision = decide(
        policy, ctx.world, ctx.health.snapshot(ctx.world.sites), held=held, spread=vid
    )
    targets = list(decision.selected)
    found = Assessment(version, policy, placements, held, len(targets), [], None)

    def step(action: str, site: str, source: str | None, code: str, why: str) -> Step:
        bad = action == "remove" and any(r.residency for r in verdicts[site].reasons)
        return Step(action, version.bucket, version.key, vid, site, source, size, code, why, bad)

    if not sources:
        found.blocked = Blocked(
            version.bucket, version.key, vid, "NOSOURCE", "no readable copy to copy from"
        )
        return found
    if not decision.ok:
        found.blocked = Blocked(
            version.bucket,
            version.key,
            vid,
            "NOSITES",
            f"policy {policy.name} needs {policy.copies} copies; only {len(targets)} compliant "
            "sites are available ('domicile policy explain' for each site's reason)",
        )
    for site in targets:
        if site not in held:
            why = f"policy {policy.name} needs {policy.copies} compliant copies; {len(held)} held"
            found.steps.append(step("add", site, sources[0], "COUNT", why))
    for site, placement in sorted(placements.items()):
        if site in targets:
            continue
        verdict = verdicts[site]
        residency = any(r.residency for r in verdict.reasons)
        if not decision.ok and not residency:
            continue  # never reduce copies of an object that is already short
        if residency and not targets:
            continue  # never delete the last copies: reported as blocked
        if verdict.reasons:
            code = _POLICY_CODES.get(verdict.reasons[0].code, verdict.reasons[0].code.upper())
            why = "; ".join(r.text for r in verdict.reasons)
        elif placement.state == "ok":
            code, why = "EXTRA", f"not needed: {policy.copies} copies are enough"
        else:
            code, why = "BAD", f"copy is {placement.state}"
        found.steps.append(step("remove", site, None, code, why))
    return found


def readable(ctx: EngineContext, site_id: str) -> bool:
    """The site is configured and its status lets copies be read from it."""
    spec = ctx.world.sites.get(site_id)
    return spec is not None and spec.status.readable and site_id in ctx.sites
