"""PUT throughput of 64 KiB objects with auditing on vs off, measured in the same run.

Run: .venv/bin/python bench/bench_audit_put.py [--objects 400] [--rounds 5] [--dir PATH]

One deployment (two local-folder sites, two copies per object, SQLite catalog), one open
engine. "on" is the engine as shipped: each PUT appends its audit record in the catalog
transaction that commits the version, and a checkpoint is signed and written to both sites
every ``checkpoint_every`` (1,000) records or 60 s. "off" is the same engine with its audit
log detached (``ctx.audit = None``: the configuration has no switch to disable auditing, by
design). The arms alternate put by put (on, off, on, off, ...), each put timed alone, so
that drift of the machine (page cache, WAL growth, other processes) falls on both arms
alike. Each round prints both arms' throughput (puts per second of that arm's own time)
and their ratio; the headline is the ratio over all rounds. Goal (issue 8): >= 0.95.

Sealing (issue 15: verify the records since the last checkpoint, read each site's file of
that seq, sign, write it once) is timed apart inside the "on" arm: the share of the "on"
arm's time spent sealing is printed too (goal: <= 5 %). ``--checkpoint-every N`` sets the
cadence (default 1,000 as shipped; a small N magnifies the cost of sealing).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import domicile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_engine import make_deployment  # the same two-site deployment

SIZE = 64 * 1024


def put_round(
    engine: domicile.Domicile, tag: str, objects: int, bodies: list[bytes]
) -> dict[str, float]:
    """Seconds spent by each arm over ``objects`` puts of 64 KiB, arms alternating."""
    ctx = engine.context
    audit = ctx.audit
    spent = {"on": 0.0, "off": 0.0}
    try:
        for i in range(objects):
            arm = "on" if i % 2 == 0 else "off"
            ctx.audit = audit if arm == "on" else None
            start = time.perf_counter()
            engine.put("bench", f"{tag}/{i:06d}", bodies[i % len(bodies)])
            spent[arm] += time.perf_counter() - start
    finally:
        ctx.audit = audit
    return spent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=400, help="puts per round (both arms)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the deployment")
    parser.add_argument("--checkpoint-every", type=int, default=1000, help="records per checkpoint")
    args = parser.parse_args()
    bodies = [os.urandom(SIZE) for _ in range(64)]
    per_arm = args.objects // 2
    totals = {"on": 0.0, "off": 0.0}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        config = make_deployment(Path(tmp))
        text = config.read_text()
        every = f"[deployment]\ncheckpoint_every = {args.checkpoint_every}\n"
        config.write_text(text.replace("[deployment]\n", every, 1))
        with domicile.open(config) as engine:
            sealing = time_sealing(engine)
            put_round(engine, "warm", 100, bodies)  # warm caches and the catalog
            print(f"64 KiB puts, 2 copies; {args.rounds} rounds of {per_arm} puts per arm")
            for r in range(args.rounds):
                spent = put_round(engine, f"r{r}", 2 * per_arm, bodies)
                on, off = per_arm / spent["on"], per_arm / spent["off"]
                print(
                    f"round {r}: on {on:7.1f} puts/s, off {off:7.1f} puts/s, ratio {on / off:.3f}"
                )
                for arm in totals:
                    totals[arm] += spent[arm]
            records = sum(1 for _ in engine.audit.records())
            sealed = sealing()
    done = per_arm * args.rounds
    on, off = done / totals["on"], done / totals["off"]
    print(f"audit on : {on:7.1f} puts/s")
    print(f"audit off: {off:7.1f} puts/s")
    print(f"ratio on/off: {on / off:.3f} (goal >= 0.95)")
    print(f"{records} audit records in the chain, checkpoints included")
    print(
        f"sealing: {sealed[0]} checkpoints, {sealed[1]:.3f} s, "
        f"{100 * sealed[1] / (totals['on'] + 1e-12):.2f} % of the audited arm's time (goal <= 5 %)"
    )


def time_sealing(engine: domicile.Domicile) -> Callable[[], tuple[int, float]]:
    """Wrap the engine's sealer to time every seal; return a reader of (seals, seconds)."""
    sealer = engine.audit._sealer  # a benchmark looks inside
    real = sealer.seal
    spent = [0, 0.0]

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            spent[1] += time.perf_counter() - start
            spent[0] += 1

    sealer.seal = timed  # type: ignore[method-assign]
    return lambda: (int(spent[0]), float(spent[1]))


if __name__ == "__main__":
    main()
