"""LocalSite against the raw file system, on the same disk, in the same run.

Figures (each with its baseline and the ratio site/baseline in throughput):

1. put of 1 GiB (a reused 1 MiB buffer, fsync on) vs ``dd bs=1M count=1024 conv=fsync``;
2. get of that 1 GiB blob vs a raw ``os.read`` loop over the same file (page cache warm
   for both: this measures the site's overhead, not the disk);
3. 1,000 puts of 64 KiB (fsync on) vs 1,000 raw open/write/fsync/rename, and vs the same
   plus an fsync of the folder (what an atomic, durable put needs, and LocalSite does).

The contenders run in turn, ``--rounds`` times, each after ``os.sync()``; best and median
are printed. Usage: ``.venv/bin/python bench/bench_sites.py [--dir PATH] [--gib N]
[--rounds N]``. Every file it writes is deleted at the end.
"""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from domicile.sites import LocalSite

MiB = 1024 * 1024
SMALL = 64 * 1024
SMALL_COUNT = 1000


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def race(rounds: int, contenders: dict[str, Callable[[int], object]]) -> dict[str, list[float]]:
    """Run the contenders in turn, ``rounds`` times, each from a flushed page cache state.

    Interleaving (and ``os.sync()`` before each run) keeps one contender's dirty pages or
    freed extents from being charged to the next one; this VM's disk varies a lot.
    """
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for n in range(rounds):
        for name, fn in contenders.items():
            os.sync()
            times[name].append(timed(functools.partial(fn, n)))
    return times


def report(
    name: str, amount: float, unit: str, ours: list[float], base: list[float], base_name: str
) -> None:
    """Best and median throughput of both, and the ratio ours/baseline of each."""
    ob, bb = min(ours), min(base)
    om, bm = statistics.median(ours), statistics.median(base)
    print(
        f"{name:<32} best {amount / ob:9.1f} {unit} median {amount / om:9.1f}   |  "
        f"{base_name:<28} best {amount / bb:9.1f} median {amount / bm:9.1f}   |  "
        f"ratio best {bb / ob:4.2f} median {bm / om:4.2f}"
    )


def big_put(site: LocalSite, mib: int) -> None:
    buf = bytes(MiB)

    def chunks() -> Iterator[bytes]:
        for _ in range(mib):
            yield buf

    site.put("big", chunks())


def dd(path: Path, mib: int) -> None:
    subprocess.run(
        ["dd", "if=/dev/zero", f"of={path}", "bs=1M", f"count={mib}", "conv=fsync"],
        check=True,
        capture_output=True,
    )


def raw_read(path: Path) -> int:
    total = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        while data := os.read(fd, MiB):
            total += len(data)
    finally:
        os.close(fd)
    return total


def site_read(site: LocalSite) -> int:
    return sum(len(piece) for piece in site.get("big"))


def small_puts(site: LocalSite, round_no: int) -> None:
    data = os.urandom(SMALL)
    for n in range(SMALL_COUNT):
        site.put(f"s{round_no}-{n}", [data])


def raw_small_puts(folder: Path, round_no: int, *, fsync_dir: bool = False) -> None:
    data = os.urandom(SMALL)
    folder.mkdir(exist_ok=True)
    for n in range(SMALL_COUNT):
        tmp, final = folder / f"tmp-{round_no}-{n}", folder / f"s{round_no}-{n}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(final)
        if fsync_dir:
            dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(dfd)
            os.close(dfd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    mib = int(args.gib * 1024)
    work = Path(tempfile.mkdtemp(prefix="bench-sites-", dir=args.dir))
    try:
        site = LocalSite.create("bench", work / "site")
        print(f"disk: {work}  size: {mib} MiB  cores: {os.cpu_count()}  rounds: {args.rounds}")

        def site_put(n: int) -> None:
            big_put(site, mib)
            site.delete("big")

        def dd_put(n: int) -> None:
            dd(work / "dd.bin", mib)
            (work / "dd.bin").unlink()

        t = race(args.rounds, {"site": site_put, "dd": dd_put})
        report("LocalSite.put 1 GiB (fsync)", mib, "MiB/s", t["site"], t["dd"], "dd conv=fsync")

        big_put(site, mib)
        blob = next((work / "site").rglob("big"))
        raw_read(blob)  # warm the page cache for both readers
        t = race(args.rounds, {"site": lambda n: site_read(site), "raw": lambda n: raw_read(blob)})
        report("LocalSite.get 1 GiB (warm)", mib, "MiB/s", t["site"], t["raw"], "raw os.read loop")
        site.delete("big")

        t = race(
            args.rounds,
            {
                "site": lambda n: small_puts(site, n),
                "raw": lambda n: raw_small_puts(work / "raw", n),
                "raw+dir": lambda n: raw_small_puts(work / "rawd", n, fsync_dir=True),
            },
        )
        report(
            "LocalSite.put 1000 x 64 KiB",
            SMALL_COUNT,
            "puts/s",
            t["site"],
            t["raw"],
            "open/write/fsync/rename",
        )
        report(
            "LocalSite.put 1000 x 64 KiB",
            SMALL_COUNT,
            "puts/s",
            t["site"],
            t["raw+dir"],
            "... + fsync of the folder",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
