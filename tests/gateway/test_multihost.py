"""Several gateway hosts over one PostgreSQL catalog (docs/deployment.md).

Two ``domicile serve`` processes, each with its own configuration file in its own folder
(same catalog URL, same sites, keyring and audit key by absolute path, as two machines with
shared storage would have), behave as one deployment: a bucket made on one is seen by the
other at once; same-key PUTs through both leave one current version and no orphaned
blob; conditional writes hold across them; one killed with ``kill -9`` mid-load and
restarted loses no acknowledged write while an ``apply`` evacuates a draining site, and
afterwards every object has its copies on allowed sites, a full verify and the audit chain
pass, and ``sweep`` leaves no orphan blob and no temporary file.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

import domicile
from domicile.catalog.records import version_blobs
from domicile.gateway.server import free_port
from domicile.sites import LocalSite
from tests.engine.conftest import blob_files, make_deployment
from tests.gateway.live import ACCESS_KEY, SECRET, TENANTS

BIN = Path(sys.executable).parent
SITES = ("fr", "de", "us", "fra")
#: A fourth site, an EU provider of its own: where fr's copies go when fr drains.
FRA = """
[sites.fra]
template = "aws:eu-central-1"
backend = { type = "local", path = "sites/fra" }
"""


@dataclass
class Host:
    """One gateway host: its configuration, port and ``domicile serve`` process."""

    config: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(BIN / "domicile"), "--config", str(self.config), "serve",
                 "--listen", f"127.0.0.1:{self.port}"],
                stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "300"},
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while "Ctrl-C stops the gateway" not in self.log.read_text(errors="replace"):
            assert self.process.poll() is None, self.log.read_text(errors="replace")
            assert time.monotonic() < deadline, self.log.read_text(errors="replace")
            time.sleep(0.1)
        self.log.write_text("")  # the next start waits for its own banner

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1, "mode": "standard"},
                max_pool_connections=32,
                connect_timeout=5,
                read_timeout=60,
            ),
        )


def host_config(shared: Path, folder: Path) -> Path:
    """``folder/domicile.toml``: the shared deployment's configuration with every path made
    absolute (sites, keyring, audit key), as a second machine mounting the same storage."""
    folder.mkdir(parents=True)
    text = (shared / "domicile.toml").read_text()
    text = text.replace('path = "sites/', f'path = "{shared}/sites/')
    text = text.replace(
        "[deployment]\n",
        f'[deployment]\nkeyring = "{shared}/keyring.txt"\naudit_key = "{shared}/audit-key.pem"\n',
        1,
    )
    path = folder / "domicile.toml"
    path.write_text(text)
    return path


@pytest.fixture
def hosts(tmp_path: Path, pg_databases: Callable[[], str]) -> Iterator[list[Host]]:
    shared = tmp_path / "shared"
    config = make_deployment(shared, extra=FRA, catalog=pg_databases())
    LocalSite.create("fra", shared / "sites" / "fra")
    config.write_text(config.read_text() + "\n[gateway]\n" + TENANTS)
    made = [
        Host(host_config(shared, tmp_path / f"host-{n}"), free_port(), tmp_path / f"{n}.log")
        for n in ("a", "b")
    ]
    made[0].start()  # the first creates the audit key; the second finds it
    made[1].start()
    try:
        yield made
    finally:
        for host in made:
            host.stop()


def _orphans(config: Path, shared: Path) -> dict[str, set[str]]:
    """Per site, the blob files neither referenced by the catalog nor queued as garbage."""
    with domicile.open(config) as engine:
        catalog = engine.context.catalog
        queued = {(g.site_id, g.blob_id) for g in catalog.garbage(limit=100_000)}
        referenced: set[tuple[str, str]] = set()
        for version in catalog.iter_versions():
            blobs = version_blobs(version, catalog.segments(version.version_id))
            for placement in catalog.placements(version.version_id):
                referenced |= {(placement.site_id, b) for b in blobs}
    return {
        site: {
            p.name for p in blob_files(shared, site) if (site, p.name) not in referenced | queued
        }
        for site in SITES
    }


def test_two_gateway_hosts_behave_as_one_deployment(hosts: list[Host], tmp_path: Path) -> None:
    a, b = hosts
    ca, cb = a.client(), b.client()

    # A bucket made on one host is there on the other at once.
    ca.create_bucket(Bucket="shared", CreateBucketConfiguration={"LocationConstraint": "eu-only"})
    cb.head_bucket(Bucket="shared")
    cb.put_object(Bucket="shared", Key="from-b", Body=b"b")
    assert ca.get_object(Bucket="shared", Key="from-b")["Body"].read() == b"b"
    with pytest.raises(ClientError) as taken:
        cb.create_bucket(
            Bucket="shared", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
        )
    assert taken.value.response["Error"]["Code"] in {
        "BucketAlreadyExists",
        "BucketAlreadyOwnedByYou",
    }

    # Same-key PUTs through both hosts at once: one current version, no orphaned blob.
    bodies = [secrets.token_bytes(2000) + bytes([n]) for n in range(24)]
    with ThreadPoolExecutor(12) as pool:
        list(pool.map(lambda n: (ca, cb)[n % 2].put_object(
            Bucket="shared", Key="same", Body=bodies[n]), range(24)))  # fmt: skip
    got = ca.get_object(Bucket="shared", Key="same")["Body"].read()
    assert got in bodies and cb.get_object(Bucket="shared", Key="same")["Body"].read() == got
    listed = ca.list_object_versions(Bucket="shared", Prefix="same").get("Versions", [])
    assert len([v for v in listed if v["IsLatest"]]) == 1
    assert _orphans(a.config, tmp_path / "shared") == {site: set() for site in SITES}

    # If-None-Match: * from both hosts at once: exactly one creates the key.
    def create(n: int) -> str:
        try:
            (ca, cb)[n % 2].put_object(Bucket="shared", Key="once", Body=bodies[n], IfNoneMatch="*")
        except ClientError as exc:
            return str(exc.response["ResponseMetadata"]["HTTPStatusCode"])
        return "200"

    with ThreadPoolExecutor(12) as pool:
        statuses = sorted(pool.map(create, range(12)))
    assert statuses == ["200"] + ["412"] * 11

    # kill -9 host b under load, restart it: every acknowledged write reads back.
    acknowledged: dict[str, bytes] = {}
    refused: list[str] = []  # writes b could not take while it was down
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w: int) -> None:
        client = (a.client(), b.client())[w % 2]
        i = 0
        while not stop.is_set():
            key, body = f"load/{w}/{i}", secrets.token_bytes(1000 + i)
            i += 1
            try:
                client.put_object(Bucket="shared", Key=key, Body=body)
            except (ClientError, BotoCoreError):
                with lock:
                    refused.append(key)
                time.sleep(0.05)  # the host is down: not acknowledged
                continue
            with lock:
                acknowledged[key] = body

    # Meanwhile fr drains: host a's operator sets it draining and runs apply during the load
    # (the running gateways still place new copies on fr: the next apply moves them).
    cli = (str(BIN / "domicile"), "--config", str(a.config))
    drained = subprocess.run(
        [*cli, "sites", "set-status", "fr", "draining"], capture_output=True, check=False
    )
    assert drained.returncode == 0, drained.stderr
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in writers:
        t.start()
    time.sleep(1)
    moving = subprocess.Popen(
        [*cli, "apply", "--yes"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(2)
    b.kill()
    time.sleep(1)
    b.start()
    time.sleep(3)
    stop.set()
    for t in writers:
        t.join(timeout=120)
    out, err = moving.communicate(timeout=300)
    assert moving.returncode == 0, out + err  # stale steps are skipped, never fatal
    moved = re.search(r"added ([\d,]+) copies", out)
    assert moved and int(moved[1].replace(",", "")) > 0, out  # it did move copies off fr
    final = subprocess.run([*cli, "apply", "--yes"], capture_output=True, text=True, check=False)
    assert final.returncode == 0, final.stdout + final.stderr
    assert len(acknowledged) > 20
    assert refused and all(k.split("/")[1] in {"1", "3", "5"} for k in refused)  # b's, while down
    assert any(k.split("/")[1] == "1" and k in acknowledged for k in acknowledged)
    cb = b.client()
    for n, (key, body) in enumerate(sorted(acknowledged.items())):
        client = (ca, cb)[n % 2]
        assert client.get_object(Bucket="shared", Key=key)["Body"].read() == body, key
    swept = subprocess.run(
        [*cli, "sweep", "--grace", "0"], capture_output=True, text=True, check=False
    )
    assert swept.returncode == 0, swept.stdout + swept.stderr
    shared = tmp_path / "shared"
    assert _orphans(a.config, shared) == {site: set() for site in SITES}
    assert not [
        p
        for site in SITES
        for p in (shared / "sites" / site).rglob("*")
        if ".tmp" in p.parts and p.is_file()
    ]
    with domicile.open(a.config) as engine:
        catalog = engine.context.catalog
        for version in catalog.iter_versions():
            where = {p.site_id for p in catalog.placements(version.version_id) if p.state == "ok"}
            assert "fr" not in where and len(where) >= 2, (version.key, where)
        assert engine.verify("full").ok
        report = engine.audit.verify()
        assert report.ok, report
