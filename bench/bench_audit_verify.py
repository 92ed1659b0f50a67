"""What ``placement_verified`` records cost a ``verify --level full``.

Run: .venv/bin/python bench/bench_audit_verify.py [--versions 5000] [--rounds 3] [--size 1024]

One deployment (two local-folder sites, two copies per object, SQLite catalog) holding
``--versions`` small objects, so 2 x versions copies (10,000 by default): small objects
make a record's share of the work the largest it gets. Each round runs a full verify once
per arm, the order rotating from round to round:

- ``batched``: as shipped, one ``placement_verified`` record per verified copy, appended
  ``engine.verify.BATCH`` (500) at a time in one catalog transaction;
- ``each``: the same records, one catalog transaction each (``BATCH = 1``);
- ``none``: the audit log detached (``ctx.audit = None``): no record at all.

Prints each arm's seconds per round and, over all rounds, each arm's time over ``none``
(the issue's bound for the shipped arm: <= ~1.10). On a loaded machine the verify arms are
noisy, so it then also times the appends alone (as many records as there are copies, into
the same catalog, best of 3) in batches and one at a time, against the mean ``none`` verify.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import domicile
from domicile.catalog import Version
from domicile.engine import verify as verify_mod

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_engine import make_deployment  # the same two-site deployment

ARMS = ("batched", "each", "none")


def timed_verify(engine: domicile.Domicile, arm: str) -> float:
    ctx = engine.context
    audit, batch = ctx.audit, verify_mod.BATCH
    if arm == "none":
        ctx.audit = None
    if arm == "each":
        verify_mod.BATCH = 1
    try:
        start = time.perf_counter()
        report = engine.verify("full")
        took = time.perf_counter() - start
    finally:
        ctx.audit, verify_mod.BATCH = audit, batch
    assert report.ok, report.problems[:3]
    return took


def append_only(engine: domicile.Domicile, version: Version, n: int, size: int) -> float:
    batch = verify_mod.VerifiedBatch(engine.context, size)
    start = time.perf_counter()
    for i in range(n):
        batch.add(verify_mod.Level.FULL, version, "a" if i % 2 else "b")
    batch.flush()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=5000, help="objects (2 copies each)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (every arm each)")
    parser.add_argument("--size", type=int, default=1024, help="object size in bytes")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the deployment")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        config = make_deployment(Path(tmp))
        with domicile.open(config) as engine:
            for i in range(args.versions):
                engine.put("bench", f"o/{i:06d}", os.urandom(args.size))
            copies = len(engine.where("bench", "o/000000"))
            print(
                f"full verify of {args.versions} objects of {args.size} B, {copies} copies "
                f"each ({copies * args.versions} copies); {args.rounds} rounds"
            )
            timed_verify(engine, "none")  # warm the page cache and the catalog
            totals = dict.fromkeys(ARMS, 0.0)
            for r in range(args.rounds):
                order = ARMS[r % 3 :] + ARMS[: r % 3]
                spent = {arm: timed_verify(engine, arm) for arm in order}
                for arm in ARMS:
                    totals[arm] += spent[arm]
                print(f"round {r}: " + ", ".join(f"{a} {spent[a]:6.2f} s" for a in ARMS))
            verified = sum(1 for x in engine.audit.records() if x.action == "placement_verified")
            n = copies * args.versions
            none = totals["none"] / args.rounds
            version = engine.context.catalog.current_version("bench", "o/000000")
            for size in (verify_mod.BATCH, 1):
                took = min(append_only(engine, version, n, size) for _ in range(3))
                print(
                    f"appending {n} placement_verified records, {size} per transaction: "
                    f"{took:.2f} s = {100 * took / none:.1f} % of a verify without records"
                )
    print(f"placement_verified records appended: {verified}")
    for arm in ("batched", "each"):
        print(f"{arm} / none: {totals[arm] / totals['none']:.3f}")
    print("(bound for the shipped, batched arm: <= ~1.10)")


if __name__ == "__main__":
    main()
