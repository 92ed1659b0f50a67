"""64 KiB objects through the gateway with 16 concurrent clients (issue 5, "Performance").

PUTs and GETs per second and their p50/p99 latency, with the same client against:

- the gateway (granian, a real ``Gateway`` over two local-folder sites, copies = 2, in its
  own process), with one worker process and with ``--workers`` (the core count), the two
  taking turns run after run: goal >= 1,000 PUT/s and >= 3,000 GET/s;
- the engine called directly by 16 threads on the same deployment (what the gateway
  could reach at best);
- the Swift S3 server of the project's test bed on the same machine (the reference; it
  keeps one replica, without encryption): a running test bed is reused, one started here
  is stopped at the end;
- a minimal ASGI app that answers at once, under granian and under uvicorn + uvloop +
  httptools (the ceiling of this client and server on this machine: no engine, no
  signature check).

The client: 16 threads in this process, each with its own keep-alive ``http.client``
connection, SigV4 over ``UNSIGNED-PAYLOAD`` (see ``bench_gateway.py``). The machine has 2
cores, which client and server share. Each rate is the median of ``--runs`` runs; the
latencies are those of the median run.

Run: ``.venv/bin/python bench/bench_gateway_small.py [--small-count 600] [--clients 16]
[--runs 3] [--quick] [--no-swift] [--workers N]``.

Figures of 2026-12-01, evening (``--no-swift``; the previous commit, before the catalog's
point reads took turns on per-thread connections, in brackets, run just after)::

    PUT  engine direct 206/s (103), gateway 1 worker 149/s (108), 2 workers 189/s (177)
    GET  engine direct 972/s (319), gateway 1 worker 419/s (216), 2 workers 710/s (485)
    ceiling (minimal app, granian): PUT 1,834/s (1,908), GET 2,210/s (2,145)

The ceiling is below the GET goal: this client and granian, with nothing behind, do not
reach 3,000 GETs/s on this machine.

Figures of 2026-12-01, 16:00 (a slow hour: the minimal app's ceiling was a third of the
afternoon's)::

    PUT  Swift 41/s, engine direct 147/s, gateway 1 worker 66/s, 2 workers 84/s (1.26x)
    GET  Swift 55/s, engine direct 369/s, gateway 1 worker 140/s, 2 workers 353/s (2.52x)
    ceiling (minimal app): PUT 676-870/s, GET 558-765/s

An hour later (``--no-swift``): PUT 1 worker 74/s, 2 workers 91/s (1.23x), engine direct
105/s; GET 171/s, 218/s (1.28x), engine direct 314/s; ceiling PUT 769-1,039/s, GET
1,078-1,896/s. The GET gain depends on how the kernel's SO_REUSEPORT hash splits the 16
connections between the two workers.

Figures of 2026-12-01, afternoon (600 objects, 3 runs; load average 2.7 to 3.6)::

    PUT  Swift 70/s, engine direct 231/s, gateway 157/s (p50 102 ms, p99 169 ms):
         2.25x Swift, 0.68 of direct; goal >= 1,000 NOT met
    GET  Swift 91/s, engine direct 649/s, gateway 312/s (p50 52 ms, p99 85 ms):
         3.43x Swift, 0.48 of direct; goal >= 3,000 NOT met
    ceiling (minimal app): PUT 2,104-2,307/s, GET 2,482-2,928/s

In the morning (before the catalog's hot path ran on the driver's connection and a GET
read the catalog once): PUT gateway 65-75/s, engine direct 96-108/s; GET gateway
87-145/s, engine direct 196-281/s.

The engine is the first limit (about 3.5 ms of user and 3 ms of kernel CPU per 64 KiB
put: two encryptions, a catalog commit, four fsynced files; about 1.1 ms per get); then
the GIL handed between 16 requests' threads (a GET costs ~4 ms of gateway CPU under this
load against ~2 ms driven in-process one at a time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateway import Client, child, gateway_argv, machine_note, make_deployment
from bench_gateway_server import minimal_argv
from domicile.gateway.server import free_port

SMALL = 64 * 1024


@dataclass
class Run:
    rate: float
    p50_ms: float
    p99_ms: float


def threaded(clients: int, count: int, one: Callable[[int, int], None]) -> Run:
    """``one(thread, i)`` for i in range(count), split over ``clients`` threads."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    start = threading.Barrier(clients + 1)

    def work(t: int) -> None:
        mine = latencies[t]
        start.wait()
        try:
            for i in range(t, count, clients):
                began = time.perf_counter()
                one(t, i)
                mine.append(time.perf_counter() - began)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    every = sorted(x for mine in latencies for x in mine)
    return Run(
        count / elapsed,
        every[len(every) // 2] * 1000,
        every[min(len(every) - 1, int(len(every) * 0.99))] * 1000,
    )


def measure(
    put: Callable[[int, str, bytes], None],
    get: Callable[[int, str], int],
    clients: int,
    count: int,
    runs: int,
    tag: str = "",
) -> tuple[Run, Run]:
    """Median PUT and GET runs of ``count`` 64 KiB objects; every run PUTs new keys (no
    overwrite, so no garbage to collect; ``tag`` keeps calls on one bucket apart), the
    GETs read the last run's."""
    data = os.urandom(SMALL)
    prefix = f"{tag}warm"

    def one_put(t: int, i: int) -> None:
        put(t, f"{prefix}/{i:06d}", data)

    def one_get(t: int, i: int) -> None:
        n = get(t, f"{prefix}/{i:06d}")
        if n != SMALL:
            raise RuntimeError(f"GET returned {n} bytes, not {SMALL}")

    threaded(clients, min(count, 200), one_put)  # warm up connections and caches
    puts = []
    for run in range(runs):
        prefix = f"{tag}run{run}"
        puts.append(threaded(clients, count, one_put))
    gets = [threaded(clients, count, one_get) for _ in range(runs)]
    return median(puts), median(gets)


def over_http(
    port: int,
    bucket: str,
    clients: int,
    count: int,
    runs: int,
    keys: dict[str, str],
    tag: str = "",
) -> tuple[Run, Run]:
    """:func:`measure` with one keep-alive connection per client thread."""
    conns = [Client(port, **keys) for _ in range(clients)]
    try:
        return measure(
            lambda t, key, data: conns[t].put(f"/{bucket}/{key}", data),
            lambda t, key: conns[t].get(f"/{bucket}/{key}"),
            clients,
            count,
            runs,
            tag,
        )
    finally:
        for conn in conns:
            conn.close()


def direct(config: Path, clients: int, count: int, runs: int) -> tuple[Run, Run]:
    """:func:`measure` with the threads calling ``Domicile.put`` / ``get`` themselves."""
    import domicile

    with domicile.open(config) as d:
        return measure(
            lambda _, key, data: d.put("bench", f"direct/{key}", data),
            lambda _, key: len(d.get("bench", f"direct/{key}").read()),
            clients,
            count,
            runs,
        )


def gateway_runs(
    config: Path, port: int, workers: tuple[int, ...], clients: int, count: int, runs: int
) -> dict[int, tuple[Run, Run]]:
    """Median PUT and GET runs of ``domicile serve --workers N`` for each N, the settings
    taking turns run after run (this VM's speed drifts within minutes)."""
    found: dict[int, list[tuple[Run, Run]]] = {n: [] for n in dict.fromkeys(workers)}
    log = config.parent / "gateway.log"
    for run in range(runs):
        for n in found:
            argv = [*gateway_argv(config), "--workers", str(n)]
            log.write_bytes(b"")
            with child(argv, port, log):
                deadline = time.monotonic() + 60
                while log.read_text().count('"message": "listening"') < n:  # every worker
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{n} gateway workers did not all listen")
                    time.sleep(0.1)
                tag = f"w{n}r{run}-"
                found[n].append(over_http(port, "bench", clients, count, 1, {}, tag))
    return {n: (median([p for p, _ in r]), median([g for _, g in r])) for n, r in found.items()}


def median(runs: list[Run]) -> Run:
    rate = statistics.median(r.rate for r in runs)
    return min(runs, key=lambda r: abs(r.rate - rate))


def show(label: str, run: Run, base: Run | None, goal: float | None = None) -> None:
    """One line; ``base`` is the Swift figure (None: this is it, or there is none)."""
    ratio = f"ratio {run.rate / base.rate:5.2f}" if base else ""
    if label.startswith(("PUT Swift", "GET Swift")):
        ratio = "(reference)"
    met = ""
    if goal is not None:
        met = f"  goal >= {goal:,.0f}: {'met' if run.rate >= goal else 'NOT met'}"
    print(
        f"  {label:<34} {run.rate:7.0f} /s  p50 {run.p50_ms:6.1f} ms  p99 {run.p99_ms:6.1f} ms"
        f"  {ratio}{met}"
    )


def swift_reference(clients: int, count: int, runs: int) -> tuple[Run, Run] | None:
    import boto3
    from botocore.config import Config
    from testbed.servers import SwiftServer, TestbedError

    server = SwiftServer()
    try:
        started = server.start()
    except TestbedError as exc:
        print(f"  (no Swift reference: {str(exc).splitlines()[0]})")
        return None
    try:
        c = server.credentials
        s3: Any = boto3.client(
            "s3",
            endpoint_url=c.endpoint,
            aws_access_key_id=c.access_key,
            aws_secret_access_key=c.secret_key,
            region_name=c.region,
            config=Config(s3={"addressing_style": "path"}),
        )
        bucket = f"bench-small-{os.getpid()}"
        s3.create_bucket(Bucket=bucket)
        port = int(c.endpoint.rsplit(":", 1)[1])
        keys = {"access_key": c.access_key, "secret": c.secret_key, "region": c.region}
        try:
            return over_http(port, bucket, clients, count, runs, keys)
        finally:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if objects:
                    s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
            s3.delete_bucket(Bucket=bucket)
    finally:
        if started:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small-count", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a 10x smaller run")
    parser.add_argument("--no-swift", action="store_true", help="skip the Swift reference")
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 2, help="gateway workers to compare"
    )
    args = parser.parse_args()
    count = max(args.clients, args.small_count // 10 if args.quick else args.small_count)
    machine_note()
    print(f"\n4. {count} x 64 KiB, {args.clients} concurrent clients (threads, own connections)")
    root = Path(tempfile.mkdtemp(prefix="domicile-bench-gws-", dir=args.dir))
    try:
        port = free_port()
        config = make_deployment(root, port)
        engine = direct(config, args.clients, count, args.runs)
        gateways = gateway_runs(config, port, (1, args.workers), args.clients, count, args.runs)
        ceiling = {}
        for kind in ("granian", "uvicorn"):
            port = free_port()
            with child(minimal_argv(kind, port, SMALL), port):
                ceiling[kind] = over_http(port, "x", args.clients, count, args.runs, {})
    finally:
        shutil.rmtree(root, ignore_errors=True)
    swift = None if args.no_swift else swift_reference(args.clients, count, args.runs)
    print("  (gateway: 2 copies, encrypted; Swift: 1 replica, plain)")
    lines = (("PUT", "Swift S3 (test bed)", 1000), ("GET", "Swift S3 (test bed)", 3000))
    for i, (verb, swift_label, goal) in enumerate(lines):
        base = swift[i] if swift else None
        if base:
            show(f"{verb} {swift_label}", base, None)
        show(f"{verb} engine direct, 16 threads", engine[i], base)
        one = gateways[1][i]
        for workers, runs in gateways.items():
            show(f"{verb} gateway, {workers} worker(s)", runs[i], base, goal)
            print(
                f"  {'  / engine direct, / 1 worker':<34} {runs[i].rate / engine[i].rate:7.2f}"
                f" {runs[i].rate / one.rate:7.2f}"
            )
        for kind, runs in ceiling.items():
            show(f"{verb} ceiling: minimal app, {kind}", runs[i], base)
    machine_note()


if __name__ == "__main__":
    main()
