"""Several gateway processes on one address: the S3 API on every core.

The engine is synchronous Python, so one process runs one request's Python at a time (the
GIL). ``[gateway] workers = N`` (or ``serve --workers N``) starts N worker processes that
each open the deployment and listen on the same address; the kernel spreads connections
over them (``SO_REUSEPORT``, which granian sets). They share only what the deployment
already shares between processes: the catalog (SQLite's write lock, taken up front), the
audit chain (each append reads the head inside its write transaction), the policy-change
records (under a file lock). The first worker alone runs the periodic upload sweep, and
``/metrics`` on any worker sums every worker's counts (:mod:`.metrics`).

:class:`Supervisor` checks the address is free, starts the workers and waits until each has
started, forwards SIGTERM and SIGINT (each worker then drains as a single gateway does),
restarts a worker that dies — unless it died within :data:`QUICK_DEATH` seconds of its
start :data:`CRASH_LOOP` times in a row: it would only die again, so the gateway stops — and
removes the folder of the workers' metrics at the end. The caller opens the deployment once
before, so first-open work (catalog migrations, audit key, buckets from the configuration)
is done once, not raced by N processes.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType
from typing import Final

from prometheus_client import multiprocess

from domicile.config import GatewaySection
from domicile.engine import open_deployment
from domicile.errors import ConfigError, DomicileError, ServeError
from domicile.gateway import logs
from domicile.gateway.app import Gateway
from domicile.gateway.metrics import MULTIPROCESS_ENV
from domicile.gateway.server import Server, exit_abandoning, free_port, run

#: Seconds a worker gets past the grace period to close its engine and exit (it abandons
#: requests still blocked on hung sites) before the supervisor kills it.
STOP_SLACK: Final = 5.0

log = logging.getLogger(logs.LOGGER)

#: Seconds a worker has to open the deployment and start listening.
START_TIMEOUT: Final = 60.0
#: A worker that dies within this many seconds of its start died "quickly"...
QUICK_DEATH: Final = 10.0
#: ... and this many quick deaths in a row stop the gateway.
CRASH_LOOP: Final = 3


@dataclass(frozen=True, slots=True)
class WorkerSpec:
    """What a worker process needs to serve (picklable: it crosses to a new process)."""

    config_path: Path
    listen: str
    index: int
    log_level: str


def check_free(host: str, port: int) -> None:
    """ConfigError if something listens on ``host:port`` already.

    granian binds with ``SO_REUSEPORT``, so a second gateway on a taken port would not
    fail: it would silently share the port with the first. A plain bind (``SO_REUSEADDR``
    only, which Linux refuses next to a listener) tells."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise ConfigError(
                    f"cannot listen on {host}:{port}: {exc.strerror}",
                    hint="set [gateway] listen (or --listen) to an address of this machine",
                ) from None
            raise ConfigError(
                f"{host}:{port} is in use: another server listens there",
                hint="stop it, or choose another address with --listen or [gateway] listen",
            ) from None


class Supervisor:
    """Run ``count`` gateway workers for the deployment at ``config_path``."""

    def __init__(
        self, config_path: Path, settings: GatewaySection, count: int, *, log_level: str
    ) -> None:
        if count < 2:
            raise ValueError("a supervisor runs two workers or more")
        self.config_path = config_path
        self.host = settings.host
        self.port = settings.port or free_port(settings.host)
        self.grace = settings.shutdown_grace
        self.count = count
        self.log_level = log_level
        self._context = multiprocessing.get_context("spawn")
        self._workers: dict[int, BaseProcess] = {}
        self._started: dict[int, float] = {}
        self._stop = threading.Event()

    @property
    def listen(self) -> str:
        return f"{self.host}:{self.port}"

    def run(self, on_ready: Callable[[], None] = lambda: None) -> None:
        """Start the workers, call ``on_ready`` once all have started, then supervise them
        until SIGTERM or SIGINT and their graceful end."""
        check_free(self.host, self.port)
        with self._metrics_folder(), self._signals():
            try:
                self._start_all()
                if not self._stop.is_set():
                    on_ready()
                    self._supervise()
            finally:
                self._stop_all()

    def stop(self) -> None:
        """Ask every worker to drain and stop (what SIGTERM does)."""
        self._stop.set()

    # --- starting ------------------------------------------------------------------------

    def _start_all(self) -> None:
        pending = {index: self._start(index) for index in range(self.count)}
        deadline = time.monotonic() + START_TIMEOUT
        while pending:
            if self._stop.is_set():
                return
            left = deadline - time.monotonic()
            if left <= 0:
                raise ServeError(
                    f"{len(pending)} of {self.count} gateway workers did not start within "
                    f"{START_TIMEOUT:.0f} s",
                    hint="look at the log lines above; a slow catalog or site can delay opening",
                )
            sentinels = {self._workers[i].sentinel: i for i in pending}
            for ready in wait([*pending.values(), *sentinels], timeout=min(left, 0.5)):
                # Its report, or its end (a sentinel): the pipe says which.
                if isinstance(ready, Connection):
                    index = next(i for i, conn in pending.items() if conn is ready)
                else:
                    assert isinstance(ready, int)
                    index = sentinels[ready]
                if index in pending:
                    _started(pending.pop(index), index)

    def _start(self, index: int) -> Connection:
        """Start worker ``index``; return the end of the pipe it reports its start on."""
        receiving, sending = self._context.Pipe(duplex=False)
        spec = WorkerSpec(self.config_path, self.listen, index, self.log_level)
        process = self._context.Process(
            target=_worker_main, args=(spec, sending), name=f"domicile-gateway-{index}"
        )
        process.start()
        sending.close()
        self._workers[index] = process
        self._started[index] = time.monotonic()
        return receiving

    # --- running -------------------------------------------------------------------------

    def _supervise(self) -> None:
        quick_deaths = 0
        while not self._stop.is_set():
            by_sentinel = {p.sentinel: i for i, p in self._workers.items()}
            for sentinel in wait(list(by_sentinel), timeout=0.5):
                if self._stop.is_set():
                    break
                assert isinstance(sentinel, int)
                index = by_sentinel[sentinel]
                process = self._workers[index]
                process.join()
                _forget_metrics_of(process.pid)
                lived = time.monotonic() - self._started[index]
                quick_deaths = quick_deaths + 1 if lived < QUICK_DEATH else 0
                if quick_deaths >= CRASH_LOOP:
                    raise ServeError(
                        f"gateway worker {index} died {quick_deaths} times in a row within "
                        f"{QUICK_DEATH:.0f} s of its start (last exit status "
                        f"{process.exitcode}); the gateway stops",
                        hint="look at the log lines above for the cause",
                    )
                log.error(
                    "a gateway worker died; starting another",
                    extra={"worker": index, "exit_status": process.exitcode},
                )
                self._start(index).close()

    def _stop_all(self) -> None:
        for process in self._workers.values():
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace + STOP_SLACK
        for index, process in self._workers.items():
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("a gateway worker did not stop in time; killed", extra={"worker": index})
                process.kill()
                process.join()

    @contextlib.contextmanager
    def _signals(self) -> Iterator[None]:
        def handler(signum: int, frame: FrameType | None) -> None:
            self.stop()

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    @contextlib.contextmanager
    def _metrics_folder(self) -> Iterator[None]:
        """The workers' metrics files, in a folder of their own, gone at the end."""
        folder = tempfile.mkdtemp(prefix="domicile-gateway-metrics-")
        before = os.environ.get(MULTIPROCESS_ENV)
        os.environ[MULTIPROCESS_ENV] = folder  # inherited by every worker started
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(MULTIPROCESS_ENV, None)
            else:
                os.environ[MULTIPROCESS_ENV] = before
            shutil.rmtree(folder, ignore_errors=True)


# --- in the worker process ---------------------------------------------------------------


def _worker_main(spec: WorkerSpec, report: Connection) -> None:
    """A worker: open the deployment, serve on the shared address until SIGTERM."""
    logs.configure(spec.log_level, worker=spec.index)
    try:
        engine = open_deployment(spec.config_path)
        settings = GatewaySection.model_validate(
            {**engine.config.gateway.model_dump(), "listen": spec.listen}
        )
        gateway = Gateway(engine, settings, sweeps=spec.index == 0)
        server = Server(gateway)
    except DomicileError as exc:
        report.send(("config" if isinstance(exc, ConfigError) else "error", exc.message, exc.hint))
        raise SystemExit(1) from None

    def started() -> None:
        with contextlib.suppress(OSError), report:  # a restarted worker's pipe is not read
            report.send(None)

    gateway.on_start = started
    abandoned = 0
    try:
        run(server)
    finally:
        abandoned = gateway.close()
        engine.close()
    if abandoned:
        exit_abandoning(abandoned)


# --- helpers ---------------------------------------------------------------------------


def _started(conn: Connection, index: int) -> None:
    """Return if worker ``index`` reported on ``conn`` that it started; else raise what
    it reported instead (a ConfigError stays one), or that it said nothing."""
    with conn:
        try:
            report: tuple[str, str, str | None] | None = conn.recv()
        except EOFError:
            report = ("error", "it ended without a word (see the log lines above)", None)
    if report is None:
        return
    kind, message, hint = report
    error = ConfigError if kind == "config" else ServeError
    raise error(
        f"gateway worker {index} could not start: {message}",
        hint=hint or "fix what the message says, then start the gateway again",
    )


def _forget_metrics_of(pid: int | None) -> None:
    folder = os.environ.get(MULTIPROCESS_ENV)
    if folder and pid is not None:
        multiprocess.mark_process_dead(pid, folder)  # type: ignore[no-untyped-call]
