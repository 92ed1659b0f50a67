"""The daemon pool of site calls: never makes a call wait, reuses idle threads."""

from __future__ import annotations

import threading
import time

from domicile.engine.daemons import DaemonPool


def test_a_blocked_call_never_delays_the_next_and_idle_threads_are_reused() -> None:
    pool = DaemonPool(name="t-pool", idle_exit=0.5)
    release = threading.Event()
    ran = threading.Event()
    pool.submit(release.wait)  # blocked, like a call to a hung site
    pool.submit(ran.set)
    assert ran.wait(5)  # ran at once on another thread
    names: list[int | None] = []
    for _ in range(20):
        done = threading.Event()

        def note(done: threading.Event = done) -> None:
            names.append(threading.current_thread().ident)
            done.set()

        pool.submit(note)
        assert done.wait(5)
    assert len(set(names)) <= 2  # reused, not 20 new threads
    release.set()
    time.sleep(1.5)  # idle past idle_exit: the pool's threads end
    assert not [t for t in threading.enumerate() if t.name == "t-pool"]
