"""The ASGI application: authenticate, route, run the handler on a worker thread, answer.

:class:`Gateway` is an ASGI 3 callable around one engine. For every request it assigns a
request id (in ``x-amz-request-id`` and on every log line), parses the request, verifies
its SigV4 signature, picks the handler (:mod:`.routes`) and runs it on the gateway's
thread pool, where the request body is a blocking iterator (:mod:`.bridge`). Errors, from
anywhere below, become S3 XML documents through the one table in :mod:`.s3errors`.

Unsigned ``GET /health`` and ``GET /metrics`` are operational endpoints (a signed request
to those paths is an S3 request for a bucket of that name: S3 refuses anonymous requests,
so the two can never be confused).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from domicile.config import GatewaySection, TenantSection
from domicile.gateway import logs, refused
from domicile.gateway.bridge import Receive, ThreadBody, batched, close_stream
from domicile.gateway.call import Call, Reply
from domicile.gateway.feed import Feed
from domicile.gateway.metrics import CONTENT_TYPE, Metrics
from domicile.gateway.refusals import check_request
from domicile.gateway.request import S3Request, parse_request
from domicile.gateway.routes import route
from domicile.gateway.s3errors import code_for, reject, render_error
from domicile.gateway.sigv4 import verify_request

if TYPE_CHECKING:
    from domicile.engine import Domicile

Send = Callable[[MutableMapping[str, Any]], Any]
Scope = MutableMapping[str, Any]

log = logging.getLogger(logs.LOGGER)
SERVER: Final = "domicile"
#: How often counts of refused requests of closed minutes are written to the audit log.
REFUSAL_FLUSH_SECONDS: Final = 15.0
#: Status codes whose responses carry no body.
_NO_BODY: Final = frozenset({204, 304})


class Gateway:
    """The S3 REST API over ``engine``, for the tenants and keys in ``tenants``."""

    def __init__(
        self,
        engine: Domicile,
        settings: GatewaySection | None = None,
        tenants: Mapping[str, TenantSection] | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        sweeps: bool = True,
    ) -> None:
        self.engine = engine
        self.settings = settings or engine.config.gateway
        tenants = engine.config.tenants if tenants is None else tenants
        self._keys = {
            key.access_key: (key.secret_value(), name)
            for name, tenant in tenants.items()
            for key in tenant.keys
        }
        self._tenant_of = {key: tenant for key, (_, tenant) in self._keys.items()}
        self._policies = {name: tenant.policies for name, tenant in tenants.items()}
        self._bypass = frozenset(
            k.access_key for t in tenants.values() for k in t.keys if k.bypass_governance
        )
        self._clock = clock or (lambda: datetime.now(UTC))
        self.pool = ThreadPoolExecutor(self.settings.threads, "domicile-s3")
        self.metrics = Metrics(engine.site_errors, engine.site_health)
        self.in_flight = 0
        #: Set on shutdown: requests in flight finish, new ones get 503 (retried elsewhere).
        self.draining = False
        #: Whether this app runs the periodic upload sweep (one worker of several does).
        self.sweeps = sweeps
        #: Called on the loop once the app has started (ASGI lifespan): a worker reports
        #: itself ready to its supervisor with it.
        self.on_start: Callable[[], None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._requests: set[asyncio.Task[object]] = set()
        #: Requests still running when the grace period ended: cancelled, their threads
        #: (blocked on sites that stopped answering) not waited for.
        self.abandoned = 0
        self._flusher: asyncio.Task[None] | None = None

    # --- ASGI ---------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.start()
                if self.on_start is not None:
                    self.on_start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def start(self) -> None:
        """Begin the periodic sweep of abandoned multipart uploads and of dead writers'
        scratch on the sites (needs a running loop), unless this app leaves it to another
        worker, and the periodic writing of refused requests' audit records."""
        if self._sweeper is None and self.sweeps:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_uploads())
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_refusals())

    async def stop(self, grace: float | None = None) -> None:
        """Drain: refuse new requests, wait up to ``grace`` seconds (default
        ``shutdown_grace``) for those in flight to finish, stop sweeping."""
        self.draining = True
        for task in (self._sweeper, self._flusher):
            if task is not None:
                task.cancel()
        self._sweeper = self._flusher = None
        deadline = time.monotonic() + (self.settings.shutdown_grace if grace is None else grace)
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        late = [request for request in self._requests if not request.done()]
        if late:  # past the grace: cut them (their connections close), do not wait on them
            self.abandoned += len(late)
            log.warning("requests cancelled after the grace period", extra={"requests": len(late)})
            for request in late:
                request.cancel()
            await asyncio.wait(late, timeout=1.0)

    async def _sweep_uploads(self) -> None:
        loop = asyncio.get_running_loop()
        expiry = self.engine.config.deployment.multipart_expiry_hours * 3600
        while True:
            await asyncio.sleep(self.settings.sweep_minutes * 60)
            try:
                swept = await loop.run_in_executor(self.pool, self._sweep_once, expiry)
            except Exception:
                log.exception("the sweep of abandoned multipart uploads failed")
            else:
                if swept:
                    log.info("aborted abandoned multipart uploads", extra={"uploads": swept})

    async def _flush_refusals(self) -> None:
        """Write the audit records of refusals counted in minutes that have closed (the
        open minute's are written by the engine's close, on shutdown)."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(REFUSAL_FLUSH_SECONDS)
            try:
                await loop.run_in_executor(self.pool, self.engine.flush_refusals)
            except Exception:
                log.exception("writing the audit records of refused requests failed")

    def _sweep_once(self, expiry: float) -> int:
        """Abort expired multipart uploads (how many), apply the buckets' lifecycle rules
        (never to a locked version), and remove the scratch that dead writers (a gateway
        killed mid-upload) left on the sites, after 24 h."""
        with self.engine.acting_as("gateway:sweep"):
            aborted = self.engine.sweep_uploads(older_than=expiry)
            life = self.engine.enforce_lifecycle()
            swept = self.engine.sweep_leftovers()
        if life.versions_expired or life.markers_expired or life.uploads_aborted:
            log.info(
                "applied lifecycle rules",
                extra={
                    "versions": life.versions_expired,
                    "markers": life.markers_expired,
                    "uploads": life.uploads_aborted,
                    "kept_locked": len(life.kept_locked),
                },
            )
        for site in swept.sites:
            if site.leftovers:
                log.info(
                    "removed the scratch of dead writers",
                    extra={"site": site.site_id, "files": len(site.leftovers)},
                )
            if site.error:
                log.warning(
                    "the sweep of a site's scratch failed",
                    extra={"site": site.site_id, "error": site.error},
                )
        return aborted

    # --- one request --------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        rid = secrets.token_hex(8).upper()
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        body = ThreadBody(receive, loop)
        task = asyncio.current_task()
        if task is not None:
            self._requests.add(task)
        self.in_flight += 1
        self.metrics.in_flight.inc()
        operation, status, sent, req = "Unknown", 500, 0, None
        try:
            try:
                req = parse_request(scope, domain=self.settings.domain)
            except Exception as exc:
                reply = self._error(exc, str(scope.get("path", "/")), rid)
            else:
                if not req.signed and req.method == "GET" and req.raw_path in _OPS:
                    operation, reply = req.raw_path[1:], self._ops(req.raw_path)
                elif self.draining:
                    refusal = reject("ServiceUnavailable", "the gateway is shutting down")
                    reply = self._error(refusal, req.resource, rid)
                    reply.headers.append(("connection", "close"))
                else:
                    context = contextvars.copy_context()
                    operation, reply = await loop.run_in_executor(
                        self.pool, context.run, self._serve, req, body, rid
                    )
            if req is not None and _declares_body(req) and not body.complete:
                # Refused before its body was read: the client may be holding the body
                # back (Expect: 100-continue) or still sending it; either way the next
                # bytes on this connection are not a request. Close it after the reply.
                reply.headers.append(("connection", "close"))
            status = reply.status
            sent = await self._send(send, req, reply, rid, loop)
        finally:
            self._requests.discard(task)
            self.in_flight -= 1
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            self.metrics.observe(operation, status, seconds, body.received, sent)
            log.info(
                "request",
                extra={
                    "operation": operation,
                    "method": scope.get("method"),
                    "bucket": req.bucket if req else None,
                    "key": req.key if req else None,
                    "status": status,
                    "received": body.received,
                    "sent": sent,
                    "ms": round(seconds * 1000, 2),
                },
            )
            logs.request_id.reset(token)

    def _serve(self, req: S3Request, body: ThreadBody, rid: str) -> tuple[str, Reply]:
        """Authenticate, route and run the handler (on a worker thread)."""
        operation = "Unknown"
        try:
            auth = verify_request(
                req.method,
                req.raw_path,
                req.query,
                req.headers,
                self._clock(),
                self._keys.get,
                self.settings.skew_seconds,
                regions=self.settings.regions or None,
            )
            operation, handler = route(req)
            check_request(operation, req, auth.tenant)
            policies = self._policies.get(auth.tenant)
            call = Call(
                req,
                auth,
                self.engine,
                self.settings,
                body,
                policies,
                may_bypass=auth.access_key in self._bypass,
            )
            with self.engine.acting_as(f"{auth.tenant}:{auth.access_key}"):
                reply = handler(call)
            if not isinstance(reply.body, bytes):
                reply.body = _prefetch(reply.body, reply.length())
        except Exception as exc:
            reply = self._error(exc, req.resource, rid)
            self._count_refusal(req, exc, reply.status)
            return operation, reply
        return operation, reply

    def _count_refusal(self, req: S3Request, exc: Exception, status: int) -> None:
        """Count an access refusal for the audit log's per-minute records (:mod:`.refused`)."""
        code = code_for(exc)
        if not refused.audited(code, status):
            return
        try:
            self.engine.count_refusal(refused.who(req, self._tenant_of), code)
        except Exception:  # the refusal is answered whatever becomes of its count
            log.exception("counting a refused request for the audit log failed")

    def _error(self, exc: BaseException, resource: str, rid: str) -> Reply:
        """The error document for ``exc``, logged as one line with the request id and the
        S3 code: ``error`` with the traceback for an internal error (a bug or an
        unexpected failure), ``warning`` for a 503 (a site or the gateway unavailable),
        ``info`` for every refusal (4xx and ``NotImplemented``): a client asking for what
        it may not have is not the gateway failing."""
        rendered = render_error(exc, resource=resource, request_id=rid)
        fields = {"request_id": rid, "code": rendered.code, "status": rendered.status}
        if rendered.code == "InternalError":
            log.error("internal error", exc_info=exc, extra=fields)
        elif rendered.status == 503:
            log.warning("unavailable", extra={**fields, "reason": str(exc)[:500]})
        else:
            log.info("refused", extra={**fields, "reason": str(exc)[:500]})
        extra = list(getattr(exc, "headers", ()))
        if rendered.status in _NO_BODY:  # a 304: the object's headers, no document
            return Reply(rendered.status, extra, b"")
        return Reply(rendered.status, [("content-type", "application/xml"), *extra], rendered.body)

    def _ops(self, path: str) -> Reply:
        if path == "/metrics":
            return Reply(200, [("content-type", CONTENT_TYPE)], self.metrics.render())
        status = "draining" if self.draining else "ok"
        document = {"status": status, "in_flight": self.in_flight}
        return Reply(200, [("content-type", "application/json")], json.dumps(document).encode())

    async def _send(
        self,
        send: Send,
        req: S3Request | None,
        reply: Reply,
        rid: str,
        loop: asyncio.AbstractEventLoop,
    ) -> int:
        """Send ``reply``; return the body bytes sent."""
        headers = [(k.lower(), v) for k, v in reply.headers]
        headers += [("x-amz-request-id", rid), ("server", SERVER)]
        with_body = not (req is not None and req.method == "HEAD") and reply.status not in _NO_BODY
        sized = any(k == "content-length" for k, _ in headers)
        if isinstance(reply.body, bytes) and not sized and reply.status not in _NO_BODY:
            headers.append(("content-length", str(len(reply.body))))
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        if isinstance(reply.body, bytes) or not with_body:
            data = reply.body if isinstance(reply.body, bytes) and with_body else b""
            await send({"type": "http.response.body", "body": data})
            return len(data)
        return await self._stream(send, reply.body, loop)

    async def _stream(
        self, send: Send, chunks: Iterator[bytes], loop: asyncio.AbstractEventLoop
    ) -> int:
        """Send the engine's stream, read a few pieces ahead on the workers
        (:class:`~domicile.gateway.feed.Feed`), so decryption and the network overlap."""
        sent = 0
        feed = Feed(chunks, loop, self.pool, contextvars.copy_context())
        try:
            while (piece := await feed.next()) is not None:
                await send({"type": "http.response.body", "body": piece, "more_body": True})
                sent += len(piece)
        except Exception:
            # Headers are gone: the only honest signal left is a cut connection, which
            # every client reports as a short body.
            log.exception("a response failed mid-stream; the connection is cut")
            raise
        finally:
            await feed.close()
        await send({"type": "http.response.body", "body": b""})
        return sent

    def close(self) -> int:
        """Release the worker threads (the engine is the caller's to close); return how
        many requests were still running after the drain. Those are abandoned, not waited
        for (each waits on a site that stopped answering): the caller ends the process
        with :func:`~domicile.gateway.server.exit_abandoning`."""
        abandoned = max(self.in_flight, self.abandoned)
        self.pool.shutdown(wait=not abandoned, cancel_futures=True)
        return abandoned


_OPS: Final = frozenset({"/health", "/metrics"})


def _declares_body(req: S3Request) -> bool:
    """Whether the request announces a body (a non-zero length, or chunked)."""
    length = req.header("content-length")
    return (length is not None and length.strip() not in ("", "0")) or (
        req.header("transfer-encoding") is not None
    )


def _prefetch(chunks: Iterator[bytes], length: int | None) -> bytes | Iterator[bytes]:
    """Read the first piece now, so that a failure before any byte is an S3 error, not a
    cut connection (a GET whose every copy is unreachable, say). A body of one piece (up
    to 1 MiB; ``length`` is the body's, if known) is returned whole, so a small GET
    crosses back to the loop only once."""
    pieces = batched(chunks)
    first = next(pieces, b"")
    if not first or len(first) == length:
        close_stream(chunks)  # all read; a generator that has not seen its end finishes now
        return first

    def rest() -> Iterator[bytes]:
        try:
            yield first
            yield from pieces
        finally:
            close_stream(chunks)

    return rest()
