"""The PostgreSQL catalog against SQLite, and the audit chain under 16 writers, in one run.

1. **Engine 64 KiB PUT/GET, PostgreSQL vs SQLite.** Two deployments alike (two local-folder
   sites, two copies, encrypted) but for their catalog: a SQLite file, or a database on a
   private PostgreSQL server started here (testbed/postgres.py, fsync on, synchronous
   commits as ``--synchronous-commit`` says: ``off`` by default, the durability of SQLite's
   ``synchronous=NORMAL`` in WAL mode that domicile uses: a power cut may lose the last
   commits, never corrupts; ``on`` waits for the WAL flush at every commit). Each round
   puts ``--count`` new objects from ``--threads`` threads, then gets them all back, on
   one deployment then the other (interleaved A/B rounds, so machine noise falls on both).
   Goal (issue 18): PG/SQLite >= 0.8.
2. **Audit appends with 16 concurrent writers vs without audit**, on each catalog: the same
   PUT round with the engine's audit log attached (as shipped) or detached (``ctx.audit =
   None``, as bench_audit_put.py), interleaved. Goal: with/without >= 0.9.

Run: ``.venv/bin/python bench/bench_postgres.py [--count 800] [--threads 16] [--rounds 3]
[--synchronous-commit off|on]``.
The medians of the rounds are printed with their ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_engine import make_deployment
from testbed.postgres import postgres_server

import domicile

SIZE = 64 * 1024


def in_threads(threads: int, count: int, work: Callable[[int], None]) -> float:
    """Items per second of ``work(i)`` for i in range(count), spread over ``threads``."""

    def run(t: int) -> None:
        for i in range(t, count, threads):
            work(i)

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return count / (time.perf_counter() - start)


def put_get(d: domicile.Domicile, tag: str, count: int, threads: int) -> tuple[float, float]:
    data = os.urandom(SIZE)
    puts = in_threads(threads, count, lambda i: d.put("bench", f"{tag}/{i:06d}", data))
    gets = in_threads(threads, count, lambda i: d.get("bench", f"{tag}/{i:06d}").read())
    return puts, gets


def deployment(root: Path, catalog: str | None) -> Path:
    path = make_deployment(root)
    if catalog:
        text = path.read_text().replace("[deployment]\n", f'[deployment]\ncatalog = "{catalog}"\n')
        path.write_text(text)
    return path


def fmt(rates: list[float]) -> str:
    return f"{statistics.median(rates):7.0f}/s  {[round(x) for x in rates]}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=800)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--synchronous-commit", choices=["on", "off"], default="off")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(dir="/var/tmp") as tmp,
        postgres_server(durable=True, synchronous_commit=args.synchronous_commit == "on") as pg,
    ):
        pg_url = pg.create_database("bench").replace("postgresql+psycopg://", "postgresql://")
        paths = {
            "sqlite": deployment(Path(tmp) / "sqlite", None),
            "postgresql": deployment(Path(tmp) / "pg", pg_url),
        }
        engines = {kind: domicile.open(path) for kind, path in paths.items()}
        try:
            puts: dict[str, list[float]] = {k: [] for k in engines}
            gets: dict[str, list[float]] = {k: [] for k in engines}
            audited: dict[tuple[str, bool], list[float]] = {
                (k, on): [] for k in engines for on in (True, False)
            }
            for d in engines.values():
                put_get(d, "warm", args.count // 4, args.threads)
            for r in range(args.rounds):
                for kind, d in engines.items():
                    p, g = put_get(d, f"r{r}", args.count, args.threads)
                    puts[kind].append(p)
                    gets[kind].append(g)
                for kind, d in engines.items():
                    ctx = d.context
                    audit = ctx.audit
                    for on in (True, False) if r % 2 == 0 else (False, True):
                        ctx.audit = audit if on else None
                        try:
                            rate, _ = put_get(d, f"a{r}{on}", args.count, args.threads)
                        finally:
                            ctx.audit = audit
                        audited[(kind, on)].append(rate)
        finally:
            for d in engines.values():
                d.close()
    med = statistics.median
    print(
        f"64 KiB objects, {args.threads} threads, {args.count}/round, {args.rounds} rounds,"
        f" PostgreSQL synchronous_commit={args.synchronous_commit}"
    )
    for kind in ("sqlite", "postgresql"):
        print(f"  {kind:10s} PUT {fmt(puts[kind])}   GET {fmt(gets[kind])}")
    put_ratio = med(puts["postgresql"]) / med(puts["sqlite"])
    get_ratio = med(gets["postgresql"]) / med(gets["sqlite"])
    print(f"  ratio PG/SQLite  PUT {put_ratio:5.2f}   GET {get_ratio:5.2f}   (goal >= 0.8)")
    for kind in ("sqlite", "postgresql"):
        on, off = audited[(kind, True)], audited[(kind, False)]
        print(f"  {kind:10s} PUT audit on {fmt(on)}  off {fmt(off)}  "
              f"ratio {med(on) / med(off):5.2f} (goal >= 0.9)")  # fmt: skip


if __name__ == "__main__":
    main()
