"""Today's residency facts: where every copy rests, who can compel it, and whether it may.

:func:`build_report` walks the catalog once (every current version of the buckets in
scope, and its placements), judges each copy with :func:`domicile.policy.check_copy` (the
one place residency is decided), counts the copies domicile can vouch are readable
(:mod:`domicile.engine.facts.readable`) against each policy's ``copies``, and verifies the
audit chain. It returns a
:class:`~domicile.engine.facts.model.Report`; the figures are defined in
``docs/reports.md`` and the renderers live in :mod:`domicile.report`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence

from domicile.catalog import Bucket, Placement, Version
from domicile.engine.context import EngineContext
from domicile.engine.deflog import fingerprint
from domicile.engine.facts.evidence import VerificationTally, chain_status, registry_info
from domicile.engine.facts.model import (
    BucketPolicy,
    CopyCounts,
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
from domicile.engine.sitelog import definition_of
from domicile.policy import Policy, Verdict, check_copy, countries, subject_to

UNKNOWN = "?"  # country, operator or status of a site that is no longer configured


def build_report(
    ctx: EngineContext,
    *,
    deployment: str,
    bucket: str | None = None,
    tenant: str | None = None,
    now: float | None = None,
    details: bool = False,
) -> Report:
    """The report for one bucket, one tenant's buckets, or (neither given) everything.

    One pass over the catalog, a page at a time, holding only the aggregates: its memory
    does not grow with the objects. The per-object rows (every violation and shortfall)
    are counted; ``details`` also keeps them in the report (memory grows with them then:
    :func:`report_rows` streams them instead)."""
    scope, buckets = _scope(ctx, bucket, tenant)
    tally = _Tallies(ctx, readability(ctx), keep=details)
    for b in buckets:
        policy = ctx.policy(b.policy)
        for version, placements in ctx.catalog.iter_placed(b.name):
            tally.add(policy, version, placements)
    tally.finish()
    return Report(
        deployment=deployment,
        generated_at=time.time() if now is None else now,
        scope=scope,
        objects=tally.objects,
        bytes=tally.bytes,
        copies=tally.copies,
        by_country=tally.rows("country", countries()),
        by_operator=tally.rows("operator", {e.id: e.name for e in ctx.world.entities.values()}),
        by_exposure=tally.rows("exposure", countries()),
        by_site=tally.sites(),
        violations=tuple(tally.violations),
        shortfalls=tuple(tally.shortfalls),
        buckets=tuple(BucketPolicy(b.name, b.tenant, b.policy) for b in buckets),
        policies=tuple(policy_rules(ctx.policy(n)) for n in sorted({b.policy for b in buckets})),
        copy_counts=tally.copy_counts(),
        states=tuple(sorted(tally.states.items())),
        verification=tally.verified.result(),
        chain=chain_status(ctx.audit),
        registry=registry_info(ctx.world.registry, ctx.registry_warnings),
        violation_count=tally.violation_count,
        shortfall_count=tally.shortfall_count,
        unreadable_count=tally.unreadable_count,
        details=details,
    )


def report_rows(
    ctx: EngineContext, *, bucket: str | None = None, tenant: str | None = None
) -> Iterator[Violation | Shortfall]:
    """Every violation and shortfall of the report's scope, as the catalog is read (one
    pass, a page at a time): a copy's violation as it is judged, an object's shortfall
    after its copies'. What ``report --details`` prints."""
    _, buckets = _scope(ctx, bucket, tenant)
    tally = _Tallies(ctx, readability(ctx), keep=True)
    for b in buckets:
        policy = ctx.policy(b.policy)
        for version, placements in ctx.catalog.iter_placed(b.name):
            tally.add(policy, version, placements)
            yield from tally.violations
            yield from tally.shortfalls
            tally.violations.clear()
            tally.shortfalls.clear()


def _scope(
    ctx: EngineContext, bucket: str | None, tenant: str | None
) -> tuple[Scope, list[Bucket]]:
    if bucket is not None and tenant is not None:
        raise ValueError("a report covers one bucket or one tenant, not both")
    if bucket is not None:
        buckets = [ctx.catalog.get_bucket(bucket)]
        kind, name = "bucket", bucket
    elif tenant is not None:
        buckets = ctx.catalog.list_buckets(tenant)
        kind, name = "tenant", tenant
    else:
        buckets = ctx.catalog.list_buckets(None)
        kind, name = "all", None
    return Scope(kind, name, tuple(b.name for b in buckets)), buckets


class _Group:
    """Accumulates one Tally: objects and bytes once per object, copies each."""

    __slots__ = ("bytes", "copies", "objects")

    def __init__(self) -> None:
        self.objects = self.bytes = self.copies = 0

    def figures(self) -> tuple[int, int, int]:
        return self.objects, self.bytes, self.copies


#: The breakdowns, each keyed by what a copy's site says about it.
DIMENSIONS = ("country", "operator", "exposure", "site")


class _Shape:
    """What every object of one shape adds up to: one policy, and copies on the same
    sites in the same states, readable or not for the same reason. The deployment has few
    shapes however many objects it holds, so each is judged once (:meth:`_Tallies.add`
    only counts the objects and bytes of each) and spread over the breakdowns at the end."""

    __slots__ = (
        "bytes",
        "elsewhere",
        "good",
        "objects",
        "readable",
        "refused",
        "short",
        "uncounted",
        "unreadable",
    )

    def __init__(self) -> None:
        self.objects = self.bytes = 0
        self.good = self.readable = self.elsewhere = 0
        self.refused: list[tuple[int, Verdict]] = []  # (index of the copy, why refused)
        self.uncounted: tuple[UncountedCopy, ...] = ()
        self.short = self.unreadable = False


#: A shape's key: the policy's name and, per copy, (site, state, why it is not readable).
ShapeKey = tuple[str, tuple[tuple[str, str, str | None], ...]]


class _Tallies:
    """The one pass over the catalog; per-site facts computed once per (policy, site),
    per-object facts once per shape of object (:class:`_Shape`)."""

    def __init__(self, ctx: EngineContext, readable: Readability, *, keep: bool) -> None:
        self._ctx = ctx
        self._keep = keep  # the per-object rows; else only counted
        self._readable = readable
        self._verdicts: dict[tuple[str, str], Verdict] = {}
        self._keys: dict[str, list[tuple[str, str]]] = {}
        self._shapes: dict[ShapeKey, _Shape] = {}
        self.objects = self.bytes = self.copies = 0
        self.groups: dict[str, dict[str, _Group]] = {d: {} for d in DIMENSIONS}
        self.violations: list[Violation] = []
        self.shortfalls: list[Shortfall] = []
        self.good: dict[str, Counter[int]] = {}
        self.violation_count = self.shortfall_count = self.unreadable_count = 0
        self.states: Counter[str] = Counter()
        self.verified = VerificationTally()

    def add(self, policy: Policy, version: Version, placements: Sequence[Placement]) -> None:
        """Count one object version and each of its copies."""
        size = version.size
        self.objects += 1
        self.bytes += size
        self.copies += len(placements)
        why_not, verified = self._readable.why_not, self.verified
        for p in placements:
            verified.add(p.verified_at)
        key = (policy.name, tuple((p.site_id, p.state, why_not(p)) for p in placements))
        shape = self._shapes.get(key)
        if shape is None:
            shape = self._shapes[key] = self._judge(policy, key)
        shape.objects += 1
        shape.bytes += size
        self.violation_count += len(shape.refused)
        if shape.short:
            self.shortfall_count += 1
            self.unreadable_count += shape.unreadable
        if not self._keep:
            return
        for i, verdict in shape.refused:
            self.violations.append(_violation(self._ctx, policy, version, placements[i], verdict))
        if shape.short:
            self.shortfalls.append(
                Shortfall(
                    bucket=version.bucket,
                    key=version.key,
                    version_id=version.version_id,
                    policy=policy.name,
                    required=policy.copies,
                    readable=shape.readable,
                    readable_elsewhere=shape.elsewhere,
                    uncounted=shape.uncounted,
                )
            )

    def _judge(self, policy: Policy, key: ShapeKey) -> _Shape:
        """The facts of every object of shape ``key``: good and readable copies, refused
        ones, and why the others do not count."""
        shape = _Shape()
        uncounted: list[UncountedCopy] = []
        for i, (site_id, state, why) in enumerate(key[1]):
            verdict = self._verdict(policy, site_id)
            shape.good += state == "ok" and verdict.accepted
            if not verdict.compliant:
                shape.refused.append((i, verdict))
            if why is None and verdict.compliant:
                shape.readable += 1
            elif why is None:
                shape.elsewhere += 1
                uncounted.append(UncountedCopy(site_id, "on a site the policy refuses"))
            else:
                uncounted.append(UncountedCopy(site_id, why))
        shape.uncounted = tuple(uncounted)
        shape.short = shape.readable < policy.copies
        shape.unreadable = shape.readable + shape.elsewhere == 0
        return shape

    def finish(self) -> None:
        """Spread every shape's objects over the breakdowns, states and copy counts."""
        for (policy, copies), shape in self._shapes.items():
            n, size = shape.objects, shape.bytes
            self.good.setdefault(policy, Counter())[shape.good] += n
            seen: set[tuple[str, str]] = set()
            for site_id, state, _ in copies:
                self.states[state] += n
                for dim_key in self._dimension_keys(site_id):
                    group = self.groups[dim_key[0]].setdefault(dim_key[1], _Group())
                    group.copies += n
                    if dim_key not in seen:
                        seen.add(dim_key)
                        group.objects += n
                        group.bytes += size
        self._shapes.clear()

    def _verdict(self, policy: Policy, site_id: str) -> Verdict:
        key = (policy.name, site_id)
        if key not in self._verdicts:
            self._verdicts[key] = check_copy(policy, self._ctx.world, site_id)
        return self._verdicts[key]

    def _dimension_keys(self, site_id: str) -> list[tuple[str, str]]:
        """(dimension, key) for a copy on ``site_id``: its country, operator, site and
        every jurisdiction its operator is subject to."""
        if site_id not in self._keys:
            spec = self._ctx.world.sites.get(site_id)
            self._keys[site_id] = [
                ("country", spec.country if spec else UNKNOWN),
                ("operator", spec.operator if spec else UNKNOWN),
                ("site", site_id),
                *(("exposure", j) for j in _jurisdictions(self._ctx, site_id)),
            ]
        return self._keys[site_id]

    def rows(self, dimension: str, names: Mapping[str, str]) -> tuple[Tally, ...]:
        """The breakdown along ``dimension``, most bytes first."""
        rows = [
            Tally(key, names.get(key, _UNKNOWN_NAME if key == UNKNOWN else key), *g.figures())
            for key, g in self.groups[dimension].items()
        ]
        return tuple(sorted(rows, key=lambda t: (-t.bytes, -t.copies, t.id)))

    def sites(self) -> tuple[SiteTally, ...]:
        """Every configured site (holding copies or not), and unconfigured ones that do."""
        world = self._ctx.world
        held = self.groups["site"]
        out = []
        for site_id in sorted({*world.sites, *held}):
            spec = world.sites.get(site_id)
            objects, size, _ = (held.get(site_id) or _Group()).figures()
            out.append(
                SiteTally(
                    id=site_id,
                    country=spec.country if spec else UNKNOWN,
                    operator=spec.operator if spec else UNKNOWN,
                    provider=spec.provider if spec else UNKNOWN,
                    status=spec.status.value if spec else "unknown",
                    subject_to=_jurisdictions(self._ctx, site_id),
                    objects=objects,
                    bytes=size,
                    fingerprint=fingerprint(definition_of(world, spec)) if spec else None,
                )
            )
        return tuple(out)

    def copy_counts(self) -> tuple[CopyCounts, ...]:
        """Per policy, the distribution of good copies per object."""
        return tuple(
            CopyCounts(
                policy=name,
                required=self._ctx.policy(name).copies,
                objects=sum(counter.values()),
                distribution=tuple(sorted(counter.items())),
            )
            for name, counter in sorted(self.good.items())
        )


_UNKNOWN_NAME = "site not configured"


def _jurisdictions(ctx: EngineContext, site_id: str) -> tuple[str, ...]:
    spec = ctx.world.sites.get(site_id)
    if spec is None:
        return (UNKNOWN,)
    return tuple(j for j, _ in subject_to(ctx.world, spec.operator))


def _violation(
    ctx: EngineContext, policy: Policy, version: Version, p: Placement, verdict: Verdict
) -> Violation:
    spec = ctx.world.sites.get(p.site_id)
    residency = [r for r in verdict.reasons if r.residency]
    return Violation(
        bucket=version.bucket,
        key=version.key,
        version_id=version.version_id,
        site_id=p.site_id,
        policy=policy.name,
        country=spec.country if spec else UNKNOWN,
        operator=spec.operator if spec else UNKNOWN,
        codes=tuple(r.code for r in residency),
        reasons=tuple(r.text for r in residency),
    )
