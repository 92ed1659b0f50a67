"""A tiny TCP proxy that makes a server slow, not dead (for the drills).

Every piece the server sends back is held ``delay`` seconds before it is passed on, and
pieces are at most ``piece`` bytes: the first byte of each answer arrives ``delay``
seconds late and the body trickles at ``piece / delay`` bytes per second. Requests go
through untouched. The proxy runs on its own thread and event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class ThrottlingProxy:
    """``127.0.0.1:<port>`` forwarding to ``upstream`` (host, port), slowed down."""

    def __init__(self, upstream: tuple[str, int], *, delay: float, piece: int = 65536) -> None:
        self.upstream = upstream
        self.delay = delay
        self.piece = piece
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._run, name="throttle", daemon=True)

    def __enter__(self) -> ThrottlingProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the throttling proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            self._pipe(reader, up_writer, slowed=False),
            self._pipe(up_reader, writer, slowed=True),
            return_exceptions=True,
        )

    async def _pipe(
        self, src: asyncio.StreamReader, dst: asyncio.StreamWriter, *, slowed: bool
    ) -> None:
        try:
            while data := await src.read(self.piece):
                if slowed and self.delay:  # read each time: pooled connections slow down too
                    await asyncio.sleep(self.delay)
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()
