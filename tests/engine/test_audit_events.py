"""Issue 8 item 1 through the engine: who acted (per call, per thread), keys created,
policy changes applied at open, copies verified."""

from __future__ import annotations

import contextvars
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import domicile
from domicile.audit import Record
from domicile.engine import set_site_status
from domicile.sites import LocalSite
from tests.engine.conftest import make_deployment

NL = """
[sites.nl]
template = "scaleway:pl-waw"
backend = { type = "local", path = "sites/nl" }
"""


def _records(engine: domicile.Domicile, action: str | None = None) -> list[Record]:
    return [r for r in engine.audit.records() if action is None or r.action == action]


# --- the actor per call ------------------------------------------------------------------


def test_each_thread_records_its_own_actor(engine: domicile.Domicile) -> None:
    barrier = threading.Barrier(2)

    def work(actor: str) -> None:
        with engine.acting_as(actor):
            barrier.wait()  # both blocks are open at once
            for i in range(5):
                engine.put("docs", f"{actor}/{i}", b"x" * (i + 1))
                engine.delete("docs", f"{actor}/{i}")

    threads = [
        threading.Thread(target=work, args=(a,)) for a in ("tenant:AKIAALICE", "tenant:AKIABOB")
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    engine.put("docs", "after", b"y")
    mutations = [r for r in _records(engine) if r.action in ("put", "delete")]
    assert len(mutations) == 21
    for r in mutations:
        assert r.key is not None
        if "/" in r.key:
            assert r.actor == r.key.split("/")[0]
        else:
            assert r.actor.startswith("cli:")  # outside any block: the CLI user


def test_the_actor_follows_a_copied_context_onto_a_pool_thread(
    engine: domicile.Domicile,
) -> None:
    # The gateway runs each request with contextvars.copy_context().run on a pool thread.
    def request(actor: str, key: str) -> None:
        with engine.acting_as(actor):
            engine.put("docs", key, b"body")

    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, request, f"tenant:AK{i}", f"k{i}")
            for i in range(6)
        ]
        for f in futures:
            f.result()
        pool.submit(engine.put, "docs", "plain", b"body").result()
    by_key = {r.key: r.actor for r in _records(engine, "put")}
    assert by_key == {**{f"k{i}": f"tenant:AK{i}" for i in range(6)}, "plain": by_key["plain"]}
    assert by_key["plain"].startswith("cli:")


def test_acting_as_nests_and_restores(engine: domicile.Domicile) -> None:
    with engine.acting_as("tenant:OUTER"):
        with engine.acting_as("tenant:INNER"):
            engine.put("docs", "a", b"1")
        engine.put("docs", "b", b"2")
    engine.put("docs", "c", b"3")
    actors = {r.key: r.actor for r in _records(engine, "put")}
    assert actors["a"] == "tenant:INNER" and actors["b"] == "tenant:OUTER"
    assert actors["c"].startswith("cli:")
    with pytest.raises(ValueError, match="actor"):
        engine.acting_as("")


def test_apply_records_the_actor_from_its_pool_threads(tmp_path: Path) -> None:
    path = make_deployment(tmp_path, NL)
    LocalSite.create("nl", tmp_path / "sites" / "nl")
    with domicile.open(path) as engine:
        for i in range(4):
            engine.put("docs", f"k{i}", b"z" * 100)
    set_site_status(path, "fr", "draining")
    with domicile.open(path) as engine:
        with engine.acting_as("cli:operator-on-call"):
            report = engine.apply(concurrency=3)
        assert report.added and report.removed
        moved = _records(engine, "placement_added") + _records(engine, "placement_removed")
    assert len(moved) == report.added + report.removed
    assert {r.actor for r in moved} == {"cli:operator-on-call"}
