"""Placement decision over 1,000 sites with a 5-rule policy: median and p99 per decision.

Run: .venv/bin/python bench/bench_placement.py

The baseline, measured in the same run, is the bare loop over the 1,000 sites touching
each site's country; the ratio says how many such loops one decision costs. The target
is a decision under 1 ms (it runs on every PUT).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from domicile.policy import SiteSpec, SiteStatus, World, decide, load_world

SITES = 1000
RUNS = 3000
TEMPLATES = [
    "aws:eu-central-1",
    "aws:eu-west-1",
    "aws:us-east-1",
    "aws:cn-north-1",
    "alibaba:us-west-1",
    "alibaba:cn-hangzhou",
    "ovhcloud:gra",
    "scaleway:fr-par",
    "hetzner:fsn1",
    "ionos:de-fra",
    "gcp:europe-west3",
    "azure:germanywestcentral",
]


def build_world() -> World:
    """1,000 sites over the registry templates, 40 providers, a few statuses."""
    rnd = random.Random(7)
    sites = {}
    for i in range(SITES):
        status = rnd.choice(["active"] * 17 + ["draining", "suspended", "retired"])
        sites[f"site-{i:04d}"] = {
            "template": rnd.choice(TEMPLATES),
            "provider": f"provider-{rnd.randrange(40)}",
            "status": status,
        }
    policies = {
        "five-rules": {  # allow, deny, deny_subject_to, copies, distinct
            "allow": ["EEA", "CH"],
            "deny": ["HU"],
            "deny_subject_to": ["CN", "RU"],
            "copies": 3,
            "distinct": "provider",
        }
    }
    return load_world({}, sites, policies, source="bench")


def timed(fn: Callable[[], object], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(name: str, samples: list[float], base: float) -> None:
    ordered = sorted(samples)
    median = statistics.median(ordered)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    print(
        f"{name:<44} median {median * 1e6:8.1f} us   p99 {p99 * 1e6:8.1f} us   "
        f"median/baseline {median / base:6.1f}x"
    )


def main() -> None:
    world = build_world()
    policy = world.policies["five-rules"]
    specs: list[SiteSpec] = list(world.sites.values())
    rnd = random.Random(1)
    health = {s: rnd.random() > 0.1 for s in world.sites}
    # The planner's case: one compliant copy held, the others to be chosen.
    held = [decide(policy, world).chosen[0]]
    spreads = [f"version-{i}" for i in range(RUNS)]

    def baseline() -> int:
        n = 0
        for site in specs:
            if site.country:
                n += 1
        return n

    it = iter(range(10**9))
    base = timed(baseline, RUNS)
    base_median = statistics.median(base)
    decide(policy, world, health)  # compile the policy once, as a running gateway has
    cases = {
        "decide(health=None)": lambda: decide(policy, world, spread=spreads[next(it) % RUNS]),
        "decide(health map, 10% unhealthy)": lambda: decide(
            policy, world, health, spread=spreads[next(it) % RUNS]
        ),
        "decide(health map, 1 copy held)": lambda: decide(
            policy, world, health, held=held, spread=spreads[next(it) % RUNS]
        ),
    }
    eligible = sum(1 for s in specs if s.status is SiteStatus.ACTIVE)
    print(f"{SITES} sites ({eligible} active), policy with 5 rules, {RUNS} runs each")
    summary("baseline: bare loop touching site.country", base, base_median)
    for name, fn in cases.items():
        summary(name, timed(fn, RUNS), base_median)
    fresh = [world.with_site_status(specs[0].id, SiteStatus.ACTIVE) for _ in range(20)]
    cold = []
    for w in fresh:
        t0 = time.perf_counter()
        decide(policy, w, health)
        cold.append(time.perf_counter() - t0)
    summary("first decision on a new World (compiles)", cold, base_median)
    decision = decide(policy, world, health)
    t0 = time.perf_counter()
    n = len(decision.verdicts)
    print(
        f"verdicts for all {n} sites (lazy, on demand): {(time.perf_counter() - t0) * 1e3:.2f} ms"
    )


if __name__ == "__main__":
    main()
