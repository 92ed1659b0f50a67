"""What the audit log's evidence costs a small PUT: shipping the history to the sites and
signing the tree checkpoint, on vs off, measured in the same run.

Run: .venv/bin/python bench/bench_audit_ship.py [--block 250] [--rounds 6] [--dir PATH]

One deployment (two local-folder sites, two copies per object, SQLite catalog), one open
engine, ``checkpoint_every`` = ``--block``. "on" is the engine as shipped: at each
checkpoint the chain head is verified and signed, the records since the last checkpoint
are shipped to both sites as an encrypted ``alog-`` segment, and the tree checkpoint is
signed and written as ``tlog-`` (no witness: that is network time, not ours). "off" is the
same engine with history shipping and the tree detached: the chain checkpoint alone. The
arms alternate in blocks of ``--block`` puts, so that each block contains exactly one
checkpoint and pays for it, and drift of the machine falls on both arms alike. Each round
prints both arms' throughput and their ratio; the headline is the ratio over all rounds.
Goal (issue 15): the evidence costs at most 5 % (ratio >= 0.95).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import domicile

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_engine import make_deployment  # the same two-site deployment

SIZE = 64 * 1024


def block(engine: domicile.Domicile, tag: str, n: int, bodies: list[bytes]) -> float:
    start = time.perf_counter()
    for i in range(n):
        engine.put("bench", f"{tag}/{i:06d}", bodies[i % len(bodies)])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--block", type=int, default=250, help="puts per block (one checkpoint)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds of one block per arm")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the deployment")
    args = parser.parse_args()
    bodies = [os.urandom(SIZE) for _ in range(64)]
    totals = {"on": 0.0, "off": 0.0}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        config = make_deployment(Path(tmp))
        text = config.read_text()
        config.write_text(
            text.replace("[deployment]\n", f"[deployment]\ncheckpoint_every = {args.block}\n", 1)
        )
        with domicile.open(config) as engine:
            audit = engine.audit
            history, tree = list(audit._history), audit.tree
            block(engine, "warm", args.block, bodies)
            print(f"64 KiB puts, 2 copies, a checkpoint every {args.block} puts")
            for r in range(args.rounds):
                spent = {}
                for arm in ("on", "off") if r % 2 == 0 else ("off", "on"):
                    audit._history = history if arm == "on" else []
                    audit.tree = tree if arm == "on" else None
                    spent[arm] = block(engine, f"r{r}{arm}", args.block, bodies)
                    totals[arm] += spent[arm]
                on, off = args.block / spent["on"], args.block / spent["off"]
                print(
                    f"round {r}: on {on:7.1f} puts/s, off {off:7.1f} puts/s, ratio {on / off:.3f}"
                )
            audit._history, audit.tree = history, tree
        segments = sum(1 for p in (Path(tmp) / "sites").rglob("alog-*"))
    done = args.block * args.rounds
    on, off = done / totals["on"], done / totals["off"]
    print(f"evidence on : {on:7.1f} puts/s")
    print(f"evidence off: {off:7.1f} puts/s")
    print(f"ratio on/off: {on / off:.3f} (goal >= 0.95); {segments} history segments written")


if __name__ == "__main__":
    main()
