"""Group commit on the PUT path: 64 KiB engine PUTs from 16 threads, grouped or not.

Each round puts ``--count`` new 64 KiB objects (two local-folder copies, encrypted, as
``bench_engine.py``) from ``--threads`` threads, once with group commit as shipped
(``groupcommit.MAX_BATCH``) and once with batches of one (one transaction per commit, the
baseline), interleaved so that machine noise hits both alike; the medians are printed
with their ratio.

Run: ``.venv/bin/python bench/bench_groupcommit.py [--count 1600] [--threads 16]
[--rounds 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import domicile
from bench_engine import make_deployment
from domicile.catalog import groupcommit


def puts_per_second(d: domicile.Domicile, tag: str, count: int, threads: int) -> float:
    data = os.urandom(64 * 1024)

    def work(t: int) -> None:
        for i in range(t, count, threads):
            d.put("bench", f"{tag}/{i:06d}", data)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1600)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    shipped = groupcommit.MAX_BATCH
    rates: dict[int, list[float]] = {shipped: [], 1: []}
    with (
        tempfile.TemporaryDirectory(dir="/var/tmp") as tmp,
        domicile.open(make_deployment(Path(tmp))) as d,
    ):
        puts_per_second(d, "warm", args.count // 4, args.threads)
        for r in range(args.rounds):
            for batch in (1, shipped):
                groupcommit.MAX_BATCH = batch
                rates[batch].append(puts_per_second(d, f"r{r}b{batch}", args.count, args.threads))
    groupcommit.MAX_BATCH = shipped
    grouped, single = statistics.median(rates[shipped]), statistics.median(rates[1])
    print(f"64 KiB PUTs, {args.threads} threads, {args.count} per round, {args.rounds} rounds")
    print(f"  one transaction per commit  {single:7.0f}/s  {[round(x) for x in rates[1]]}")
    print(
        f"  group commit (<= {shipped})      {grouped:7.0f}/s  {[round(x) for x in rates[shipped]]}"
    )
    print(f"  ratio grouped / single      {grouped / single:7.2f}")


if __name__ == "__main__":
    main()
