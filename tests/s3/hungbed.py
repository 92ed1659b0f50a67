"""The deployment of the outage and hung-site drills: two S3 servers of the test bed, a
local folder and a US folder no policy allows (``test_drills.py``, ``test_hung_drills.py``)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from testbed.servers import Server

import domicile
from domicile.crypto import Keyring
from domicile.sites import LocalSite

from .conftest import Bucket, empty_and_remove, raw_client

MiB = 1024 * 1024

CONFIG = """
[deployment]
name = "{name}"
segment_size_mib = {segment_mib}

[entities.swift-op]
name = "Swift Operator SAS"
country = "FR"

[entities.weed-op]
name = "Weed Operator GmbH"
country = "DE"

[entities.disk-op]
name = "Disk Operator BV"
country = "NL"

[entities.us-op]
name = "Faraway Storage Inc"
country = "US"

[sites.swift]
country = "FR"
operator = "swift-op"
provider = "swift"
backend = {{ type = "s3", endpoint = "{swift}", bucket = "{swift_bucket}", access_key_env = "HUNG_SWIFT_AK", secret_key_env = "HUNG_SWIFT_SK" }}

[sites.seaweed]
country = "DE"
operator = "weed-op"
provider = "seaweed"
backend = {{ type = "s3", endpoint = "{seaweed}", bucket = "{seaweed_bucket}", access_key_env = "HUNG_WEED_AK", secret_key_env = "HUNG_WEED_SK" }}

[sites.zz-disk]
country = "NL"
operator = "disk-op"
provider = "disk"
backend = {{ type = "local", path = "sites/zz-disk" }}

[sites.us-disk]
country = "US"
operator = "us-op"
provider = "faraway"
backend = {{ type = "local", path = "sites/us-disk" }}

[policies.two-providers]
allow = ["EU"]
copies = 2
distinct = "provider"

[policies.three-providers]
allow = ["EU"]
copies = 3
distinct = "provider"

[buckets.docs]
policy = "two-providers"

[buckets.all3]
policy = "three-providers"
"""  # noqa: E501 -- TOML inline tables stay on one line


@contextlib.contextmanager
def drill_deployment(
    testbed: dict[str, Server],
    root: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    name: str,
    segment_mib: int,
) -> Iterator[tuple[Path, dict[str, str], dict[str, Bucket]]]:
    """Write the drill deployment under ``root`` on fresh buckets of both servers: its
    config file, the endpoint per server (a test may put a proxy in front of one by
    rewriting the file from ``template.toml``) and the buckets; thawed and restarted
    servers and removed buckets afterwards."""
    buckets: dict[str, Bucket] = {}
    for server_name, server in testbed.items():
        server.thaw()
        if not server.running():
            server.start()
        client = raw_client(server)
        buckets[server_name] = Bucket(server, f"{name}-{os.urandom(6).hex()}", client)
        client.create_bucket(Bucket=buckets[server_name].name)
    swift, weed = testbed["swift"].credentials, testbed["seaweed"].credentials
    monkeypatch.setenv("HUNG_SWIFT_AK", swift.access_key)
    monkeypatch.setenv("HUNG_SWIFT_SK", swift.secret_key)
    monkeypatch.setenv("HUNG_WEED_AK", weed.access_key)
    monkeypatch.setenv("HUNG_WEED_SK", weed.secret_key)
    LocalSite.create("zz-disk", root / "sites" / "zz-disk")
    LocalSite.create("us-disk", root / "sites" / "us-disk")
    Keyring.create(root / "keyring.txt")
    endpoints = {"swift": swift.endpoint, "seaweed": weed.endpoint}
    values = {
        "name": name,
        "segment_mib": str(segment_mib),
        "swift_bucket": buckets["swift"].name,
        "seaweed_bucket": buckets["seaweed"].name,
    }
    config = root / "domicile.toml"
    config.write_text(CONFIG.format(**endpoints, **values))
    (root / "template.toml").write_text(
        CONFIG.format(swift="{swift}", seaweed="{seaweed}", **values)
    )
    try:
        yield config, endpoints, buckets
    finally:
        for server in testbed.values():
            server.thaw()
            if not server.running():
                server.start()
        for shared in buckets.values():
            empty_and_remove(shared.client, shared.name)


@pytest.fixture
def drill_config(
    testbed: dict[str, Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The hung-site drills' deployment (64 MiB segments) and its endpoints per server."""
    with drill_deployment(testbed, tmp_path, monkeypatch, name="hung-drill", segment_mib=64) as (
        config,
        endpoints,
        _,
    ):
        yield config, endpoints


def put_on(d: domicile.Domicile, victim: str, body: bytes, key: str) -> None:
    """Put ``key`` until it rests on ``victim`` and the local disk, then make the victim
    the copy read first (the local disk would win on latency)."""
    for _ in range(40):
        d.put("docs", key, body)
        if {c.site_id for c in d.where("docs", key)} == {victim, "zz-disk"}:
            d.context.health.record_latency("zz-disk", 10.0)
            d.context.health.record_latency(victim, 0.001)
            return
    raise AssertionError(f"no placement of {key} chose {victim} and zz-disk in 40 tries")


def first_byte(d: domicile.Domicile, bucket: str, key: str) -> tuple[float, bytes]:
    """Seconds to the first byte of a GET, and the whole body."""
    start = time.monotonic()
    chunks = iter(d.get(bucket, key))
    first = next(chunks, b"")
    elapsed = time.monotonic() - start
    return elapsed, first + b"".join(chunks)
