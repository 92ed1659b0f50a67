"""Server CPU per 64 KiB PUT and GET: the gateway against SeaweedFS in the same run (issue 21).

On a loaded machine ops/s drift by a factor of two within minutes; the CPU time the server
process spends per request drifts far less. This bench reads ``utime + stime`` from
``/proc/PID/stat`` of the server (the gateway's process and its granian workers; SeaweedFS's
one ``weed server`` process) before and after each phase of ``--count`` requests from 16
client threads (the client of ``bench_gateway_small.py``), and prints the CPU per request,
ops/s and p99, rounds interleaved, medians.

``--tree DIR`` (repeatable) runs the gateway from each source tree in turn (its ``src`` on
``PYTHONPATH``): an A/B comparison of two commits in one run. Without it, this tree.

Run: ``PYTHONPATH=src .venv/bin/python bench/bench_gateway_cpu.py [--count 600]
[--rounds 3] [--no-seaweed] [--tree A --tree B]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateway import Client, child, gateway_argv, make_deployment
from bench_gateway_small import SMALL, threaded
from domicile.gateway.server import free_port

TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    cpu_ms: float  # server CPU per request
    rate: float
    p99_ms: float


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, todo = [pid], [pid]
    while todo:
        here = todo.pop()
        kids = [p for p, parent in parents.items() if parent == here]
        found += kids
        todo += kids
    return found


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def phase(pids: list[int], run: Callable[[], Any], count: int) -> Phase:
    before = cpu_seconds(pids)
    result = run()
    return Phase((cpu_seconds(pids) - before) * 1000 / count, result.rate, result.p99_ms)


def put_get(
    pids: list[int], port: int, bucket: str, keys: dict[str, str], count: int, tag: str
) -> tuple[Phase, Phase]:
    clients = 16
    conns = [Client(port, **keys) for _ in range(clients)]
    data = os.urandom(SMALL)
    try:
        threaded(clients, 64, lambda t, i: conns[t].put(f"/{bucket}/{tag}w{i}", data))
        put = phase(
            pids,
            lambda: threaded(
                clients, count, lambda t, i: conns[t].put(f"/{bucket}/{tag}{i:06d}", data)
            ),
            count,
        )

        def one_get(t: int, i: int) -> None:
            if conns[t].get(f"/{bucket}/{tag}{i:06d}") != SMALL:
                raise RuntimeError("short GET")

        get = phase(pids, lambda: threaded(clients, count, one_get), count)
        return put, get
    finally:
        for conn in conns:
            conn.close()


@contextmanager
def seaweed() -> Iterator[tuple[list[int], int, dict[str, str]]]:
    import boto3
    from testbed.servers import private_servers

    with private_servers(["seaweed"]) as servers:
        server = servers["seaweed"]
        c = server.credentials
        s3: Any = boto3.client(
            "s3",
            endpoint_url=c.endpoint,
            aws_access_key_id=c.access_key,
            aws_secret_access_key=c.secret_key,
            region_name=c.region,
        )
        s3.create_bucket(Bucket="bench")
        keys = {"access_key": c.access_key, "secret": c.secret_key, "region": c.region}
        yield list(server.pids().values()), int(c.endpoint.rsplit(":", 1)[1]), keys


def gateway_round(tree: Path | None, root: Path, count: int, tag: str) -> tuple[Phase, Phase]:
    port = free_port()
    config = make_deployment(root / tag, port)
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = str(tree / "src")
    log = root / f"{tag}.log"
    old = os.environ.copy()
    os.environ.update(env)
    try:
        with child([*gateway_argv(config), "--workers", "1"], port, log) as proc:
            deadline = time.monotonic() + 60
            while '"message": "listening"' not in log.read_text():
                if time.monotonic() > deadline:
                    raise TimeoutError("the gateway did not listen")
                time.sleep(0.1)
            return put_get(descendants(proc.pid), port, "bench", {}, count, tag)
    finally:
        os.environ.clear()
        os.environ.update(old)


def summary(label: str, phases: list[Phase], ref: float | None) -> float:
    cpu = statistics.median(p.cpu_ms for p in phases)
    rate = statistics.median(p.rate for p in phases)
    p99 = statistics.median(p.p99_ms for p in phases)
    each = " ".join(f"{p.cpu_ms:.2f}" for p in phases)
    ratio = f"  {cpu / ref:4.2f}x SeaweedFS" if ref else ""
    print(
        f"  {label:<40} CPU {cpu:6.2f} ms/op ({each})  {rate:6.0f} op/s  p99 {p99:6.1f} ms{ratio}"
    )
    return cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-seaweed", action="store_true")
    parser.add_argument("--tree", type=Path, action="append", default=[])
    args = parser.parse_args()
    trees: list[Path | None] = list(args.tree) or [None]
    print(f"load average at start: {os.getloadavg()}")
    root = Path(tempfile.mkdtemp(prefix="domicile-bench-cpu-"))
    found: dict[str, list[tuple[Phase, Phase]]] = {}
    try:
        with seaweed() if not args.no_seaweed else _none() as weed:
            for r in range(args.rounds):
                if weed is not None:
                    pids, port, keys = weed
                    found.setdefault("SeaweedFS", []).append(
                        put_get(pids, port, "bench", keys, args.count, f"r{r}-")
                    )
                for n, tree in enumerate(trees):
                    label = f"gateway {tree or 'this tree'}"
                    found.setdefault(label, []).append(
                        gateway_round(tree, root, args.count, f"t{n}r{r}")
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"load average at end: {os.getloadavg()}")
    print(f"{args.count} x 64 KiB, 16 clients, {args.rounds} interleaved rounds (medians)")
    refs: list[float | None] = [None, None]
    for i, verb in enumerate(("PUT", "GET")):
        for label, rounds in found.items():
            cpu = summary(f"{verb} {label}", [r[i] for r in rounds], refs[i])
            if label == "SeaweedFS":
                refs[i] = cpu


@contextmanager
def _none() -> Iterator[None]:
    yield None


if __name__ == "__main__":
    main()
