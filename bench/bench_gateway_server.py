"""Server choice for the gateway (issue 5): granian embedded vs uvicorn, by measurement.

A minimal ASGI app -- PUT drains the body, GET streams N bytes -- under:

- uvicorn with uvloop and httptools (the baseline);
- granian 2.8 embedded (``granian.server.embed.Server``, ``Interfaces.ASGI``) on an asyncio
  loop, as ``domicile serve`` runs it;
- the same on a uvloop loop.

All three listen at once, each in its own process; the same client (``http.client``, 1 MiB
pieces from memory, reads into a reused buffer) sends the same bytes, the runs are
interleaved and each figure is the median of ``--runs``. Egress is measured twice: in 1 MiB
sends, and in 64 KiB sends, the size of the pieces the gateway sends (one age chunk). The
machine has 2 cores, which client and server share.

Run: ``.venv/bin/python bench/bench_gateway_server.py [--size-mib 1024] [--runs 3]
[--quick]`` (about 1 minute).

Figures of 2026-12-01, 1 GiB (load average 1.0; and 5.5 in an earlier run)::

    ingest  uvicorn 890, granian/asyncio 1658 (1.86x), granian/uvloop 1941 MB/s (2.18x)
            (loaded: 420, 740 (1.76x), 957 (2.28x))
    egress  uvicorn 3736, granian/asyncio 2359 (0.63x), granian/uvloop 2494 MB/s (0.67x)
    egress in 64 KiB sends: uvicorn 2778, granian/asyncio 1924 (0.69x), uvloop 2111 (0.76x)

Verdict: granian. It ingests about twice as fast, and ingest (with encryption and two
copies behind it) is the path with the tight goal; its egress, 2.4 GB/s, is four times
the gateway's GET goal, so uvicorn's faster egress buys nothing the gateway could use.
granian embedded on an asyncio loop aborted (SIGABRT, a Rust "panic in a function that
cannot unwind") at SIGTERM after serving, in 2 of about 8 shutdowns seen here; on uvloop,
never. The run prints a note when a server ends that way.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_gateway import PIECE, Client, MiB, child, line, machine_note, median_rate, timed
from domicile.gateway.server import free_port


def minimal_argv(kind: str, port: int, size: int) -> list[str]:
    """This file serving the minimal ASGI app under ``kind``."""
    return [sys.executable, __file__, "--serve-minimal", kind, str(port), str(size)]


# --- the minimal app --------------------------------------------------------------------------


def minimal_app(size: int) -> Callable[..., Any]:
    """PUT: drain the body, answer 200. GET: stream ``size`` bytes in 1 MiB pieces, or in
    pieces of ``?piece=N`` bytes (the gateway sends 64 KiB: one age chunk)."""
    chunk = os.urandom(PIECE)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                kind = message["type"].rsplit(".", 1)[-1]
                await send({"type": f"lifespan.{kind}.complete"})
                if kind == "shutdown":
                    return
        if scope["type"] != "http":
            return
        if scope["method"] == "PUT":
            more = True
            while more:
                message = await receive()
                more = message.get("more_body", False)
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        query = scope.get("query_string", b"").decode()
        step = int(query.removeprefix("piece=")) if query.startswith("piece=") else PIECE
        part = chunk[:step]
        headers = [(b"content-length", str(size).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        left = size
        while left > 0:
            piece = part if left >= step else part[:left]
            left -= len(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": left > 0})

    return app


def serve_minimal(kind: str, port: int, size: int) -> None:
    """Run in a subprocess: the minimal app under ``kind`` until SIGTERM."""
    app = minimal_app(size)
    if kind == "uvicorn":
        import uvicorn

        uvicorn.run(
            app,
            host="127.0.0.1",
            port=port,
            loop="uvloop",
            http="httptools",
            log_level="warning",
            timeout_keep_alive=600,
        )
        return
    from granian.constants import Interfaces
    from granian.log import LogLevels
    from granian.server.embed import Server as Granian

    server = Granian(
        app,
        address="127.0.0.1",
        port=port,
        interface=Interfaces.ASGI,
        log_enabled=False,
        log_level=LogLevels.warning,
    )

    async def main() -> None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, server.stop)
        await server.serve()

    if kind == "granian-uvloop":
        import uvloop

        uvloop.run(main())
    else:
        asyncio.run(main())


def bench_server(size: int, runs: int) -> None:
    print(f"\n1. server choice: minimal ASGI app, {size // MiB} MiB per request, http.client")
    data = os.urandom(size)
    kinds = ("uvicorn", "granian", "granian-uvloop")
    put: dict[str, list[float]] = {kind: [] for kind in kinds}
    get: dict[str, list[float]] = {kind: [] for kind in kinds}
    get64: dict[str, list[float]] = {kind: [] for kind in kinds}
    with contextlib.ExitStack() as stack:
        clients = {}
        for kind in kinds:  # all three listen at once; the runs are interleaved
            port = free_port()
            stack.enter_context(child(minimal_argv(kind, port, size), port))
            clients[kind] = Client(port, signed=False)
            clients[kind].put("/warm", data[:MiB])
        for _ in range(runs):
            for kind, client in clients.items():
                put[kind].append(timed(lambda c=client: c.put("/x", data)))
                get[kind].append(timed(lambda c=client: c.get("/x")))
                get64[kind].append(timed(lambda c=client: c.get("/x?piece=65536")))
        for client in clients.values():
            client.close()
    results = {k: (median_rate(size, put[k]), median_rate(size, get[k])) for k in kinds}
    small = {k: median_rate(size, get64[k]) for k in kinds}
    base_put, base_get = results["uvicorn"]
    names = {
        "uvicorn": "uvicorn, uvloop + httptools",
        "granian": "granian embedded, asyncio",
        "granian-uvloop": "granian embedded, uvloop (as the gateway)",
    }
    for kind, (put, _) in results.items():
        line(f"ingest, {names[kind]}", put, None if kind == "uvicorn" else base_put)
    for kind, (_, get) in results.items():
        line(f"egress, {names[kind]}", get, None if kind == "uvicorn" else base_get)
    for kind, rate in small.items():
        base = None if kind == "uvicorn" else small["uvicorn"]
        line(f"egress, 64 KiB sends, {names[kind]}", rate, base)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a 10x smaller run")
    parser.add_argument("--serve-minimal", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_minimal:
        kind, port, size = args.serve_minimal
        serve_minimal(kind, int(port), int(size))
        return
    size_mib = max(1, args.size_mib // 10) if args.quick else args.size_mib
    machine_note()
    bench_server(size_mib * MiB, args.runs)
    machine_note()


if __name__ == "__main__":
    main()
