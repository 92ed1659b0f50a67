"""One racing process for the concurrency tests: ``python -m tests.catalog.racer URL MODE
START N``. It waits until the time ``START``, then runs ``N`` threads doing ``MODE`` at
once, and prints one JSON line: the outcomes (``won``, an error class name, ...) and, for
commits, the version ids and blob ids it committed."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence

from domicile.catalog import Expect, open_catalog
from domicile.catalog.sql import SqlCatalog
from domicile.errors import DomicileError
from tests.catalog.records import parts, version


def chain_link(prev_hash: str, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def audit_builder(label: str) -> Callable[[int, str], Sequence[tuple[int, str, str]]]:
    def build(seq: int, prev: str) -> list[tuple[int, str, str]]:
        return [(seq + 1, chain_link(prev, label), label)]

    return build


def attempt(catalog: SqlCatalog, mode: str, me: str) -> dict[str, object]:
    """One racer's try; its outcome."""
    if mode == "bucket":
        catalog.create_bucket("raced", "p")
        return {}
    key = {"samekey": "same", "ifnonematch": "same", "audit": f"k-{me}"}[mode]
    v = version("docs", key)
    segs, places = parts(v)
    expect = Expect(absent=True) if mode == "ifnonematch" else None
    catalog.commit_version(v, segs, places, audit=audit_builder(me), expect=expect)
    return {"version": v.version_id, "blobs": [s.blob_id for s in segs] + [v.manifest_blob_id]}


def main(url: str, mode: str, start: float, threads: int) -> None:
    catalog = open_catalog(url)
    results: list[dict[str, object]] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        me = f"{mode}-{id(catalog)}-{i}"
        try:
            found: dict[str, object] = {"outcome": "won", **attempt(catalog, mode, me)}
        except DomicileError as exc:
            found = {"outcome": type(exc).__name__}
        except Exception as exc:  # a raw driver error: the tests fail on it
            found = {"outcome": f"RAW {type(exc).__module__}.{type(exc).__name__}: {exc}"}
        with lock:
            results.append(found)

    time.sleep(max(0.0, start - time.time()))
    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    catalog.close()
    print(json.dumps(results))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]))
