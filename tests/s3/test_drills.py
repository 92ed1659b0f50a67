"""Outage drills: one provider cut off must not lose a single read.

Three sites on three providers (Swift, SeaweedFS, a local folder), all in the EU, and a
policy of two copies at distinct providers. A real server is stopped, then restarted; a
blob is corrupted on a real server behind domicile's back. A fourth site, in the US, is
refused by every policy: nothing may ever land on it, outage or not. A second bucket wants
three copies at distinct providers, which an outage makes impossible: its PUTs must fail
closed, explaining every site, and leave nothing anywhere.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testbed.servers import Server

import domicile
from domicile.errors import PlacementRefused, SiteError, SiteUnavailable
from domicile.sites import Site

from .conftest import Bucket
from .hungbed import drill_deployment

MiB = 1024 * 1024


@pytest.fixture
def drill(
    testbed: dict[str, Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[domicile.Domicile]:
    """The drill deployment with 1 MiB segments, open (multi-segment objects)."""
    with (
        drill_deployment(testbed, tmp_path, monkeypatch, name="drill", segment_mib=1) as (
            config,
            _,
            buckets,
        ),
        domicile.open(config) as d,
    ):
        d.drill_buckets = buckets  # type: ignore[attr-defined]
        yield d


def put_on(d: domicile.Domicile, victim: str, body: bytes, prefix: str = "k") -> str:
    """Put objects until one rests on ``victim`` and the local disk (placement spreads keys).

    The engine reads healthy sites first, then the lowest probed latency; the local disk
    would win, so the drill records it as slow: the victim is the copy tried first, and its
    failure must be met, survived and recorded.
    """
    for n in range(30):
        key = f"{prefix}{n}"
        d.put("docs", key, body)
        if {c.site_id for c in d.where("docs", key)} == {victim, "zz-disk"}:
            d.context.health.record_latency("zz-disk", 10.0)
            d.context.health.record_latency(victim, 0.001)
            return key
    raise AssertionError(f"no object was placed on {victim} and zz-disk in 30 tries")


def stored(d: domicile.Domicile) -> dict[str, set[str]]:
    """The blob ids each reachable site holds (an unreachable one shows as empty)."""
    found: dict[str, set[str]] = {}
    for site_id in d.context.sites:
        site: Site = d.context.site(site_id)
        try:
            found[site_id] = {b.blob_id for b in site.list()}
        except SiteError:
            found[site_id] = set()
    return found


def read_all(d: domicile.Domicile, objects: dict[tuple[str, str], bytes]) -> None:
    """Every object, whole and one range across a segment edge, reads back exactly."""
    for (bucket, key), body in objects.items():
        assert d.get(bucket, key).read() == body, (bucket, key)
        if not body:
            continue
        lo, hi = max(0, min(MiB, len(body)) - 5), min(len(body), MiB + 5)
        assert d.get(bucket, key, lo, hi).read() == body[lo:hi], (bucket, key)


def read_soon(site: Site, blob_id: str, within: float = 30.0) -> bytes:
    """The blob, once the restarted server serves it (it may say "try again" for a moment)."""
    deadline = time.monotonic() + within
    while True:
        try:
            return b"".join(site.get(blob_id))
        except SiteUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.parametrize("victim", ["swift", "seaweed"])
def test_provider_cut_off_loses_no_read(
    drill: domicile.Domicile, testbed: dict[str, Server], victim: str
) -> None:
    survivor = next(s for s in testbed if s != victim)
    body = os.urandom(2 * MiB + 123)  # three segments
    key = put_on(drill, victim, body)
    objects = {("docs", key): body}
    for n, size in enumerate((0, 1000, 300_000, MiB + 1)):  # anywhere placement puts them
        objects["docs", f"more{n}"] = os.urandom(size)
        objects["all3", f"triple{n}"] = os.urandom(size)
    for (bucket, name), data in objects.items():
        if name != key:
            drill.put(bucket, name, data)
    on_victim = [k for k in objects if victim in {c.site_id for c in drill.where(*k)}]
    assert len(on_victim) >= 5  # the first object and the four triples, at least
    before = stored(drill)
    assert before["us-disk"] == set()

    testbed[victim].stop()
    try:
        for _ in range(2):  # the second round reads the victim last: it is marked unhealthy
            read_all(drill, objects)
        for bucket, name in on_victim:
            faults = drill.context.catalog.open_faults(
                version_id=drill.head(bucket, name).version_id
            )
            if (bucket, name) == ("docs", key):  # the victim was the copy tried first
                assert {(f.site_id, f.kind) for f in faults} >= {(victim, "unreachable")}
            assert {f.site_id for f in faults} <= {victim}, faults
        views = {v.site_id: v for v in drill.sites()}  # what `domicile sites` shows
        assert not views[victim].healthy and views[victim].last_error
        for up in (survivor, "zz-disk"):
            assert views[up].healthy and views[up].latency_ms is not None, views[up]

        # Two providers remain: the two-copy policy can still be met, on them only.
        drill.put("docs", "during-outage", b"new data" * 1000)
        where = {c.site_id for c in drill.where("docs", "during-outage")}
        assert where == {survivor, "zz-disk"}
        assert drill.get("docs", "during-outage").read() == b"new data" * 1000
        objects["docs", "during-outage"] = b"new data" * 1000

        # Three providers are needed and one is cut off: fail closed, explain every site.
        during = stored(drill)
        with pytest.raises(PlacementRefused) as refused:
            drill.put("all3", "impossible", os.urandom(2 * MiB))
        verdicts = {v.site_id: [r.code for r in v.reasons] for v in refused.value.decision.verdicts}
        assert "unhealthy" in verdicts[victim], verdicts
        assert "country_not_allowed" in verdicts["us-disk"], verdicts
        assert "unhealthy" in str(refused.value)  # the message sums up; the verdicts name
        assert stored(drill) == during  # not a byte written, anywhere
        assert stored(drill)["us-disk"] == set()  # never on the refused site
    finally:
        testbed[victim].start()

    # Back: everything reads again, the victim's own copies included.
    read_all(drill, objects)
    victim_site: Site = drill.context.site(victim)
    for bucket, name in on_victim:
        for segment in drill.context.catalog.segments(drill.head(bucket, name).version_id):
            blob = read_soon(victim_site, segment.blob_id)
            assert hashlib.sha256(blob).hexdigest() == segment.ciphertext_sha256
    views = {v.site_id: v for v in drill.sites()}
    assert views[victim].healthy and views[victim].latency_ms is not None
    drill.put("all3", "after", b"three copies again")
    assert {c.site_id for c in drill.where("all3", "after")} == {"swift", "seaweed", "zz-disk"}
    assert stored(drill)["us-disk"] == set()


@pytest.mark.parametrize("victim", ["swift", "seaweed"])
def test_corrupt_blob_on_a_server_fails_over_and_is_reported(
    drill: domicile.Domicile, victim: str
) -> None:
    body = os.urandom(300_000)
    key = put_on(drill, victim, body, prefix="c")
    shared: Bucket = drill.drill_buckets[victim]  # type: ignore[attr-defined]
    keys = [o["Key"] for o in shared.client.list_objects_v2(Bucket=shared.name)["Contents"]]
    version = drill.head("docs", key).version_id
    blob_ids = {s.blob_id for s in drill.context.catalog.segments(version)}
    damaged = [k for k in keys if k in blob_ids]
    assert damaged, "the object's blob is not on the victim's bucket"
    for k in damaged:
        data = bytearray(shared.client.get_object(Bucket=shared.name, Key=k)["Body"].read())
        data[len(data) // 2] ^= 0x01
        shared.client.put_object(Bucket=shared.name, Key=k, Body=bytes(data))
    for _ in range(2):
        assert drill.get("docs", key).read() == body
    faults = drill.context.catalog.open_faults(version_id=version)
    assert {(f.site_id, f.kind) for f in faults} == {(victim, "corrupt")}
