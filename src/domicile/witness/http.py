"""The witness's HTTP service: ``POST <prefix>/add-checkpoint`` (c2sp.org/tlog-witness).

A small threaded HTTP/1.1 server from the standard library: a witness answers a few
requests a minute per log, and each is a signature check, a consistency proof and one
fsync, so the gateway's ASGI stack would add nothing. Bodies over
:data:`MAX_BODY` bytes, or without a Content-Length, are refused (413 / 411).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from domicile.audit.witness import BadRequest, Reply, decide, parse_request
from domicile.witness.store import WitnessFolder

log = logging.getLogger("domicile.witness")

#: The largest request body accepted: 63 proof lines and a checkpoint with signatures.
MAX_BODY = 1 << 16


def add_checkpoint(
    folder: WitnessFolder, body: bytes, clock: Callable[[], float] = time.time
) -> Reply:
    """Decide one add-checkpoint request, persisting the new state before returning."""
    try:
        request = parse_request(body)
    except BadRequest as err:
        return Reply(400, f"{err}\n".encode())
    followed = folder.logs.get(request.head.origin)
    if followed is None:
        return Reply(404, b"this witness does not follow that log\n")
    with folder.locked(followed.origin):
        reply = decide(
            request,
            [followed.verifier()],
            folder.seen(followed.origin),
            folder.cosigner,
            int(clock()),
        )
        if reply.new_state is not None:
            folder.persist(followed.origin, reply.new_state)
    log.info(
        "add-checkpoint origin=%r size=%d old=%d -> %d",
        followed.origin,
        request.head.size,
        request.old_size,
        reply.status,
    )
    return reply


class _Handler(BaseHTTPRequestHandler):
    server: WitnessServer
    protocol_version = "HTTP/1.1"
    server_version = "domicile-witness"

    def log_message(self, format: str, *args: object) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _answer(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def do_POST(self) -> None:
        if self.path != self.server.prefix + "/add-checkpoint":
            self._answer(Reply(404, b"not found\n"))
            return
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.close_connection = True
            self._answer(Reply(HTTPStatus.LENGTH_REQUIRED, b"a Content-Length is required\n"))
            return
        if int(length) > MAX_BODY:
            self.close_connection = True
            self._answer(Reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"request too large\n"))
            return
        body = self.rfile.read(int(length))
        self._answer(add_checkpoint(self.server.folder, body))

    def do_GET(self) -> None:
        self._answer(Reply(404, b"not found\n"))


class WitnessServer(ThreadingHTTPServer):
    """Serves one witness folder; :meth:`start` runs it on a daemon thread (tests)."""

    daemon_threads = True

    def __init__(self, folder: WitnessFolder, host: str, port: int, prefix: str = "") -> None:
        super().__init__((host, port), _Handler)
        self.folder = folder
        self.prefix = prefix.rstrip("/")

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}{self.prefix}"

    def start(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, name="witness", daemon=True)
        thread.start()
        return thread
