"""Put, get, head, list, delete through the engine on real local-folder sites."""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import domicile
from domicile.engine import Domicile
from domicile.errors import (
    BucketNotEmpty,
    BucketNotFound,
    InvalidName,
    InvalidRange,
    ObjectNotFound,
    SiteUnavailable,
)
from domicile.sites import FaultySite
from tests.engine.conftest import blob_files, make_deployment

#: Each test runs on a SQLite and on a PostgreSQL catalog (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]

MiB = 1024 * 1024


@pytest.mark.parametrize("size", [0, 1, 65535, 65536, 65537, MiB, 2 * MiB + 12345])
def test_roundtrip_any_size(engine: Domicile, size: int) -> None:
    body = os.urandom(size)
    info = engine.put("docs", "a/b.bin", body)
    assert info.size == size
    assert info.etag == hashlib.md5(body, usedforsecurity=False).hexdigest()
    assert engine.get("docs", "a/b.bin").read() == body
    assert engine.head("docs", "a/b.bin").size == size


def test_body_as_file_and_as_iterable(engine: Domicile) -> None:
    body = os.urandom(3 * MiB + 7)
    engine.put("docs", "file", io.BytesIO(body))
    engine.put("docs", "iter", (body[i : i + 1000] for i in range(0, len(body), 1000)))
    assert engine.get("docs", "file").read() == body
    assert engine.get("docs", "iter").read() == body


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, 1),
        (65535, 65537),  # a STREAM chunk edge
        (MiB - 10, MiB + 10),  # a segment edge (segment_size_mib = 1)
        (MiB, 2 * MiB),  # exactly the second segment
        (123, 2 * MiB + 99),  # across both segment edges
        (2 * MiB + 50, None),  # open-ended tail
    ],
)
def test_ranges_cross_chunk_and_segment_edges(
    engine: Domicile, start: int, end: int | None
) -> None:
    body = os.urandom(2 * MiB + 100)
    engine.put("docs", "r", body)
    assert engine.get("docs", "r", start, end).read() == body[start:end]


def test_out_of_range_is_refused(engine: Domicile) -> None:
    engine.put("docs", "small", b"abc")
    with pytest.raises(InvalidRange):
        engine.get("docs", "small", 3, 10)


def test_metadata_roundtrip(engine: Domicile) -> None:
    engine.put("docs", "m", b"x", content_type="text/plain", metadata={"owner": "finance"})
    info = engine.head("docs", "m")
    assert info.meta.content_type == "text/plain"
    assert dict(info.meta.user) == {"owner": "finance"}


def test_overwrite_replaces_and_collects_old_blobs(engine: Domicile, tmp_path: Path) -> None:
    engine.put("docs", "k", os.urandom(1000))
    before = {s: blob_files(tmp_path, s) for s in ("fr", "de")}
    engine.put("docs", "k", b"new")
    assert engine.get("docs", "k").read() == b"new"
    for site, files in before.items():
        now = blob_files(tmp_path, site)
        assert len(now) == len(files)  # one data blob + one manifest, replaced
        assert not set(files) & set(now)


def test_delete_removes_every_blob(engine: Domicile, tmp_path: Path) -> None:
    engine.put("docs", "gone", os.urandom(5000))
    assert engine.delete("docs", "gone") is True
    assert engine.delete("docs", "gone") is False
    with pytest.raises(ObjectNotFound):
        engine.get("docs", "gone")
    for site in ("fr", "de", "us"):
        assert blob_files(tmp_path, site) == []


def test_list_prefix_delimiter_and_paging(engine: Domicile) -> None:
    for key in ("a/1", "a/2", "a/b/3", "b", "c/4"):
        engine.put("docs", key, key.encode())
    page = engine.list("docs", delimiter="/")
    assert [o.key for o in page.objects] == ["b"]
    assert page.common_prefixes == ["a/", "c/"]
    page = engine.list("docs", prefix="a/", delimiter="/")
    assert [o.key for o in page.objects] == ["a/1", "a/2"]
    assert page.common_prefixes == ["a/b/"]
    first = engine.list("docs", limit=2)
    assert first.is_truncated
    assert [o.key for o in first.objects] == ["a/1", "a/2"]
    rest = engine.list("docs", start_after=first.next_start_after or "", limit=10)
    assert [o.key for o in rest.objects] == ["a/b/3", "b", "c/4"]


@pytest.mark.parametrize(
    "key",
    ["../x", "a/../b", "./a", "nul\x00byte", "x" * 2000, "lone\udcffsurrogate", ""],
)
def test_hostile_keys_are_refused_before_any_write(
    engine: Domicile, tmp_path: Path, key: str
) -> None:
    with pytest.raises(InvalidName) as err:
        engine.put("docs", key, b"payload")
    assert err.value.hint or "key" in err.value.message
    for site in ("fr", "de", "us"):
        assert blob_files(tmp_path, site) == []


def test_unknown_bucket(engine: Domicile, tmp_path: Path) -> None:
    with pytest.raises(BucketNotFound):
        engine.put("nope", "k", b"x")
    with pytest.raises(BucketNotFound):
        engine.get("nope", "k")
    for site in ("fr", "de", "us"):
        assert blob_files(tmp_path, site) == []


def test_bucket_lifecycle(engine: Domicile) -> None:
    engine.create_bucket("archive", "eu-only")
    assert {b.name for b in engine.list_buckets()} == {"docs", "archive"}
    engine.put("archive", "k", b"x")
    with pytest.raises(BucketNotEmpty):
        engine.delete_bucket("archive")
    engine.delete("archive", "k")
    engine.delete_bucket("archive")
    with pytest.raises(InvalidName):
        engine.create_bucket("Bad_Name", "eu-only")


def test_one_worker_and_many_segments_do_not_deadlock(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    path.write_text(
        path.read_text().replace("segment_size_mib = 1", "segment_size_mib = 1\nworkers = 1")
    )
    with domicile.open(path) as engine:
        body = os.urandom(5 * MiB + 3)
        engine.put("docs", "k", body)
        assert engine.get("docs", "k").read() == body


def test_concurrent_replacements_delete_each_blob_once(engine: Domicile, tmp_path: Path) -> None:
    keys = [f"k{i}" for i in range(48)]
    for key in keys:
        engine.put("docs", key, os.urandom(1000))
    spies = {s: FaultySite(engine.context.sites[s]) for s in ("fr", "de")}
    engine.context.sites.update(spies)
    with ThreadPoolExecutor(8) as pool:  # each PUT replaces a version and collects
        list(pool.map(lambda k: engine.put("docs", k, os.urandom(1000)), keys))
    # one inline blob per replaced version and site: each deleted exactly once (before,
    # every PUT collected the whole queue, and eight at once deleted the same blobs)
    assert {s: spy.calls["delete"] for s, spy in spies.items()} == {"fr": 48, "de": 48}
    assert engine.context.catalog.garbage() == []
    assert len(blob_files(tmp_path, "fr")) == len(blob_files(tmp_path, "de")) == 48


def test_whole_queue_collections_take_turns(engine: Domicile) -> None:
    from domicile.engine.garbage import collect_garbage

    for i in range(10):
        engine.put("docs", f"k{i}", b"x")
    health = engine.context.health
    spy = engine.context.sites["fr"] = FaultySite(engine.context.sites["fr"])
    spy.go_down()  # really down: a background probe must not close its breaker meanwhile
    health.record_failure("fr", SiteUnavailable("fr is down", hint="-", site="fr"))
    for i in range(10):
        engine.delete("docs", f"k{i}")  # fr's blob stays queued
    assert len(engine.context.catalog.garbage()) == 10
    spy.heal()
    health.record_success("fr")
    spy.calls.clear()
    spy.latency = 0.01
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda _: collect_garbage(engine.context), range(2)))
    assert sorted(done) == [0, 10] and spy.calls["delete"] == 10
    assert engine.context.catalog.garbage() == []


def test_garbage_left_by_a_down_site_is_retried_by_the_sweep(
    engine: Domicile, tmp_path: Path
) -> None:
    engine.put("docs", "k", os.urandom(1000))
    held = blob_files(tmp_path, "fr")
    assert held
    health = engine.context.health
    health.record_failure("fr", SiteUnavailable("fr is down", hint="-", site="fr"))
    engine.delete("docs", "k")  # fr's blobs cannot be deleted now: they stay queued
    assert blob_files(tmp_path, "fr") == held
    health.record_success("fr")
    engine.put("docs", "other", b"new key: nothing replaced, no collection")
    assert set(held) <= set(blob_files(tmp_path, "fr"))
    engine.sweep_uploads(older_than=3600)
    assert not set(held) & set(blob_files(tmp_path, "fr"))
    assert engine.context.catalog.garbage() == []
