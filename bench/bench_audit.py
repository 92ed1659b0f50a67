"""Audit chain throughput: records appended per second, checkpoints signed per second,
and a full verification, each against a baseline measured in the same run.

Run: .venv/bin/python bench/bench_audit.py

The baseline is ``json.dumps`` of the same event dicts (sorted keys, compact): the least
any JSON log must pay per record. "append" builds and validates a Record, encodes it
canonically and SHA-256-chains it. Checkpoints are compared with the appends they cover
at the default policy (one per 1,000 records), and verification with the appends it
replays. The goal: recording never becomes the bottleneck of a PUT (tens of microseconds
per record, against milliseconds for the PUT itself).
"""

from __future__ import annotations

import itertools
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from domicile.audit import (
    AuditKey,
    Chain,
    CheckpointPolicy,
    Record,
    sign_checkpoint,
    verify_chain,
)

RECORDS = 50_000
SIGNS = 2_000
ROUNDS = 5


def events(n: int) -> list[dict[str, Any]]:
    """Realistic PUT events: a tenant, a bucket, a nested key, two sites, a policy."""
    return [
        {
            "actor": f"tenant-{i % 7}:AKIA{i % 97:016d}",
            "action": "put",
            "bucket": "board-minutes",
            "key": f"2024/q{i % 4 + 1}/meeting-{i:06d}/minutes-\u00e9t\u00e9.pdf",
            "version": f"{i:020d}",
            "sites": ("aws-fra", "ovh-gra"),
            "policy": "eu-only@3",
            "result": "ok",
            "detail": {"size": 1_048_576 + i, "multipart": i % 2 == 0, "etag": f"{i:032x}"},
        }
        for i in range(n)
    ]


def best(fn: Callable[[], object]) -> float:
    """The fastest of ROUNDS runs, in seconds (least disturbed by the machine)."""
    times = []
    for _ in range(ROUNDS):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    evs = events(RECORDS)
    clock = itertools.count(1_700_000_000_000_000, 17).__next__

    def baseline() -> None:
        for ev in evs:
            json.dumps(ev, sort_keys=True, separators=(",", ":"))

    def append() -> None:
        chain = Chain(clock=clock)
        for ev in evs:
            chain.append(**ev)

    base = best(baseline)
    chained = best(append)
    print(f"{RECORDS} records, best of {ROUNDS} rounds")
    print(f"baseline json.dumps of the event dicts   {RECORDS / base:12,.0f} records/s")
    print(
        f"Chain.append (validate, encode, sha256)  {RECORDS / chained:12,.0f} records/s"
        f"   {chained / base:5.1f}x the baseline   {chained / RECORDS * 1e6:6.1f} us/record"
    )

    key = AuditKey.generate()
    chain = Chain(clock=clock)
    records = [chain.append(**ev) for ev in evs]
    head = records[-1]
    signing = best(lambda: [sign_checkpoint(key, head.seq, head.hash, i) for i in range(SIGNS)])
    per_sign = signing / SIGNS
    every = CheckpointPolicy().every_records
    per_record = chained / RECORDS
    print(
        f"sign_checkpoint (Ed25519)                {SIGNS / signing:12,.0f} checkpoints/s"
        f"   {per_sign / per_record:5.1f} appends' worth each"
        f"   {per_sign / (per_record * every) * 100:5.2f}% overhead at 1 per {every}"
    )

    checkpoints = [sign_checkpoint(key, r.seq, r.hash, r.time) for r in records[every - 1 :: every]]
    # Verification from the stored form: hashes are recomputed, not taken from the caches.
    bodies = [r.body() for r in records]

    def verify() -> None:
        fresh = [Record.from_body(b) for b in bodies]
        report = verify_chain(fresh, checkpoints, key.public)
        if not report.ok:
            raise SystemExit(f"benchmark chain failed to verify: {report.first_problem}")

    verifying = best(verify)
    print(
        f"verify_chain (parse, rehash, {len(checkpoints)} sigs)     "
        f"{RECORDS / verifying:12,.0f} records/s"
        f"   {verifying / base:5.1f}x the baseline"
    )
    spread = statistics.pstdev([len(r.canonical) for r in records])
    mean = statistics.mean(len(r.canonical) for r in records)
    print(f"canonical record size: {mean:.0f} bytes on average (sd {spread:.1f})")


if __name__ == "__main__":
    main()
