"""The S3 test bed as pytest fixtures: real Swift and SeaweedFS servers on 127.0.0.1.

- ``testbed`` (session): installs both servers (once, cached under ``$DOMICILE_TESTBED``) and
  starts a private instance of each on a free port range, stopped and removed at the end of
  the session, so that test sessions run side by side and a drill that stops a server stops
  no one else's. With ``DOMICILE_TESTBED_PORT`` set, it uses the shared instance on that
  range instead (``make servers``), starting it if needed and stopping at the end only what
  it started (``DOMICILE_TESTBED_KEEP=1`` keeps them); the drills then stop and restart
  those shared servers. A server that cannot be installed or started FAILS the tests with
  the reason: CI installs them.
- ``s3_server`` (parametrised over ``swift`` and ``seaweed``) and ``bucket``: a fresh bucket
  per test, emptied and removed afterwards.
- ``make_site``: builds an :class:`S3Site` on that bucket (keyword overrides allowed).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from testbed.servers import SeaweedServer, Server, SwiftServer, TestbedError, private_servers

from domicile.sites.s3 import S3Site

SERVER_NAMES = ["swift", "seaweed"]


@dataclass
class Bucket:
    """A fresh bucket on one test server, with a raw boto3 client for out-of-band work."""

    server: Server
    name: str
    client: Any

    @property
    def server_name(self) -> str:
        return self.server.name


def raw_client(server: Server, **overrides: Any) -> Any:
    """A plain boto3 S3 client for ``server`` (to act behind the site's back)."""
    creds = server.credentials
    args: dict[str, Any] = {
        "endpoint_url": creds.endpoint,
        "aws_access_key_id": creds.access_key,
        "aws_secret_access_key": creds.secret_key,
        "region_name": creds.region,
        "config": Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 2}),
    }
    args.update(overrides)
    return boto3.client("s3", **args)


@pytest.fixture(scope="session")
def testbed() -> Iterator[dict[str, Server]]:
    if os.environ.get("DOMICILE_TESTBED_PORT"):
        yield from shared_testbed()
        return
    try:
        with private_servers() as servers:
            yield servers
    except TestbedError as err:
        pytest.fail(f"the S3 test bed could not start: {err}", pytrace=False)


def shared_testbed() -> Iterator[dict[str, Server]]:
    """The shared instance on ``$DOMICILE_TESTBED_PORT``: reused, or started and stopped."""
    servers: dict[str, Server] = {"swift": SwiftServer(), "seaweed": SeaweedServer()}
    started: list[Server] = []

    def start(server: Server) -> None:
        if server.start():
            started.append(server)

    try:
        with ThreadPoolExecutor(len(servers)) as pool:
            for future in [pool.submit(start, s) for s in servers.values()]:
                future.result()
    except TestbedError as err:
        for server in started:
            server.stop()
        pytest.fail(f"the S3 test bed could not start: {err}", pytrace=False)
    yield servers
    if not os.environ.get("DOMICILE_TESTBED_KEEP"):
        for server in started:
            server.stop()


@pytest.fixture(params=SERVER_NAMES)
def s3_server(request: pytest.FixtureRequest, testbed: dict[str, Server]) -> Server:
    server = testbed[request.param]
    if not server.running():  # a drill stopped it and failed before restarting it
        server.start()
    return server


@pytest.fixture
def bucket(s3_server: Server) -> Iterator[Bucket]:
    client = raw_client(s3_server)
    name = f"t-{uuid.uuid4().hex[:20]}"
    client.create_bucket(Bucket=name)
    yield Bucket(s3_server, name, client)
    empty_and_remove(client, name)


def empty_and_remove(client: Any, name: str) -> None:
    """Abort leftover uploads, delete every object, then the bucket (best effort)."""
    try:
        for upload in client.list_multipart_uploads(Bucket=name).get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=name)
    except Exception as exc:
        print(f"warning: could not remove test bucket {name}: {exc}")
    finally:
        client.close()


@pytest.fixture(scope="session")
def shared_buckets(testbed: dict[str, Server]) -> Iterator[dict[str, Bucket]]:
    """One bucket per server for the whole session, for tests that each take a fresh prefix."""
    made: dict[str, Bucket] = {}
    for name, server in testbed.items():
        client = raw_client(server)
        made[name] = Bucket(server, f"shared-{uuid.uuid4().hex[:16]}", client)
        client.create_bucket(Bucket=made[name].name)
    yield made
    for shared in made.values():
        empty_and_remove(shared.client, shared.name)


@pytest.fixture
def make_site(bucket: Bucket) -> Iterator[Callable[..., S3Site]]:
    with site_maker(bucket) as make:
        yield make


@contextlib.contextmanager
def site_maker(bucket: Bucket) -> Iterator[Callable[..., S3Site]]:
    """A builder of S3Sites on ``bucket`` (keyword overrides), closing them all at the end."""
    made: list[S3Site] = []

    def make(**overrides: Any) -> S3Site:
        creds = bucket.server.credentials
        args: dict[str, Any] = {
            "endpoint": creds.endpoint,
            "bucket": bucket.name,
            "access_key": creds.access_key,
            "secret_key": creds.secret_key,
            "region": creds.region,
            "attempts": 2,
            "timeout": 30.0,
        }
        args.update(overrides)
        site = S3Site(args.pop("site_id", f"s3-{bucket.server_name}"), **args)
        made.append(site)
        return site

    try:
        yield make
    finally:
        for site in made:
            site.close()
