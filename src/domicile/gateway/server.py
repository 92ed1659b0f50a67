"""Serve a :class:`~domicile.gateway.app.Gateway` over HTTP(S) with granian.

granian (Rust, hyper) was chosen by measurement over uvicorn with uvloop and httptools:
see ``bench/bench_gateway_server.py`` and docs/gateway.md. It runs embedded, on this
process's event loop — a uvloop loop (:func:`new_loop`): faster than asyncio's, and
granian on asyncio's loop was seen to abort on SIGTERM in about 3 shutdowns out of 10 —
with one ASGI worker; the S3 handlers run on the gateway's thread pool.

Shutdown (SIGTERM or SIGINT, or :meth:`Server.stop`) is graceful: the gateway drains —
requests in flight get ``[gateway] shutdown_grace`` seconds to finish (an upload being
received completes and commits) while new ones are answered ``503 ServiceUnavailable``
with ``Connection: close``, which SDKs retry — and only then does the listener close (the
embedded granian cuts open connections when it stops). The caller then closes the engine,
which signs the audit head.

A request still running when the grace period ends is waiting on a site that stopped
answering (every site call has a deadline, but a read's last copy is given
``LAST_WAIT`` seconds per piece). The gateway does not wait for it: the listener closes,
the engine is closed (the audit head signed; a site whose breaker is open is skipped) and
the process ends with :func:`exit_abandoning`, without joining the threads still blocked,
so SIGTERM ends the gateway within the grace period and a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any

import uvloop
from granian.constants import Interfaces
from granian.log import LogLevels
from granian.server.embed import Server as Granian

from domicile.errors import ConfigError
from domicile.gateway.app import Gateway
from domicile.gateway.logs import LOGGER

log = logging.getLogger(LOGGER)


def exit_abandoning(abandoned: int, status: int = 0) -> None:
    """End the process now, leaving ``abandoned`` requests blocked on hung sites: Python's
    own exit would join their threads (for as long as the sites let them)."""
    log.warning("requests abandoned at shutdown", extra={"abandoned": abandoned})
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def new_loop() -> asyncio.AbstractEventLoop:
    """The event loop the gateway runs on (uvloop)."""
    return uvloop.new_event_loop()


def run(server: Server) -> None:
    """Serve until SIGTERM or SIGINT, on a new loop from :func:`new_loop`."""
    with asyncio.Runner(loop_factory=new_loop) as runner:
        runner.run(server.serve())


def granian_options(host: str, port: int, cert: Path | None, key: Path | None) -> dict[str, Any]:
    """The keyword arguments given to granian's embedded server (``granian.server.embed``,
    experimental upstream: pyproject.toml bounds granian to the release tested)."""
    return {
        "address": host,
        "port": port,
        "interface": Interfaces.ASGI,
        "log_enabled": False,
        "log_level": LogLevels.warning,
        "ssl_cert": cert,
        "ssl_key": key,
        "backlog": 1024,
    }


class Server:
    """One listening gateway: ``await serve()`` until :meth:`stop` or a signal."""

    def __init__(self, gateway: Gateway, *, host: str | None = None, port: int | None = None):
        settings = gateway.settings
        self.gateway = gateway
        self.host = host or settings.host
        self.port = settings.port if port is None else port
        base = gateway.engine.config.base_dir
        cert = Path(base, settings.tls_cert) if settings.tls_cert else None
        key = Path(base, settings.tls_key) if settings.tls_key else None
        self.scheme = settings.scheme
        if cert and key:
            _check_tls(cert, key)
        self._granian = Granian(gateway, **granian_options(self.host, self.port, cert, key))
        self._stopping = False
        self._drain: asyncio.Task[None] | None = None

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    async def serve(self, *, handle_signals: bool = True) -> None:
        """Serve until stopped; then let in-flight requests finish (graceful)."""
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, self.stop)
        log.info("listening", extra={"endpoint": self.endpoint})
        try:
            await self._granian.serve()
        finally:
            await self.gateway.stop(grace=0)
            log.info("stopped", extra={"endpoint": self.endpoint})

    def stop(self) -> None:
        """Drain, then close the listener (see the module docstring). Call on the loop."""
        if not self._stopping:
            self._stopping = True
            log.info("shutting down", extra={"in_flight": self.gateway.in_flight})
            self._drain = asyncio.get_running_loop().create_task(self._drain_then_stop())

    async def _drain_then_stop(self) -> None:
        await self.gateway.stop()
        self._granian.stop()  # type: ignore[no-untyped-call]


class BackgroundServer:
    """A :class:`Server` on its own thread and event loop (tests, benchmarks, embedding)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, timeout: float = 15.0) -> str:
        """Start serving; return the endpoint once it accepts connections."""
        ready = threading.Event()

        def run() -> None:
            loop = new_loop()
            self._loop = loop
            ready.set()
            try:
                loop.run_until_complete(self.server.serve(handle_signals=False))
            except BaseException as exc:  # reported by start() and stop()
                self._error = exc
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="domicile-gateway", daemon=True)
        self._thread.start()
        ready.wait(timeout)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._error is not None:
                raise self._error
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.server.host, self.server.port), timeout=0.5),
            ):
                return self.server.endpoint
            time.sleep(0.05)
        raise TimeoutError(f"the gateway did not start listening on {self.server.endpoint}")

    def stop(self, timeout: float = 60.0) -> None:
        """Stop gracefully and wait for the thread to end."""
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self.server.stop)
            self._thread.join(timeout)


def _check_tls(cert: Path, key: Path) -> None:
    """ConfigError unless ``cert`` and ``key`` load as a TLS certificate chain and its key."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"cannot load the gateway's TLS certificate {cert} and key {key}: {reason}",
            hint="[gateway] tls_cert and tls_key name PEM files (relative to the "
            "configuration's folder); both must exist and match",
        ) from None


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
