"""The placement decision: the one place where residency is decided.

:func:`decide` is a pure function of (policy, world, health, copies held, spread). It keeps
the compliant copies already held first, then ranks the remaining eligible sites by
rendezvous hashing on ``spread`` (so objects spread over equal sites while the same input
always gives the same output) and takes them in that order, skipping any site whose
failure domain already holds a copy, until the policy's ``copies`` are reached. If they
cannot be reached the decision is a refusal: ``chosen`` is empty and every site's verdict
says why (fail closed: no partial placement is ever offered as a choice).
"""

from __future__ import annotations

import hashlib
import heapq
from collections import Counter
from collections.abc import Mapping, Sequence

from domicile.errors import PlacementRefused
from domicile.policy.compiled import Compiled, compiled
from domicile.policy.model import Policy
from domicile.policy.verdicts import DIVERSITY, UNHEALTHY, UNKNOWN_SITE, Reason, Verdict
from domicile.policy.world import World

_M64 = (1 << 64) - 1
_K1 = 0x9E3779B97F4A7C15
_K2 = 0xBF58476D1CE4E5B9


class Decision:
    """The outcome of :func:`decide`.

    ``chosen`` lists the site ids to hold the object (held copies kept first, then new
    sites by rank) when ``ok``; it is empty when the policy cannot be met, and ``missing``
    says how many copies are short. ``verdicts`` (one per configured site, in site-id
    order, then one per unknown held site) are computed on first access.
    """

    __slots__ = ("_selected", "_used", "_verdicts", "compiled", "health", "held", "world")

    def __init__(
        self,
        world: World,
        plan: Compiled,
        *,
        health: Mapping[str, bool] | None,
        held: tuple[str, ...],
        selected: tuple[str, ...],
        used: Mapping[str, str],
    ) -> None:
        self.world = world
        self.compiled = plan
        self.health = health
        self.held = held
        self._selected = selected
        self._used = used
        self._verdicts: tuple[Verdict, ...] | None = None

    @property
    def policy(self) -> Policy:
        """The policy decided for."""
        return self.compiled.policy

    @property
    def missing(self) -> int:
        """How many copies short of ``policy.copies`` the best placement is (0 when ok)."""
        return self.policy.copies - len(self._selected)

    @property
    def unmet(self) -> tuple[str, ...]:
        """The ``require`` terms that no selected site satisfies."""
        country = self.compiled.country or {}
        return tuple(
            term
            for term, places in zip(self.policy.require, self.compiled.required, strict=True)
            if not any(country.get(s) in places for s in self._selected)
        )

    @property
    def ok(self) -> bool:
        """True when ``policy.copies`` sites were chosen and every requirement is met."""
        return self.missing == 0 and not self.unmet

    @property
    def chosen(self) -> tuple[str, ...]:
        """The sites to hold the object, in order; empty when the decision is a refusal."""
        return self._selected if self.ok else ()

    @property
    def selected(self) -> tuple[str, ...]:
        """The best placement found, even when it is short (for explanations and plans)."""
        return self._selected

    @property
    def verdicts(self) -> tuple[Verdict, ...]:
        """One verdict per site: accepted or refused, with every reason."""
        if self._verdicts is None:
            self._verdicts = _verdicts(self)
        return self._verdicts

    def verdict(self, site_id: str) -> Verdict:
        """The verdict for one site (KeyError if the decision did not consider it)."""
        for v in self.verdicts:
            if v.site_id == site_id:
                return v
        raise KeyError(site_id)

    def raise_if_refused(self) -> None:
        """Raise :class:`PlacementRefused` (with this decision attached) unless ``ok``."""
        if self.ok:
            return
        policy = self.policy
        counts = Counter(r.code for v in self.verdicts if not v.accepted for r in v.reasons)
        summary = ", ".join(f"{n} x {code}" for code, n in sorted(counts.items()))
        unmet = f"; no compliant site available in {', '.join(self.unmet)}" if self.unmet else ""
        raise PlacementRefused(
            f"policy {policy.name!r} needs {policy.copies} copies on distinct "
            f"{policy.distinct.value}s; only {len(self._selected)} possible now "
            f"(refusals: {summary or 'none'}){unmet}",
            decision=self,
            policy=policy.name,
            hint=_hint(counts),
        )

    def __repr__(self) -> str:
        state = f"chosen={list(self.chosen)}" if self.ok else f"missing={self.missing}"
        return f"<Decision policy={self.policy.name!r} {state}>"


def decide(
    policy: Policy,
    world: World,
    health: Mapping[str, bool] | None = None,
    held: Sequence[str] = (),
    spread: bytes | str = b"",
) -> Decision:
    """Choose the sites for one object under ``policy``.

    ``health`` maps site ids to observed health (missing ids count as healthy; ``None``
    means all healthy). ``held`` lists sites already holding a copy: each compliant,
    active one is kept (whatever its health: the copy exists) unless its failure domain
    is already taken, and counts toward ``copies``. ``spread`` (e.g. the version id) seeds
    the rendezvous ranking of the other sites. Pure and deterministic.
    """
    plan = compiled(world, policy)
    copies = policy.copies
    selected: list[str] = []
    used: dict[str, str] = {}
    held_t = tuple(dict.fromkeys(held))
    keep = [s for s in held_t if s not in plan.refusals and s in world.sites]
    if plan.required:
        _meet_requirements(plan, health, spread, keep=keep, selected=selected, used=used)
    for sid in keep:
        if len(selected) == copies:
            break
        dom = plan.domain[sid]
        if dom not in used:
            used[dom] = sid
            selected.append(sid)
    need = copies - len(selected)
    if need > 0:
        _rank_into(plan, health, spread=spread, need=need, selected=selected, used=used)
    return Decision(world, plan, health=health, held=held_t, selected=tuple(selected), used=used)


def check_copy(policy: Policy, world: World, site_id: str) -> Verdict:
    """Is a copy on ``site_id`` still compliant with ``policy``? (health ignored)

    Accepted when the site passes every residency rule and is ``active``. A draining,
    suspended or retired site gets a ``status`` reason (its copy must be replaced); a site
    missing from the configuration gets ``unknown_site``.
    """
    if site_id not in world.sites:
        return _unknown(site_id)
    plan = compiled(world, policy)
    reasons = plan.refusals.get(site_id, ())
    return Verdict(site_id, not reasons, reasons, held=True, notes=plan.notes.get(site_id, ()))


def _meet_requirements(
    plan: Compiled,
    health: Mapping[str, bool] | None,
    spread: bytes | str,
    *,
    keep: list[str],
    selected: list[str],
    used: dict[str, str],
) -> None:
    """For each ``require`` term: a held copy there, else the best new site there."""
    country = plan.country or {}

    def met(places: frozenset[str]) -> bool:
        return any(country[s] in places for s in selected)

    for places in plan.required:
        if met(places) or len(selected) >= plan.policy.copies:
            continue
        for sid in keep:
            if country[sid] in places and plan.domain[sid] not in used:
                used[plan.domain[sid]] = sid
                selected.append(sid)
                break
        else:
            _rank_into(
                plan, health, spread=spread, need=1, selected=selected, used=used, within=places
            )


def _rank_into(
    plan: Compiled,
    health: Mapping[str, bool] | None,
    *,
    spread: bytes | str,
    need: int,
    selected: list[str],
    used: dict[str, str],
    within: frozenset[str] | None = None,
) -> None:
    raw = spread.encode() if isinstance(spread, str) else bytes(spread)
    m = int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")
    ids, hashes = plan.eligible_ids, plan.eligible_hashes
    idx: Sequence[int]
    if health is None and not selected:
        idx = range(len(ids))
    else:
        taken = set(selected)
        get = health.get if health is not None else lambda _s, _d: True
        if taken:
            idx = [i for i, s in enumerate(ids) if s not in taken and get(s, True)]
        else:
            idx = [i for i, s in enumerate(ids) if get(s, True)]
    if within is not None:
        country = plan.country or {}
        idx = [i for i in idx if country[ids[i]] in within]
    # Rendezvous score per candidate. Only ints are allocated (no tuples), so the hot path
    # does not feed the cyclic garbage collector.
    scores = [(((hashes[i] ^ m) * _K1) & _M64) * _K2 >> 64 for i in idx]
    target = len(selected) + need
    width = min(len(scores), 4 * need + 4)
    # Walk the candidates in descending score (ties: site-id order); a short prefix is
    # almost always enough, the full sort only runs when failure domains repeat a lot.
    order = heapq.nlargest(width, range(len(scores)), key=scores.__getitem__)
    if _take(plan, idx, order, target=target, selected=selected, used=used) and width < len(scores):
        rest = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[width:]
        _take(plan, idx, rest, target=target, selected=selected, used=used)


def _take(
    plan: Compiled,
    idx: Sequence[int],
    order: list[int],
    *,
    target: int,
    selected: list[str],
    used: dict[str, str],
) -> bool:
    """Append sites of unseen failure domains in ``order``; True if still short."""
    ids, domains = plan.eligible_ids, plan.eligible_domains
    for j in order:
        if len(selected) >= target:
            return False
        i = idx[j]
        if domains[i] not in used:
            used[domains[i]] = ids[i]
            selected.append(ids[i])
    return len(selected) < target


def _verdicts(decision: Decision) -> tuple[Verdict, ...]:
    plan = decision.compiled
    health = decision.health
    chosen = set(decision.selected)
    held = set(decision.held)
    used = decision._used
    out: list[Verdict] = []
    for sid in decision.world.sites:
        reasons = list(plan.refusals.get(sid, ()))
        notes = list(plan.notes.get(sid, ()))
        healthy = health is None or health.get(sid, True)
        if not healthy:
            if sid in chosen:
                notes.append("observed unhealthy; the copy it holds still counts")
            else:
                reasons.append(Reason(UNHEALTHY, "site is unhealthy (observed failing)"))
        owner = used.get(plan.domain[sid])
        if not reasons and sid not in chosen and owner is not None:
            distinct = decision.policy.distinct.value
            reasons.append(
                Reason(
                    DIVERSITY,
                    f"{distinct} {plan.domain[sid]} already holds a copy on site {owner}",
                    {"distinct": distinct, "domain": plan.domain[sid], "site": owner},
                )
            )
        out.append(
            Verdict(sid, not reasons, tuple(reasons), sid in chosen, sid in held, tuple(notes))
        )
    out.extend(_unknown(sid) for sid in decision.held if sid not in decision.world.sites)
    return tuple(out)


def _unknown(site_id: str) -> Verdict:
    reason = Reason(
        UNKNOWN_SITE,
        f"site {site_id} is not in the configuration: its copy cannot be checked",
        {"site": site_id},
    )
    return Verdict(site_id, False, (reason,), held=True)


def _hint(counts: Mapping[str, int]) -> str:
    tips = []
    if counts.get(UNHEALTHY):
        tips.append("wait for the unhealthy sites to recover ('domicile sites')")
    if counts.get("status"):
        tips.append("reactivate a drained or suspended site")
    tips.append("add a compliant site in another failure domain, or lower the policy's copies")
    return "; ".join(tips) + " ('domicile policy explain BUCKET' shows every site's verdict)"
