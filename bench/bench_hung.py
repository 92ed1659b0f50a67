"""GET latency with one S3 site hung (SIGSTOP) against all sites healthy, in one run.

A private test bed (Swift and SeaweedFS on 127.0.0.1, started and removed here), two
copies of every object (one per server), read through the engine. Phase 1 reads with both
servers up; phase 2 freezes the server that reads prefer (its latency is recorded as the
lowest, so the hung copy is the one asked first, the worst case) and reads the same
objects again. Phase 1 is run twice, each server preferred in turn, so that the hung
phase (served by the other server) can be compared with that server's own healthy figure.
Reported per phase and size: time to first byte and to the last byte, p50
and p99, and phase 2's first read on its own (it pays the hedge delay, once).

Run: ``.venv/bin/python bench/bench_hung.py [--reads 200] [--large 10]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3
from botocore.config import Config
from testbed.servers import Server, private_servers

import domicile
from domicile.crypto import Keyring

KiB, MiB = 1024, 1024 * 1024

CONFIG = """
[deployment]
name = "bench-hung"
segment_size_mib = 64

[entities.a]
name = "A"
country = "FR"

[entities.b]
name = "B"
country = "DE"

[sites.swift]
country = "FR"
operator = "a"
provider = "swift"
backend = {{ type = "s3", endpoint = "{swift}", bucket = "{bucket}", access_key = "{swift_ak}", secret_key = "{swift_sk}" }}

[sites.seaweed]
country = "DE"
operator = "b"
provider = "seaweed"
backend = {{ type = "s3", endpoint = "{seaweed}", bucket = "{bucket}", access_key = "{weed_ak}", secret_key = "{weed_sk}" }}

[policies.two]
allow = ["EU"]
copies = 2
distinct = "provider"

[buckets.bench]
policy = "two"
"""  # noqa: E501


def make_bucket(server: Server, name: str) -> None:
    c = server.credentials
    boto3.client(
        "s3",
        endpoint_url=c.endpoint,
        aws_access_key_id=c.access_key,
        aws_secret_access_key=c.secret_key,
        region_name=c.region,
        config=Config(s3={"addressing_style": "path"}),
    ).create_bucket(Bucket=name)


def read(d: domicile.Domicile, key: str) -> tuple[float, float, int]:
    """Seconds to the first byte and to the last, and the size read."""
    began = time.perf_counter()
    chunks = iter(d.get("bench", key))
    first = next(chunks, b"")
    ttfb = time.perf_counter() - began
    size = len(first) + sum(len(c) for c in chunks)
    return ttfb, time.perf_counter() - began, size


def quantiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return statistics.median(ordered), p99


def phase(d: domicile.Domicile, keys: list[str], reads: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"ttfb": [], "total": []}
    for n in range(reads):
        ttfb, total, _ = read(d, keys[n % len(keys)])
        out["ttfb"].append(ttfb)
        out["total"].append(total)
    return out


def report(label: str, results: dict[str, list[float]]) -> None:
    t50, t99 = quantiles(results["ttfb"])
    a50, a99 = quantiles(results["total"])
    print(
        f"  {label:<28} first byte p50 {t50 * 1000:8.1f} ms  p99 {t99 * 1000:8.1f} ms   "
        f"whole GET p50 {a50 * 1000:8.1f} ms  p99 {a99 * 1000:8.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=200, help="64 KiB GETs per phase")
    parser.add_argument("--large", type=int, default=10, help="20 MiB GETs per phase")
    args = parser.parse_args()
    with private_servers() as servers, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bucket = f"bench-{uuid.uuid4().hex[:12]}"
        for server in servers.values():
            make_bucket(server, bucket)
        swift, weed = servers["swift"].credentials, servers["seaweed"].credentials
        Keyring.create(root / "keyring.txt")
        (root / "domicile.toml").write_text(
            CONFIG.format(
                swift=swift.endpoint,
                seaweed=weed.endpoint,
                bucket=bucket,
                swift_ak=swift.access_key,
                swift_sk=swift.secret_key,
                weed_ak=weed.access_key,
                weed_sk=weed.secret_key,
            )
        )
        small = [f"s{n}" for n in range(20)]
        large = ["l0", "l1"]
        victim, other = "seaweed", "swift"
        with domicile.open(root / "domicile.toml") as d:
            for key in small:
                d.put("bench", key, os.urandom(64 * KiB))
            for key in large:
                d.put("bench", key, os.urandom(20 * MiB))
            # The survivor's own healthy figure, on an engine of its own (the sample of
            # 10 s recorded to keep the victim last must not weigh on the victim's hedge).
            d.context.health.record_latency(victim, 10.0)
            d.context.health.record_latency(other, 0.0001)
            other_small = phase(d, small, args.reads)
            other_large = phase(d, large, args.large)
        with domicile.open(root / "domicile.toml") as d:
            print(f"GET through the engine, two copies (swift, seaweed); victim: {victim}")
            d.context.health.record_latency(other, 10.0)
            d.context.health.record_latency(victim, 0.0001)
            healthy_small = phase(d, small, args.reads)
            healthy_large = phase(d, large, args.large)
            servers[victim].freeze()
            try:
                d.context.health.record_latency(victim, 0.0001)  # the hung copy is asked first
                first_ttfb, first_total, _ = read(d, small[0])
                hung_small = phase(d, small, args.reads)
                hung_large = phase(d, large, args.large)
                views = {v.site_id: v for v in d.sites()}
            finally:
                servers[victim].thaw()
        print("64 KiB objects:")
        report(f"all healthy, {victim} first", healthy_small)
        report(f"all healthy, {other} first", other_small)
        report(f"{victim} hung (SIGSTOP)", hung_small)
        print(
            f"  first read after the freeze: first byte {first_ttfb * 1000:.1f} ms, "
            f"whole GET {first_total * 1000:.1f} ms"
        )
        print("20 MiB objects:")
        report(f"all healthy, {victim} first", healthy_large)
        report(f"all healthy, {other} first", other_large)
        report(f"{victim} hung (SIGSTOP)", hung_large)
        print(f"breaker of {victim} while hung: {views[victim].state} ({views[victim].last_error})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
