"""Structured logs: one JSON object per line, with the request id on every line.

The request id lives in a context variable set by the app for each request, so any log
line written while serving it (by the gateway or the engine below, on any thread the app
hands the request to) carries it. Secrets never reach a log line: the app logs operations,
buckets, keys, statuses and sizes, never headers, signatures or bodies.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
from typing import Any, Final

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

LOGGER: Final = "domicile.gateway"
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", ...extra fields}``."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and name not in out:
                out[name] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


class _Worker(logging.Filter):
    """Names the worker process on every line (with several gateway workers)."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self._index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self._index
        return True


def configure(level: str = "INFO", *, worker: int | None = None) -> None:
    """Send domicile's logs to stderr as JSON lines (what ``domicile serve`` does); a
    gateway worker's lines carry ``"worker": N``."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    if worker is not None:
        handler.addFilter(_Worker(worker))
    root = logging.getLogger("domicile")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False
