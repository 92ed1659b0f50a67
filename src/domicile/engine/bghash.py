"""A hash computed on its own thread, so that it overlaps encryption on another core.

``hashlib`` releases the GIL while it hashes large buffers, so the MD5 of the plaintext (the
S3 ETag) runs beside the ChaCha20-Poly1305 encryption instead of after it. The buffers
handed to :meth:`update` must not change afterwards (bytes, or views of immutable bytes).
"""

from __future__ import annotations

import hashlib
import queue
import threading
from typing import Any

_END = None


class BackgroundHash:
    """``update`` queues data (at most ``depth`` pieces ahead); ``hexdigest`` waits."""

    def __init__(self, name: str = "md5", depth: int = 8) -> None:
        self._hash: Any = hashlib.new(name, usedforsecurity=False)
        self._queue: queue.Queue[Any] = queue.Queue(depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="domicile-hash", daemon=True)
        self._thread.start()
        self._digest: str | None = None

    def update(self, data: bytes | memoryview) -> None:
        self._queue.put(data)

    def hexdigest(self) -> str:
        if self._digest is None:
            self._queue.put(_END)
            self._thread.join()
            if self._error is not None:
                raise self._error
            self._digest = self._hash.hexdigest()
        return self._digest

    def close(self) -> None:
        """Stop the thread without a result (after a failed upload)."""
        if self._digest is None and self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not _END:
            try:
                self._hash.update(item)
            except BaseException as exc:  # reported by hexdigest()
                self._error = exc
