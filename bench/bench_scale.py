"""Every command that walks the whole deployment, at 10,000 and 100,000 objects.

Usage: PYTHONPATH=src .venv/bin/python bench/bench_scale.py [--sizes 10000 100000]
       [--dir PATH] [--threads 4] [--keep]

Fills one deployment per size (two local-folder sites, two copies of every small object,
SQLite catalog) through the library's ``put``, several threads at once, exactly as a
client would: every version, copy, blob and audit record is a real one (no bulk write
behind the library's back, so what the commands walk is what a real deployment holds).
With ``--dir`` a deployment already filled to a size is reused.

Then runs each command once in a fresh ``domicile`` process, and prints its wall time,
µs per object (its wall time less the startup of the same process, measured as the best of
three ``domicile ls`` of the buckets, over the objects) and peak RSS (``/usr/bin/time``):
``audit verify``, ``report --format json``, ``verify --level quick``, ``ls --all`` and
``rebuild-catalog`` (into an empty catalog, in a copy of the deployment whose sites are
hard links: what it signs and writes stays in the copy, so the deployment stays reusable).

Goals (issue #22): peak RSS at the largest size within 20 MiB of the smallest and under
150 MiB; µs per object at the largest size at most 1.2x the smallest; ``audit verify``
<= 25 µs/record, ``report`` <= 40 µs/object, ``rebuild-catalog`` <= 400 µs/object.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

MiB = 1024 * 1024
HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from bench.bench_engine import make_deployment  # noqa: E402 (the same two-site deployment)

BUCKET = "bench"
COMMANDS: dict[str, list[str]] = {
    "audit verify": ["audit", "verify"],
    "report --format json": ["report", "--format", "json"],
    "verify --level quick": ["verify", "--level", "quick"],
    "ls --all": ["ls", BUCKET, "--all"],
    "rebuild-catalog": ["rebuild-catalog"],
}


@dataclass(frozen=True)
class Run:
    command: str
    objects: int
    seconds: float
    cpu: float  # user + system seconds of the command's process
    peak_mib: float
    exit_code: int
    startup: float = 0.0  # the same process's fixed cost: a command that walks nothing
    startup_cpu: float = 0.0

    @property
    def us_per_object(self) -> float:
        return max(self.seconds - self.startup, 0.0) / self.objects * 1e6

    @property
    def cpu_us_per_object(self) -> float:
        """CPU time per object: what a shared, loaded machine distorts least."""
        return max(self.cpu - self.startup_cpu, 0.0) / self.objects * 1e6


def fill(root: Path, objects: int, threads: int) -> Path:
    """A deployment under ``root`` holding ``objects`` small objects (kept if already there)."""
    import domicile

    config = root / "domicile.toml"
    done = root / "filled"
    if done.exists() and int(done.read_text()) == objects:
        return config
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    make_deployment(root)
    start = time.perf_counter()
    with domicile.open(config) as engine:

        def put(i: int) -> None:
            engine.put(BUCKET, f"obj/{i // 1000:04d}/{i:08d}", f"object {i}".encode())

        with ThreadPoolExecutor(threads) as pool:
            for _ in pool.map(put, range(objects), chunksize=64):
                pass
    took = time.perf_counter() - start
    print(f"filled {objects:,} objects in {took:.0f} s ({objects / took:.0f}/s)", flush=True)
    done.write_text(str(objects))
    return config


def run(
    config: Path, name: str, argv: list[str], objects: int, ok_codes: tuple[int, ...] = (0,)
) -> Run:
    """One command in a fresh process: its wall time and peak RSS."""
    exe = Path(sys.executable).with_name("domicile")
    env = {**os.environ, "PYTHONPATH": str(HERE / "src")}
    # /usr/bin/time reports the peak RSS of the command alone (a child forked from this
    # process would count the pages it shares with it before exec).
    with tempfile.NamedTemporaryFile("r") as peak:
        start = time.perf_counter()
        proc = subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", peak.name, exe, "--config", config, *argv],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
        took = time.perf_counter() - start
        kib, user, system = peak.read().strip().splitlines()[-1].split()
    if proc.returncode not in ok_codes:
        print(f"  {name}: exit {proc.returncode}: {proc.stderr.decode()[-400:]}", file=sys.stderr)
    cpu = float(user) + float(system)
    return Run(name, objects, took, cpu, int(kib) / 1024, proc.returncode)


@contextlib.contextmanager
def rebuild_copy(config: Path) -> Iterator[Path]:
    """The deployment without its catalog, its sites hard-linked (blobs are never changed
    in place; what the rebuild writes, the checkpoints it signs, stays in the copy)."""
    root = config.parent
    copy = root.with_name(root.name + "-rebuild")
    shutil.rmtree(copy, ignore_errors=True)
    subprocess.run(["cp", "-al", root, copy], check=True)
    for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
        (copy / name).unlink(missing_ok=True)
    try:
        yield copy / config.name
    finally:
        shutil.rmtree(copy, ignore_errors=True)


def measure(config: Path, objects: int) -> list[Run]:
    runs = []
    starts = [run(config, "ls", ["ls"], objects) for _ in range(3)]
    base, base_cpu = min(r.seconds for r in starts), min(r.cpu for r in starts)
    print(
        f"  {objects:>7,}  startup (ls of the buckets, best of 3) {base:.2f} s, "
        f"{base_cpu:.2f} s CPU, {min(r.peak_mib for r in starts):.1f} MiB",
        flush=True,
    )
    for name, argv in COMMANDS.items():
        if name == "rebuild-catalog":
            with rebuild_copy(config) as copy:
                runs.append(
                    replace(run(copy, name, argv, objects), startup=base, startup_cpu=base_cpu)
                )
        else:
            runs.append(
                replace(run(config, name, argv, objects), startup=base, startup_cpu=base_cpu)
            )
        r = runs[-1]
        print(
            f"  {objects:>7,}  {name:<22} {r.seconds:7.1f} s {r.us_per_object:8.1f} µs/obj "
            f"{r.cpu:7.1f} s CPU {r.cpu_us_per_object:8.1f} CPU µs/obj {r.peak_mib:7.1f} MiB "
            f"(load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    return runs


def summary(by_size: dict[int, list[Run]]) -> None:
    small, large = min(by_size), max(by_size)
    print(f"\nper object: wall µs, CPU µs (startup taken off); peak RSS; {small:,} -> {large:,}")
    print(f"{'command':<22} {'wall':>15} {'CPU':>15} {'CPU ratio':>9} {'peak MiB':>15}")
    for a, b in zip(by_size[small], by_size[large], strict=True):
        ratio = b.cpu_us_per_object / a.cpu_us_per_object if a.cpu_us_per_object else 0.0
        bounded = b.peak_mib - a.peak_mib <= 20 and b.peak_mib < 150
        flags = ("" if ratio <= 1.2 else " not-linear") + ("" if bounded else " memory")
        print(
            f"{a.command:<22} {a.us_per_object:7.1f} {b.us_per_object:7.1f} "
            f"{a.cpu_us_per_object:7.1f} {b.cpu_us_per_object:7.1f} {ratio:9.2f} "
            f"{a.peak_mib:7.1f} {b.peak_mib:7.1f}{flags}"
        )
    print(f"load average at the end: {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--dir", type=Path, help="keep (and reuse) the deployments here")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--only", nargs="*", help="run only these commands")
    args = parser.parse_args()
    if args.only:
        for name in list(COMMANDS):
            if name not in args.only:
                del COMMANDS[name]
    base = args.dir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    print(f"load average at the start: {os.getloadavg()}", flush=True)
    by_size = {}
    try:
        for size in args.sizes:
            config = fill(base / f"d{size}", size, args.threads)
            by_size[size] = measure(config, size)
        if len(by_size) > 1:
            summary(by_size)
    finally:
        if args.dir is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
