"""Versioning's cost: PUT and GET of 64 KiB in a versioned bucket vs an unversioned one,
in the same run, and paging through a ListObjectVersions of many versions.

Run: .venv/bin/python bench/bench_versioning.py [--objects 400] [--rounds 5]
     [--keys 40] [--versions 100000] [--large-mib 1024 [--large-pairs 2]] [--dir PATH]

One deployment (two local-folder sites, two copies per object, SQLite catalog), one open
engine, two buckets under the same policy: ``plain`` (versioning never enabled) and
``versioned`` (``Enabled``). Each round writes ``--objects`` puts alternating between the
buckets (plain, versioned, versioned, plain, ...: which arm goes first alternates too),
each timed alone, so that drift of the machine falls on both arms alike. The keys
cycle over ``--keys`` names (default 40), so most puts overwrite a key: the plain bucket
replaces the object (and deletes its old blobs from the sites), the versioned one keeps
it as a noncurrent version. With ``--keys`` above the number of puts every put writes a
new key in both buckets: the same site writes and catalog work for both arms. Then the
same number of GETs of current versions, alternating, and GETs of noncurrent versions by
id in the versioned bucket.
Goal (issue 17): versioned / unversioned >= 0.95 for PUT and GET.

``--large-mib N``: also PUTs then GETs of N-MiB objects, ``--large-pairs`` per arm, in
ABBA order (the issue's 1 GiB comparison: ``--large-mib 1024``).

Listing: ``--versions`` version rows (10 per key, every hundredth one a delete marker) are
committed straight into the catalog (their blobs are not written: listing reads only the
catalog), then ListObjectVersions is paged 1,000 at a time through the engine and each
page encoded as the gateway's XML; the slowest and mean page are printed. Goal: < 2 s
per page of 1,000 at 100,000 versions.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import domicile
from domicile.catalog import Placement, Segment, Version
from domicile.gateway import s3xml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_engine import make_deployment  # the same two-site deployment

SIZE = 64 * 1024
ARMS = ("plain", "versioned")


def arm_of(i: int) -> str:
    """The arm of the ``i``-th operation, in ABBA order (plain, versioned, versioned,
    plain, ...): whatever follows or precedes an operation falls on both arms alike."""
    return ARMS[(i % 2) ^ ((i // 2) % 2)]


def put_round(
    engine: domicile.Domicile, objects: int, keys: int, bodies: list[bytes], first: int = 0
) -> dict[str, float]:
    """Seconds per arm of ``objects`` puts (pair ``n`` writes key ``first + n``, modulo
    ``keys``, in both buckets)."""
    spent = dict.fromkeys(ARMS, 0.0)
    for i in range(objects):
        arm = arm_of(i)
        start = time.perf_counter()
        engine.put(arm, f"k{(first + i // 2) % keys:07d}", bodies[i % len(bodies)])
        spent[arm] += time.perf_counter() - start
    return spent


def get_round(engine: domicile.Domicile, objects: int, keys: int) -> dict[str, float]:
    spent = dict.fromkeys(ARMS, 0.0)
    for i in range(objects):
        arm = arm_of(i)
        start = time.perf_counter()
        engine.get(arm, f"k{(i // 2) % keys:07d}").read()
        spent[arm] += time.perf_counter() - start
    return spent


def large_round(engine: domicile.Domicile, mib: int, pairs: int) -> dict[str, dict[str, float]]:
    """Seconds per arm of ``2 * pairs`` PUTs then GETs of ``mib`` MiB objects (new keys,
    ABBA order), streamed from one repeated random MiB."""
    piece = os.urandom(1024 * 1024)
    spent = {"put": dict.fromkeys(ARMS, 0.0), "get": dict.fromkeys(ARMS, 0.0)}
    for op in ("put", "get"):
        for i in range(2 * pairs):
            arm = arm_of(i)
            start = time.perf_counter()
            if op == "put":
                engine.put(arm, f"large/{i // 2}", (piece for _ in range(mib)))
            else:
                for _ in engine.get(arm, f"large/{i // 2}"):
                    pass
            spent[op][arm] += time.perf_counter() - start
    return spent


def lookups(engine: domicile.Domicile, count: int, keys: int) -> dict[str, float]:
    """Seconds per arm of ``count`` catalog lookups of current versions (what a GET reads
    from the catalog before any byte), ABBA order: the CPU side of a GET, without the
    disk's noise."""
    catalog = engine.context.catalog
    spent = dict.fromkeys(ARMS, 0.0)
    for i in range(count):
        arm = arm_of(i)
        start = time.perf_counter()
        catalog.lookup(arm, f"k{(i // 2) % keys:07d}")
        spent[arm] += time.perf_counter() - start
    return spent


def old_versions(engine: domicile.Domicile, count: int) -> float | None:
    """Seconds per GET of a noncurrent version by its id (None: there is none)."""
    found = [v for v in engine.list_versions("versioned", limit=1000).versions if not v.is_latest]
    found = found[:count]
    if not found:
        return None
    start = time.perf_counter()
    for v in found:
        engine.get("versioned", v.key, version_id=v.version_id).read()
    return (time.perf_counter() - start) / len(found)


def fill_versions(engine: domicile.Domicile, total: int) -> float:
    """Commit ``total`` versions (10 per key; a marker on every tenth key) into the
    catalog of bucket ``many``; return the seconds it took."""
    catalog = engine.context.catalog
    catalog.create_bucket("many", "two")
    catalog.set_versioning("many", "Enabled")
    start = time.perf_counter()
    for n in range(total):
        key = f"dir{n // 10_000:02d}/obj{(n // 10) % 1000:04d}"
        vid = secrets.token_hex(16)
        marker = n % 100 == 99
        version = Version(
            version_id=vid,
            bucket="many",
            key=key,
            state="current",
            size=0 if marker else SIZE,
            etag="" if marker else "0" * 32,
            content_type="application/octet-stream",
            content_encoding=None,
            content_disposition=None,
            cache_control=None,
            expires=None,
            created_at=time.time(),
            manifest_blob_id=f"m{vid}",
            null_version=False,
            delete_marker=marker,
        )
        segments = [] if marker else [Segment(vid, 0, f"m{vid}", SIZE, 200, SIZE + 216, "0" * 64)]
        places = [Placement(vid, site, "ok", version.created_at) for site in ("a", "b")]
        catalog.commit_version(version, segments, places)
    return time.perf_counter() - start


def page_versions(engine: domicile.Domicile) -> list[float]:
    """Seconds per page of 1,000 (engine listing + the gateway's XML), every page."""
    owner = s3xml.Owner("t", "t")
    times: list[float] = []
    key_marker, version_marker = "", ""
    while True:
        start = time.perf_counter()
        page = engine.list_versions(
            "many", key_marker=key_marker, version_id_marker=version_marker, limit=1000
        )
        s3xml.list_object_versions(
            "many",
            [
                s3xml.VersionEntry(
                    v.key,
                    v.s3_version_id,
                    v.is_latest,
                    datetime.fromtimestamp(v.created_at, UTC),
                    v.etag,
                    v.size,
                    v.delete_marker,
                    owner,
                )
                for v in page.versions
            ],
            is_truncated=page.is_truncated,
            next_key_marker=page.next_key_marker,
            next_version_id_marker=page.next_version_id_marker,
        )
        times.append(time.perf_counter() - start)
        if not page.is_truncated:
            return times
        key_marker = page.next_key_marker or ""
        version_marker = page.next_version_id_marker or ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=400, help="puts per round (both arms)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keys", type=int, default=40, help="keys the puts cycle over")
    parser.add_argument("--versions", type=int, default=100_000, help="versions to list")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--large-mib", type=int, default=0, help="also PUT/GET objects this big")
    parser.add_argument("--large-pairs", type=int, default=2, help="large objects per arm")
    args = parser.parse_args()
    bodies = [os.urandom(SIZE) for _ in range(64)]
    per_arm = args.objects // 2
    totals = {"put": dict.fromkeys(ARMS, 0.0), "get": dict.fromkeys(ARMS, 0.0)}
    ratios: dict[str, list[float]] = {"put": [], "get": []}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        config = make_deployment(Path(tmp))
        with domicile.open(config) as engine:
            for arm in ARMS:
                engine.create_bucket(arm, "two")
            engine.set_versioning("versioned", "Enabled")
            written = 50
            put_round(engine, 2 * written, args.keys, bodies)  # warm caches and the catalog
            get_round(engine, 2 * written, min(args.keys, written))
            print(f"64 KiB, 2 copies, {args.keys} keys; {args.rounds} rounds of {per_arm}/arm")
            for r in range(args.rounds):
                rounds = {
                    "put": put_round(engine, 2 * per_arm, args.keys, bodies, written),
                    "get": get_round(engine, 2 * per_arm, min(args.keys, written)),
                }
                written += per_arm
                for op, spent in rounds.items():
                    plain, versioned = per_arm / spent["plain"], per_arm / spent["versioned"]
                    print(
                        f"round {r} {op}: plain {plain:7.1f}/s, versioned {versioned:7.1f}/s, "
                        f"ratio {versioned / plain:.3f}"
                    )
                    ratios[op].append(versioned / plain)
                    for arm in ARMS:
                        totals[op][arm] += spent[arm]
            kept = engine.count_versions("versioned")
            print(
                f"versioned bucket: {kept} versions kept; plain: {engine.count_versions('plain')}"
            )
            old = old_versions(engine, 200)
            if old is not None:
                print(f"GET of a noncurrent version by id: {1000 * old:.2f} ms")
            looked = lookups(engine, 20_000, min(args.keys, written))
            each = {arm: 10_000 / looked[arm] for arm in ARMS}
            print(
                f"catalog lookups: plain {each['plain']:.0f}/s, versioned "
                f"{each['versioned']:.0f}/s, ratio {each['versioned'] / each['plain']:.3f}"
            )
            done = per_arm * args.rounds
            for op in ("put", "get") if done else ():  # --rounds 0: the listing only
                plain, versioned = done / totals[op]["plain"], done / totals[op]["versioned"]
                print(
                    f"{op}: plain {plain:7.1f}/s, versioned {versioned:7.1f}/s, "
                    f"ratio {versioned / plain:.3f}, median of the rounds' "
                    f"{statistics.median(ratios[op]):.3f} (goal >= 0.95)"
                )
            if args.large_mib:
                large = large_round(engine, args.large_mib, args.large_pairs)
                for op, spent in large.items():
                    rate = {arm: args.large_pairs * args.large_mib / spent[arm] for arm in ARMS}
                    print(
                        f"{args.large_mib} MiB {op}: plain {rate['plain']:.1f} MiB/s, versioned "
                        f"{rate['versioned']:.1f} MiB/s, ratio "
                        f"{rate['versioned'] / rate['plain']:.3f} (goal >= 0.95)"
                    )
            filled = fill_versions(engine, args.versions)
            print(f"{args.versions} versions committed in {filled:.1f} s")
            times = page_versions(engine)
            mean = 1000 * sum(times) / len(times)
            print(
                f"ListObjectVersions: {len(times)} pages of <= 1,000; mean {mean:.1f} ms, "
                f"slowest {1000 * max(times):.1f} ms (goal < 2,000 ms)"
            )


if __name__ == "__main__":
    main()
