"""The SQLite catalog against raw sqlite3 doing the same statements, in the same run.

Figures, per second, each with its baseline and the ratio catalog/baseline:

1. ``commit_version`` of N small objects (1 segment, 2 placements: a 64 KiB put), vs raw
   sqlite3 inserting the same rows, one transaction per object;
2. the read path of a GET: ``current_version`` + ``segments`` + ``placements`` (three
   transactions), then ``lookup`` (the same in one), each vs the three raw SELECTs;
3. overwrite: ``commit_version`` on existing keys (the old version's blobs queued as
   garbage, its rows deleted), vs raw sqlite3 running the same statements;
4. listing all N keys in pages of 1,000, vs raw ``SELECT ... ORDER BY key LIMIT 1000``;
5. ``commit_version`` from 16 threads at once, with group commit (concurrent commits share
   a transaction) vs one transaction per commit (the same code with batches of one);
6. ``lookup`` from 16 threads at once (a gateway's GETs) vs one thread doing the same.

Both sides use a file catalog created by ``open_catalog`` (same schema, indexes and
pragmas: WAL, synchronous=NORMAL). The engine's target of 1,000 puts of 64 KiB per second
needs figure 1 well above 1,000/s. Usage:
``.venv/bin/python bench/bench_catalog.py [--objects N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from domicile.catalog import Placement, Segment, SqlCatalog, Version, groupcommit, open_catalog

NOW = 1_700_000_000.0


def make(n: int, tag: str) -> list[tuple[Version, list[Segment], list[Placement]]]:
    """N objects ``obj/<i>``: one 64 KiB segment on two sites each."""
    out = []
    for i in range(n):
        vid = secrets.token_hex(16)
        v = Version(
            vid,
            "bench",
            f"obj/{i:07d}",
            "current",
            65_536,
            secrets.token_hex(16),
            "application/octet-stream",
            None,
            None,
            None,
            None,
            {"tag": tag},
            NOW,
            secrets.token_hex(16),
        )
        seg = Segment(vid, 0, secrets.token_hex(16), 65_536, 201, 65_536 + 16 + 201, "f" * 64)
        places = [Placement(vid, site, "ok", NOW) for site in ("site-a", "site-b")]
        out.append((v, [seg], places))
    return out


# --- the catalog ------------------------------------------------------------------------


def ours_commit(cat: SqlCatalog, objs: list[Any]) -> None:
    for v, segs, places in objs:
        cat.commit_version(v, segs, places)


def ours_read(cat: SqlCatalog, objs: list[Any]) -> None:
    for v, _, _ in objs:
        got = cat.current_version("bench", v.key)
        assert cat.segments(got.version_id) and cat.placements(got.version_id)


def ours_lookup(cat: SqlCatalog, objs: list[Any]) -> None:
    for v, _, _ in objs:
        found = cat.lookup("bench", v.key)
        assert found.segments and found.placements


def ours_list(cat: SqlCatalog, objs: list[Any]) -> None:
    after, seen = "", 0
    while True:
        page = cat.list_objects("bench", start_after=after)
        seen += len(page.objects)
        if not page.is_truncated:
            break
        after = page.next_start_after or ""
    assert seen == len(objs)


# --- raw sqlite3 ------------------------------------------------------------------------


def raw_connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        db.execute(f"PRAGMA {pragma}")
    return db


def _insert(db: sqlite3.Connection, v: Version, segs: list[Segment], places: Any) -> None:
    db.execute(
        "INSERT INTO versions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            *(v.version_id, v.bucket, v.key, "current", v.size, v.etag, v.content_type),
            *(None, None, None, None, json.dumps(dict(v.user_metadata))),
            *(int(NOW * 1e6), v.manifest_blob_id, None, None),  # no named checksums
        ),
    )
    db.executemany(
        "INSERT INTO segments VALUES (?,?,?,?,?,?,?)",
        [
            (s.version_id, s.idx, s.blob_id, s.plaintext_size, 201, s.ciphertext_length, "f" * 64)
            for s in segs
        ],
    )
    db.executemany(
        "INSERT INTO placements VALUES (?,?,?,?,?)",
        [(p.version_id, p.site_id, "ok", int(NOW * 1e6), None) for p in places],
    )


def raw_commit(db: sqlite3.Connection, objs: list[Any]) -> None:
    for v, segs, places in objs:
        db.execute("BEGIN IMMEDIATE")
        _insert(db, v, segs, places)
        db.execute("COMMIT")


def raw_overwrite(db: sqlite3.Connection, objs: list[Any]) -> None:
    now = int(time.time() * 1e6)
    for v, segs, places in objs:
        db.execute("BEGIN IMMEDIATE")
        old = db.execute(
            "SELECT version_id, manifest_blob_id FROM versions "
            "WHERE bucket=? AND key=? AND state='current'",
            (v.bucket, v.key),
        ).fetchone()
        if old is not None:
            vid = old[0]
            sites = [
                r[0]
                for r in db.execute("SELECT site_id FROM placements WHERE version_id=?", (vid,))
            ]
            blobs = [
                r[0] for r in db.execute("SELECT blob_id FROM segments WHERE version_id=?", (vid,))
            ]
            db.executemany(
                "INSERT INTO garbage (site_id, blob_id, reason, queued_at) VALUES (?,?,?,?)",
                [(s, b, "replaced", now) for s in sites for b in [*blobs, old[1]]],
            )
            for table in ("segments", "placements", "faults", "versions"):
                db.execute(f"DELETE FROM {table} WHERE version_id=?", (vid,))
        _insert(db, v, segs, places)
        db.execute("COMMIT")


def raw_read(db: sqlite3.Connection, objs: list[Any]) -> None:
    for v, _, _ in objs:
        row = db.execute(
            "SELECT * FROM versions WHERE bucket=? AND key=? AND state='current'", (v.bucket, v.key)
        ).fetchone()
        assert db.execute(
            "SELECT * FROM segments WHERE version_id=? ORDER BY idx", (row[0],)
        ).fetchall()
        assert db.execute(
            "SELECT * FROM placements WHERE version_id=? ORDER BY site_id", (row[0],)
        ).fetchall()


def raw_list(db: sqlite3.Connection, objs: list[Any]) -> None:
    after, seen = "", 0
    while True:
        rows = db.execute(
            "SELECT * FROM versions WHERE bucket='bench' AND state='current' AND key > ? "
            "ORDER BY key LIMIT 1000",
            (after,),
        ).fetchall()
        seen += len(rows)
        if len(rows) < 1000:
            break
        after = rows[-1][2]
    assert seen == len(objs)


# --- the race ---------------------------------------------------------------------------


def fresh(folder: Path, name: str) -> tuple[SqlCatalog, sqlite3.Connection, Path]:
    path = folder / f"{name}.db"
    cat = open_catalog(f"sqlite:///{path}")
    cat.create_bucket("bench", "p")
    return cat, raw_connect(path), path


def threaded(
    work: Callable[[SqlCatalog, list[Any]], None], cat: SqlCatalog, objs: list[Any], threads: int
) -> float:
    """Seconds for ``threads`` threads to run ``work`` on ``objs`` between them."""
    workers = [threading.Thread(target=work, args=(cat, objs[t::threads])) for t in range(threads)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


def threaded_commit(cat: SqlCatalog, objs: list[Any], threads: int, batch: int) -> float:
    """:func:`threaded` commits, in batches of at most ``batch`` per transaction."""
    saved = groupcommit.MAX_BATCH
    groupcommit.MAX_BATCH = batch
    try:
        return threaded(ours_commit, cat, objs, threads)
    finally:
        groupcommit.MAX_BATCH = saved


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_round(folder: Path, n: int, r: int) -> dict[str, tuple[float, float]]:
    """One round: each figure's (catalog seconds, raw seconds) on fresh databases."""
    ours, _, _ = fresh(folder, f"ours{r}")
    theirs_cat, raw, _ = fresh(folder, f"raw{r}")
    theirs_cat.close()
    first, second = make(n, "first"), make(n, "second")
    times = {
        "commit_version (new keys)": (
            timed(lambda: ours_commit(ours, first)),
            timed(lambda: raw_commit(raw, first)),
        ),
        "GET lookups (version+segments+placements)": (
            timed(lambda: ours_read(ours, first)),
            timed(lambda: raw_read(raw, first)),
        ),
        "lookup() (the same, one transaction)": (
            timed(lambda: ours_lookup(ours, first)),
            timed(lambda: raw_read(raw, first)),
        ),
        "commit_version (overwrite, garbage queued)": (
            timed(lambda: ours_commit(ours, second)),
            timed(lambda: raw_overwrite(raw, second)),
        ),
        "list_objects (pages of 1,000)": (
            timed(lambda: ours_list(ours, second)),
            timed(lambda: raw_list(raw, second)),
        ),
    }
    assert len(ours.garbage(limit=10 * n)) == 4 * n  # 2 sites x (segment + manifest) each
    ours.close()
    raw.close()
    grouped, _, _ = fresh(folder, f"grouped{r}")
    single, _, _ = fresh(folder, f"single{r}")
    times["commit_version, 16 threads: grouped / one each"] = (
        threaded_commit(grouped, make(n, "grouped"), 16, groupcommit.MAX_BATCH),
        threaded_commit(single, make(n, "single"), 16, 1),
    )
    committed = make(n, "grouped")
    times["lookup(), 16 threads / one thread"] = (
        threaded(ours_lookup, grouped, committed, 16),
        threaded(ours_lookup, grouped, committed, 1),
    )
    grouped.close()
    single.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.objects
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-catalog-") as tmp:
        for r in range(args.rounds):
            for name, pair in run_round(Path(tmp), n, r).items():
                results.setdefault(name, []).append(pair)
    print(
        f"catalog vs raw sqlite3, {n:,} objects, {args.rounds} rounds (median; best); "
        "the last two lines' baselines are the catalog itself (one commit per transaction; "
        "one thread)"
    )
    for name, pairs in results.items():
        ours = [n / o for o, _ in pairs]
        base = [n / b for _, b in pairs]
        om, bm = statistics.median(ours), statistics.median(base)
        print(
            f"  {name:46} {om:>9,.0f}/s (best {max(ours):,.0f})   raw {bm:>9,.0f}/s "
            f"(best {max(base):,.0f})   ratio {om / bm:.2f}"
        )


if __name__ == "__main__":
    main()
