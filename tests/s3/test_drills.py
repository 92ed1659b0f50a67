"""Outage drills: one provider cut off must not lose a single read.

Three sites on three providers (Swift, SeaweedFS, a local folder), all in the EU, and a
policy of two copies at distinct providers. A real server is stopped, then restarted; a
blob is corrupted on a real server behind domicile's back.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from testbed.servers import Server

import domicile
from domicile.crypto import Keyring
from domicile.errors import PlacementRefused
from domicile.sites import LocalSite

from .conftest import Bucket, empty_and_remove, raw_client

MiB = 1024 * 1024

CONFIG = """
[deployment]
name = "drill"
segment_size_mib = 1

[entities.swift-op]
name = "Swift Operator SAS"
country = "FR"

[entities.weed-op]
name = "Weed Operator GmbH"
country = "DE"

[entities.disk-op]
name = "Disk Operator BV"
country = "NL"

[sites.swift]
country = "FR"
operator = "swift-op"
provider = "swift"
backend = {{ type = "s3", endpoint = "{swift}", bucket = "{swift_bucket}", access_key_env = "DRILL_SWIFT_AK", secret_key_env = "DRILL_SWIFT_SK" }}

[sites.seaweed]
country = "DE"
operator = "weed-op"
provider = "seaweed"
backend = {{ type = "s3", endpoint = "{seaweed}", bucket = "{seaweed_bucket}", access_key_env = "DRILL_WEED_AK", secret_key_env = "DRILL_WEED_SK" }}

[sites.zz-disk]
country = "NL"
operator = "disk-op"
provider = "disk"
backend = {{ type = "local", path = "sites/zz-disk" }}

[policies.two-providers]
allow = ["EU"]
copies = 2
distinct = "provider"

[buckets.docs]
policy = "two-providers"
"""  # noqa: E501 -- TOML inline tables stay on one line


@pytest.fixture
def drill(
    testbed: dict[str, Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[domicile.Domicile]:
    buckets = {}
    for name, server in testbed.items():
        if not server.running():
            server.start()
        client = raw_client(server)
        buckets[name] = Bucket(server, f"drill-{os.urandom(6).hex()}", client)
        client.create_bucket(Bucket=buckets[name].name)
    swift, weed = testbed["swift"].credentials, testbed["seaweed"].credentials
    monkeypatch.setenv("DRILL_SWIFT_AK", swift.access_key)
    monkeypatch.setenv("DRILL_SWIFT_SK", swift.secret_key)
    monkeypatch.setenv("DRILL_WEED_AK", weed.access_key)
    monkeypatch.setenv("DRILL_WEED_SK", weed.secret_key)
    LocalSite.create("zz-disk", tmp_path / "sites" / "zz-disk")
    Keyring.create(tmp_path / "keyring.txt")
    config = tmp_path / "domicile.toml"
    config.write_text(
        CONFIG.format(
            swift=swift.endpoint,
            swift_bucket=buckets["swift"].name,
            seaweed=weed.endpoint,
            seaweed_bucket=buckets["seaweed"].name,
        )
    )
    try:
        with domicile.open(config) as d:
            d.drill_buckets = buckets  # type: ignore[attr-defined]
            yield d
    finally:
        for server in testbed.values():
            if not server.running():
                server.start()
        for shared in buckets.values():
            empty_and_remove(shared.client, shared.name)


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


@pytest.mark.parametrize("victim", ["swift", "seaweed"])
def test_provider_cut_off_loses_no_read(
    drill: domicile.Domicile, testbed: dict[str, Server], victim: str
) -> None:
    body = os.urandom(2 * MiB + 123)  # three segments
    key = put_on(drill, victim, body)
    testbed[victim].stop()
    try:
        for _ in range(2):
            assert drill.get("docs", key).read() == body
            assert drill.get("docs", key, MiB - 5, MiB + 5).read() == body[MiB - 5 : MiB + 5]
        faults = drill.context.catalog.open_faults(version_id=drill.head("docs", key).version_id)
        assert {(f.site_id, f.kind) for f in faults} >= {(victim, "unreachable")}
        try:  # two providers remain: the policy can still be met, or the put fails closed
            drill.put("docs", "during-outage", b"new data" * 1000)
        except PlacementRefused as err:  # fails closed, explaining every site
            assert victim in str(err.decision) or victim in str(err), err
        else:
            where = {c.site_id for c in drill.where("docs", "during-outage")}
            assert victim not in where and len(where) == 2
            assert drill.get("docs", "during-outage").read() == b"new data" * 1000
    finally:
        testbed[victim].start()
    assert drill.get("docs", key).read() == body  # back: everything reads again


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
