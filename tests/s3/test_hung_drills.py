"""Drills: a provider that stops answering must not hold the data hostage (issue 23).

Two S3 sites of the test bed (Swift, SeaweedFS) and a local folder, all in the EU; the
policy of bucket ``docs`` wants two copies at distinct providers (it can be met without
any one site), that of ``all3`` three (it cannot while one is out). A fourth site, in the
US, is refused by both. Each drill puts objects on the victim and the local folder (the
victim is the copy read first), measures reads with every site up, then cuts the victim
off in one of three ways — frozen (``SIGSTOP``: connections open, requests hang), killed
(connections refused), or slowed by a throttling proxy (slow, not dead) — and checks the
issue's figures:

- every read of an object with a healthy copy succeeds, with the right bytes;
- the first read's first byte comes within 3 s, later reads' within twice the all-healthy
  figure (medians of several reads: robust on a loaded machine);
- PUTs fail closed (or succeed on compliant sites) within 5 s;
- a 20 MiB GET whose first site freezes mid-body completes with the right bytes.

A frozen server is always thawed (``SIGCONT``) in a ``finally``.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from testbed.servers import Server

import domicile
from domicile.crypto import Keyring
from domicile.errors import PlacementRefused
from domicile.sites import LocalSite

from .conftest import Bucket, empty_and_remove, raw_client
from .throttle import ThrottlingProxy

MiB = 1024 * 1024

CONFIG = """
[deployment]
name = "hung-drill"
segment_size_mib = 64

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


@pytest.fixture
def drill_config(
    testbed: dict[str, Server], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, dict[str, str]]]:
    """The deployment's config file, and the endpoints it uses per server (a test may
    put a proxy in front of one by rewriting the file)."""
    buckets: dict[str, Bucket] = {}
    for name, server in testbed.items():
        server.thaw()
        if not server.running():
            server.start()
        client = raw_client(server)
        buckets[name] = Bucket(server, f"hung-{os.urandom(6).hex()}", client)
        client.create_bucket(Bucket=buckets[name].name)
    swift, weed = testbed["swift"].credentials, testbed["seaweed"].credentials
    monkeypatch.setenv("HUNG_SWIFT_AK", swift.access_key)
    monkeypatch.setenv("HUNG_SWIFT_SK", swift.secret_key)
    monkeypatch.setenv("HUNG_WEED_AK", weed.access_key)
    monkeypatch.setenv("HUNG_WEED_SK", weed.secret_key)
    LocalSite.create("zz-disk", tmp_path / "sites" / "zz-disk")
    LocalSite.create("us-disk", tmp_path / "sites" / "us-disk")
    Keyring.create(tmp_path / "keyring.txt")
    endpoints = {"swift": swift.endpoint, "seaweed": weed.endpoint}
    values = {
        "swift_bucket": buckets["swift"].name,
        "seaweed_bucket": buckets["seaweed"].name,
    }
    config = tmp_path / "domicile.toml"
    config.write_text(CONFIG.format(**endpoints, **values))
    (tmp_path / "template.toml").write_text(
        CONFIG.format(swift="{swift}", seaweed="{seaweed}", **values)
    )
    try:
        yield config, endpoints
    finally:
        for server in testbed.values():
            server.thaw()
            if not server.running():
                server.start()
        for shared in buckets.values():
            empty_and_remove(shared.client, shared.name)


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


def healthy_figure(d: domicile.Domicile, key: str, body: bytes, victim: str) -> float:
    """The median time to first byte of reads served by the victim, every site up."""
    times = []
    for _ in range(7):
        d.context.health.record_latency("zz-disk", 10.0)  # keep the victim first
        elapsed, data = first_byte(d, "docs", key)
        assert data == body
        times.append(elapsed)
    return statistics.median(times)


@contextlib.contextmanager
def cut_off(mode: str, server: Server, proxy: ThrottlingProxy | None) -> Iterator[None]:
    """The victim frozen, killed or slowed for the block; always restored."""
    try:
        if mode == "freeze":
            server.freeze()
        elif mode == "kill":
            server.stop()
        else:
            assert proxy is not None
            proxy.delay = 2.5  # each piece of every answer held 2.5 s: slow, not dead
        yield
    finally:
        if proxy is not None:
            proxy.delay = 0.0
        server.thaw()
        if mode == "kill":
            server.start()


@pytest.mark.parametrize(
    ("mode", "victim"),
    [("freeze", "seaweed"), ("freeze", "swift"), ("kill", "seaweed"), ("throttle", "swift")],
)
def test_a_cut_off_provider_holds_no_data_hostage(
    drill_config: tuple[Path, dict[str, str]],
    testbed: dict[str, Server],
    mode: str,
    victim: str,
) -> None:
    config, endpoints = drill_config
    with contextlib.ExitStack() as stack:
        proxy = None
        if mode == "throttle":
            host, port = urlsplit(endpoints[victim]).hostname, urlsplit(endpoints[victim]).port
            assert host is not None and port is not None
            proxy = stack.enter_context(ThrottlingProxy((host, port), delay=0.0))
            endpoints = {**endpoints, victim: proxy.endpoint}
            template = (config.parent / "template.toml").read_text()
            config.write_text(
                template.replace("{swift}", endpoints["swift"]).replace(
                    "{seaweed}", endpoints["seaweed"]
                )
            )
        d = stack.enter_context(domicile.open(config))
        small = os.urandom(64 * 1024)
        put_on(d, victim, small, "small")
        others = {f"more{n}": os.urandom(size) for n, size in enumerate((0, 1000, 300_000))}
        for key, body in others.items():
            d.put("docs", key, body)
        healthy = healthy_figure(d, "small", small, victim)

        with cut_off(mode, testbed[victim], proxy):
            ttfb, data = first_byte(d, "docs", "small")
            assert data == small
            assert ttfb <= 3.0, f"first read after the {mode}: {ttfb:.2f} s to the first byte"
            later = []
            for _ in range(7):
                elapsed, data = first_byte(d, "docs", "small")
                assert data == small
                later.append(elapsed)
            assert statistics.median(later) <= 2 * healthy, (later, healthy)
            for key, body in others.items():  # every object has a copy off the victim
                assert d.get("docs", key).read() == body

            start = time.monotonic()  # can be met without the victim: proceeds, compliantly
            d.put("docs", "during", b"new data" * 1000)
            assert time.monotonic() - start <= 5.0
            held = {c.site_id for c in d.where("docs", "during")}
            assert victim not in held and "us-disk" not in held and len(held) == 2

            start = time.monotonic()  # needs the victim: fails closed, every site explained
            try:
                d.put("all3", "needs-three", os.urandom(100_000))
            except PlacementRefused as refused:
                verdicts = {
                    v.site_id: [r.code for r in v.reasons] for v in refused.decision.verdicts
                }
                assert "unhealthy" in verdicts[victim], verdicts
                assert "country_not_allowed" in verdicts["us-disk"], verdicts
            else:  # slow, not dead: the write may succeed, on compliant sites only
                assert mode == "throttle"
                held = {c.site_id for c in d.where("all3", "needs-three")}
                assert held == {"swift", "seaweed", "zz-disk"}
            assert time.monotonic() - start <= 5.0
            if mode != "throttle":
                views = {v.site_id: v for v in d.sites()}  # what `domicile sites` shows
                assert views[victim].state == "open", views[victim]


@pytest.mark.parametrize("victim", ["seaweed", "swift"])
def test_a_20mib_get_whose_first_site_freezes_mid_body_completes(
    drill_config: tuple[Path, dict[str, str]], testbed: dict[str, Server], victim: str
) -> None:
    config, _ = drill_config
    body = os.urandom(20 * MiB)
    with domicile.open(config) as d:
        put_on(d, victim, body, "big")
        start = time.monotonic()
        chunks = iter(d.get("docs", "big"))
        got = [next(chunks)]  # the first site is serving
        try:
            testbed[victim].freeze()
            got.extend(chunks)
        finally:
            testbed[victim].thaw()
        assert b"".join(got) == body
        assert time.monotonic() - start < 60
        faults = d.context.catalog.open_faults(version_id=d.head("docs", "big").version_id)
        assert {(f.site_id, f.kind) for f in faults} <= {(victim, "unreachable")}


def test_puts_right_after_a_freeze_answer_within_5s(
    drill_config: tuple[Path, dict[str, str]], testbed: dict[str, Server]
) -> None:
    """Nobody has seen the hang yet (the breaker is closed): placement picks the frozen
    site, the write notices it stops answering, and the PUT is decided again or refused."""
    config, _ = drill_config
    with domicile.open(config) as d:
        d.put("all3", "warm", b"every site answered a moment ago")
        try:
            testbed["seaweed"].freeze()
            start = time.monotonic()
            with pytest.raises(PlacementRefused):
                d.put("all3", "small", b"payload")
            assert time.monotonic() - start <= 5.0
            start = time.monotonic()
            d.put("docs", "small", b"payload")  # two providers are enough: it proceeds
            assert time.monotonic() - start <= 5.0
            assert "seaweed" not in {c.site_id for c in d.where("docs", "small")}
        finally:
            testbed["seaweed"].thaw()
