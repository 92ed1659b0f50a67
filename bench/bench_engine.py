"""The engine on one machine, measured against baselines taken in the same run.

1. put of a 1 GiB object with 2 local copies vs ``dd`` writing the same 2 GiB with fsync
   to the same disk (goal >= 0.8), and its peak RSS (goal < 150 MiB);
2. get of that object vs reading the raw bytes of one copy's blob;
3. 1,000 x 64 KiB puts and gets per second.

Usage: .venv/bin/python bench/bench_engine.py [--size-mib 1024] [--small 1000] [--dir PATH]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

MiB = 1024 * 1024
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
[policies.two]
allow = ["EU"]
copies = 2
distinct = "provider"
[buckets.bench]
policy = "two"
"""


def make_deployment(root: Path) -> Path:
    from domicile.crypto import Keyring
    from domicile.sites import LocalSite

    for site in ("a", "b"):
        LocalSite.create(site, root / "sites" / site)
    Keyring.create(root / "keyring.txt")
    path = root / "domicile.toml"
    path.write_text(CONFIG)
    return path


def body(size: int) -> Iterator[bytes]:
    piece = os.urandom(MiB)
    for _ in range(size // MiB):
        yield piece


def dd_seconds(folder: Path, size_mib: int) -> float:
    """dd writing ``2 x size_mib`` MiB (two copies) with fsync, as two files."""
    start = time.perf_counter()
    for name in ("dd-a", "dd-b"):
        subprocess.run(
            [
                "dd",
                "if=/dev/zero",
                f"of={folder / name}",
                "bs=1M",
                f"count={size_mib}",
                "conv=fsync",
                "status=none",
            ],
            check=True,
        )
    elapsed = time.perf_counter() - start
    for name in ("dd-a", "dd-b"):
        (folder / name).unlink()
    return elapsed


def child_put(config: str, size_mib: int) -> None:
    """Run in a subprocess: one large put; prints seconds and peak RSS in KiB."""
    import domicile

    with domicile.open(config) as d:
        start = time.perf_counter()
        d.put("bench", "big", body(size_mib * MiB))
        elapsed = time.perf_counter() - start
    print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--child-put", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_put:
        child_put(args.child_put[0], int(args.child_put[1]))
        return

    import domicile

    root = Path(tempfile.mkdtemp(prefix="domicile-bench-", dir=args.dir))
    try:
        config = make_deployment(root)
        size = args.size_mib
        base = dd_seconds(root, size)
        out = subprocess.run(
            [sys.executable, __file__, "--child-put", str(config), str(size)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        put_s, rss_kib = float(out[0]), int(out[1])
        print(f"dd 2 x {size} MiB with fsync : {2 * size / base:8.0f} MiB/s written ({base:.2f} s)")
        print(
            f"put {size} MiB, 2 copies     : {2 * size / put_s:8.0f} MiB/s written ({put_s:.2f} s)"
            f"  ratio {base / put_s:.2f} (goal >= 0.8)"
        )
        print(f"peak RSS of the put         : {rss_kib / 1024:8.1f} MiB (goal < 150)")

        with domicile.open(config) as d:
            blob = max(
                (p for p in (root / "sites" / "a").rglob("b*") if p.is_file()),
                key=lambda p: p.stat().st_size,
            )
            start = time.perf_counter()
            with blob.open("rb") as f:
                while f.read(MiB):
                    pass
            raw_s = time.perf_counter() - start
            start = time.perf_counter()
            n = sum(len(p) for p in d.get("bench", "big"))
            get_s = time.perf_counter() - start
            assert n == size * MiB
            print(f"raw read of one 64 MiB blob : {blob.stat().st_size / MiB / raw_s:8.0f} MiB/s")
            print(
                f"get {size} MiB               : {size / get_s:8.0f} MiB/s  "
                f"ratio vs raw read {raw_s / blob.stat().st_size * size * MiB / get_s:.2f}"
            )
            d.delete("bench", "big")

            small = os.urandom(64 * 1024)
            start = time.perf_counter()
            for i in range(args.small):
                d.put("bench", f"small/{i:05d}", small)
            puts = args.small / (time.perf_counter() - start)
            start = time.perf_counter()
            for i in range(args.small):
                d.get("bench", f"small/{i:05d}").read()
            gets = args.small / (time.perf_counter() - start)
            audit_on, audit_off = audit_ratio(d, small, args.small // 2)
        raw = raw_small_writes(root, args.small, small)
        same = raw_small_writes(root, args.small, small, files=4, dirsync=True)
        print(f"raw 64 KiB write+fsync x2   : {raw:8.0f} /s (two files each, like two copies)")
        print(
            f"raw, our durability         : {same:8.0f} /s (blob + manifest per copy, "
            "file and folder fsync)"
        )
        print(
            f"put 64 KiB, 2 copies        : {puts:8.0f} /s  ratio {puts / raw:.2f} "
            f"(vs our durability {puts / same:.2f})"
        )
        print(f"get 64 KiB                  : {gets:8.0f} /s")
        print(
            f"put 64 KiB, audit on / off  : {audit_on:8.0f} / {audit_off:.0f} /s  "
            f"ratio {audit_on / audit_off:.2f} (goal >= 0.95)"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def audit_ratio(d: object, data: bytes, count: int) -> tuple[float, float]:
    """64 KiB puts per second with the audit log on and off, interleaved in rounds."""
    ctx = d.context  # type: ignore[attr-defined]
    log = ctx.audit
    rates: dict[bool, list[float]] = {True: [], False: []}
    for round_ in range(4):
        for on in (True, False):
            ctx.audit = log if on else None
            start = time.perf_counter()
            for i in range(count // 4):
                d.put("bench", f"audit/{on}/{round_}/{i}", data)  # type: ignore[attr-defined]
            rates[on].append((count // 4) / (time.perf_counter() - start))
    ctx.audit = log
    return max(rates[True]), max(rates[False])


def raw_small_writes(
    root: Path, count: int, data: bytes, files: int = 2, dirsync: bool = False
) -> float:
    """Baseline: per object, ``files`` temp files written, fsynced, renamed (and the folder
    fsynced when ``dirsync``), one after the other."""
    folder = root / f"raw{files}{dirsync}"
    folder.mkdir()
    dfd = os.open(folder, os.O_RDONLY)
    start = time.perf_counter()
    for i in range(count):
        for copy in range(files):
            tmp = folder / f"{copy}-{i}.tmp"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            tmp.replace(folder / f"{copy}-{i}")
            if dirsync:
                os.fsync(dfd)
    os.close(dfd)
    return count / (time.perf_counter() - start)


if __name__ == "__main__":
    main()
