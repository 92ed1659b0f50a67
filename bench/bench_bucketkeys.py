"""Benchmark of bucket data identities: 64 KiB PUTs and GETs through the engine with each
bucket's blobs wrapped to its own identity (the default) against the blobs wrapped straight
to the root identities (``context.bucket_keys = None``, as before bucket identities), same
sites, same run, operations interleaved. Goal (issue #19): ratio >= 0.95.

With bucket identities a PUT wraps to one recipient (the bucket's) instead of the root's,
and a GET tries the bucket's cached identity first: the identity is unwrapped once per
bucket per :data:`~domicile.engine.bucketkeys.CACHE_SECONDS`.

Run: .venv/bin/python bench/bench_bucketkeys.py [--count N] [--passes P]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import domicile
from domicile.crypto import Keyring
from domicile.sites import LocalSite

CONFIG = """
[deployment]
segment_size_mib = 64
[sites.a]
country = "FR"
operator = "ovh-sas"
provider = "ovhcloud"
backend = { type = "local", path = "sites/a" }
[sites.b]
country = "DE"
operator = "hetzner-online"
provider = "hetzner"
backend = { type = "local", path = "sites/b" }
[policies.eu]
allow = ["EU"]
copies = 2
[buckets.keyed]
policy = "eu"
[buckets.plain]
policy = "eu"
"""


def _order(modes: dict[str, Any], n: int) -> list[tuple[str, Any]]:
    """The modes, first one first on even ``n``, last one first on odd: neither always
    runs right after the other (a warm cache or a flushed disk would favour one)."""
    items = list(modes.items())
    return items if n % 2 == 0 else items[::-1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    body = os.urandom(64 << 10)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for site in ("a", "b"):
            LocalSite.create(site, root / "sites" / site)
        Keyring.create(root / "keyring.txt")
        (root / "domicile.toml").write_text(CONFIG)
        keys = [f"o{i:05d}" for i in range(args.count)]
        best: dict[str, float] = {}
        with domicile.open(root / "domicile.toml") as engine:
            ctx = engine.context
            bucket_keys = ctx.bucket_keys
            modes = {"keyed": bucket_keys, "plain": None}
            for _ in range(args.passes):
                spent = dict.fromkeys(modes, 0.0)
                for n, key in enumerate(keys):  # PUTs alternate, in both orders
                    for bucket, mode in _order(modes, n):
                        ctx.bucket_keys = mode
                        t0 = time.perf_counter()
                        engine.put(bucket, key, body)
                        spent[bucket] += time.perf_counter() - t0
                for bucket in modes:
                    rate = args.count / spent[bucket]
                    best[f"{bucket} put"] = max(best.get(f"{bucket} put", 0.0), rate)
                spent = dict.fromkeys(modes, 0.0)
                for n, key in enumerate(keys):
                    for bucket, mode in _order(modes, n):
                        ctx.bucket_keys = mode
                        t0 = time.perf_counter()
                        engine.get(bucket, key).read()
                        spent[bucket] += time.perf_counter() - t0
                for bucket in modes:
                    rate = args.count / spent[bucket]
                    best[f"{bucket} get"] = max(best.get(f"{bucket} get", 0.0), rate)
            ctx.bucket_keys = bucket_keys
            unwraps = bucket_keys.unwraps if bucket_keys is not None else 0
        for op in ("put", "get"):
            keyed, plain = best[f"keyed {op}"], best[f"plain {op}"]
            print(
                f"engine 64 KiB {op}s, 2 local copies, best of {args.passes} passes of "
                f"{args.count}: bucket identity {keyed:7.0f}/s   root only {plain:7.0f}/s   "
                f"ratio {keyed / plain:6.3f}"
            )
        print(f"bucket identities unwrapped with the root keys: {unwraps}")


if __name__ == "__main__":
    main()
