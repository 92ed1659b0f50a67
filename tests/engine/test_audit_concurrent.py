"""The audit chain under concurrent writers, on SQLite and PostgreSQL: sixteen threads of
one engine and a second engine (another host) put and delete at once; the chain verifies
and holds every event exactly once."""

from __future__ import annotations

import threading
from pathlib import Path

import domicile

CATALOGS = ["sqlite", "postgresql"]
THREADS = 16
EACH = 6


def test_concurrent_writers_on_two_engines_keep_one_verifiable_chain(config_path: Path) -> None:
    errors: list[BaseException] = []
    with domicile.open(config_path) as one, domicile.open(config_path) as two:
        start = threading.Barrier(THREADS)

        def writer(n: int) -> None:
            engine = one if n % 2 else two
            start.wait()
            try:
                for i in range(EACH):
                    engine.put("docs", f"w{n}-{i}", bytes([n, i]) * 100)
                    engine.put("docs", "shared", bytes([n, i]))
                engine.delete("docs", f"w{n}-0")
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert errors == []
        actions = [r.action for r in one.audit.records()]
        assert actions.count("put") == THREADS * EACH * 2
        assert actions.count("delete") == THREADS
        report = one.audit.verify()
        assert report.ok and report.records == len(actions)
        assert len(one.list("docs").objects) == THREADS * (EACH - 1) + 1
