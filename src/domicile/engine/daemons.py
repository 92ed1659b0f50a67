"""A growing pool of daemon threads for calls to sites.

Every call to a site that a caller may have to abandon (a hung server, a hung NFS mount)
runs on a daemon thread: a daemon never holds the process at exit, and the caller waits on
it with a deadline. Starting a thread costs about 0.25 ms on the test VM, as much as a
whole 64 KiB GET from a local site, so threads are reused: a call goes to an idle thread
if there is one, else to a new one (the pool never makes a call wait for a thread, so a
call blocked on a hung site starves no other), and a thread idle for ``IDLE_EXIT`` seconds
ends.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable

IDLE_EXIT = 60.0


class DaemonPool:
    """Runs each submitted callable at once, on an idle daemon thread or a new one."""

    def __init__(self, name: str = "domicile-site-call", idle_exit: float = IDLE_EXIT) -> None:
        self._name = name
        self._idle_exit = idle_exit
        self._work: queue.SimpleQueue[Callable[[], object]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # threads waiting for work that no submit has claimed yet

    def submit(self, fn: Callable[[], object]) -> None:
        """Run ``fn()`` now; its exceptions are the caller's to catch inside ``fn``."""
        with self._lock:
            spawn = self._idle == 0
            if not spawn:
                self._idle -= 1  # claimed: that thread will find ``fn`` in the queue
        if spawn:
            threading.Thread(target=self._worker, args=(fn,), name=self._name, daemon=True).start()
        else:
            self._work.put(fn)

    def _worker(self, first: Callable[[], object]) -> None:
        # Invariant: threads waiting in get() == idle + work items queued.
        fn: Callable[[], object] | None = first
        while True:
            if fn is None:
                try:
                    fn = self._work.get(timeout=self._idle_exit)
                except queue.Empty:
                    with self._lock:
                        if self._idle > 0:  # an unclaimed thread: this one may end
                            self._idle -= 1
                            return
                    continue  # every waiting thread is claimed: work is coming
            with contextlib.suppress(BaseException):  # fn reports its own outcome
                fn()
            fn = None
            with self._lock:
                self._idle += 1


#: The pool shared by the engine's site calls.
POOL = DaemonPool()
