"""``plan`` and ``apply``'s planning at scale: time per object and peak RSS, 10k vs 100k.

A deployment from ``domicile init`` (three local sites, the eu-only policy) gets ``N``
objects recorded straight into its catalog (``testbed/catalogfill.py``: plan reads only
the catalog), each with a copy on the EU site ovh-gra and one on the US site alibaba-sv,
so that every object needs a move (add hetzner-fsn, evacuate alibaba-sv). Each command
runs in a fresh process, which reports its own wall time and peak RSS: ``plan`` (the text
summary), ``--json plan`` (every step as JSON Lines, to /dev/null) and ``apply`` answered
"no" at the confirmation (the plan walked and every step written as a job in the
catalog). Peak RSS is the process's VmHWM (Linux): ``getrusage``'s maxrss keeps the
parent's peak across ``exec``, and the parent holds the objects it recorded. Issue #22's
goals: peak RSS at 100k within 20 MiB of 10k (and under 150 MiB),
time per object at 100k at most 1.2x that at 10k, ``plan`` at most 100 µs per object.

Run: ``.venv/bin/python bench/bench_plan.py [--sizes 10000 100000]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testbed.catalogfill import fill

import domicile

#: Runs one CLI command in this process; prints its wall and CPU time (from the command's
#: start: imports excluded) and peak RSS on stderr.
_MEASURED = """
import json, sys, time
from domicile.cli.main import main
start, cpu = time.perf_counter(), time.process_time()
try:
    main(sys.argv[1:])
except SystemExit:
    pass
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
status = open("/proc/self/status").read()  # VmHWM: getrusage's maxrss survives exec
rss = int(status.split("VmHWM:")[1].split()[0]) / 1024
print(json.dumps({"wall": wall, "cpu": cpu, "rss_mib": rss}), file=sys.stderr)
"""
COMMANDS = {"plan": ["plan"], "plan --json": ["--json", "plan"], "apply (no)": ["apply"]}


def measure(config: Path, args: list[str]) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", _MEASURED, "--config", str(config), *args],
        input="n\n",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stderr.strip().splitlines()[-1])
    return result


def deployment(root: Path, size: int) -> Path:
    config = root / "domicile.toml"
    subprocess.run(
        [sys.executable, "-m", "domicile.cli.main", "--config", str(config), "init"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    with domicile.open(config) as engine:  # creates the bucket
        url = engine.config.catalog_url
    fill(url, "reports", 0, size, ("ovh-gra", "alibaba-sv"))
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    sizes = parser.parse_args().sizes
    results: dict[tuple[str, int], dict[str, float]] = {}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="bench-plan-") as tmp:
            config = deployment(Path(tmp), size)
            for name, args in COMMANDS.items():
                results[name, size] = measure(config, args)
    print(f"{'command':<12}" + "".join(f"{s:>12,} objects" for s in sizes) + "   growth")
    for name in COMMANDS:
        cells = []
        for size in sizes:
            r = results[name, size]
            per = r["wall"] / size * 1e6, r["cpu"] / size * 1e6
            cells.append(f"{per[0]:>6.0f}/{per[1]:<4.0f}µs {r['rss_mib']:>4.0f} MiB")
        first, last = results[name, sizes[0]], results[name, sizes[-1]]
        ratio = (last["cpu"] / sizes[-1]) / (first["cpu"] / sizes[0])
        growth = last["rss_mib"] - first["rss_mib"]
        print(f"{name:<12}" + "".join(f"{c:>20}" for c in cells), end="")
        print(f"   {ratio:.2f}x cpu/object, {growth:+.0f} MiB")
    print(
        f"(wall/CPU time per object, peak RSS of the process; {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f})"
    )


if __name__ == "__main__":
    main()
