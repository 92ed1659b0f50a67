"""``[sites.<id>] lock = "mirror"`` against the test bed's SeaweedFS, which supports S3
Object Lock: the blobs of a locked version are locked at the store too (the site's own
credentials cannot delete them), and a site that cannot honour it is refused at open."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from testbed.servers import Server

import domicile
from domicile.crypto import Keyring
from domicile.engine import ObjectMeta
from domicile.errors import ConfigError
from tests.s3.conftest import raw_client

CONFIG = """
[deployment]
name = "mirror"
segment_size_mib = 1

[entities.s3-op]
name = "S3 Operator SAS"
country = "FR"

[sites.s3]
country = "FR"
operator = "s3-op"
provider = "s3"
{lock}

[sites.s3.backend]
type = "{kind}"
endpoint = "{endpoint}"
bucket = "{bucket}"
prefix = "m/"
region = "{region}"
access_key = "{access_key}"
secret_key = "{secret_key}"

[policies.fr]
allow = ["FR"]
copies = 1
"""
LOCAL = """
[deployment]
name = "mirror-local"

[sites.here]
country = "FR"
operator = "ovh-sas"
lock = "mirror"
backend = { type = "local", path = "here" }

[policies.fr]
allow = ["FR"]
copies = 1
"""


@pytest.fixture
def seaweed(testbed: dict[str, Server]) -> Server:
    server = testbed["seaweed"]
    if not server.running():
        server.start()
    return server


@pytest.fixture
def locked_bucket(seaweed: Server) -> Iterator[tuple[str, Any]]:
    client = raw_client(seaweed)
    name = f"lock-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    yield name, client
    _empty(client, name)


def _empty(client: Any, name: str) -> None:
    """Every version away (GOVERNANCE bypassed: these tests lock in GOVERNANCE only)."""
    try:
        for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
            for entry in page.get("Versions", []):
                client.put_object_legal_hold(
                    Bucket=name,
                    Key=entry["Key"],
                    VersionId=entry["VersionId"],
                    LegalHold={"Status": "OFF"},
                )
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                client.delete_object(
                    Bucket=name,
                    Key=entry["Key"],
                    VersionId=entry["VersionId"],
                    BypassGovernanceRetention=True,
                )
        client.delete_bucket(Bucket=name)
    except Exception as exc:
        print(f"warning: could not remove test bucket {name}: {exc}")
    finally:
        client.close()


def _deployment(root: Path, server: Server, bucket: str, *, mirror: bool = True) -> Path:
    creds = server.credentials
    root.mkdir(parents=True, exist_ok=True)
    Keyring.create(root / "keyring.txt")
    path = root / "domicile.toml"
    path.write_text(
        CONFIG.format(
            lock='lock = "mirror"' if mirror else "",
            kind="s3",
            endpoint=creds.endpoint,
            bucket=bucket,
            region=creds.region,
            access_key=creds.access_key,
            secret_key=creds.secret_key,
        )
    )
    return path


def test_locked_blobs_are_locked_at_the_store(
    tmp_path: Path, seaweed: Server, locked_bucket: tuple[str, Any]
) -> None:
    name, client = locked_bucket
    until = time.time() + 86_400
    with domicile.open(_deployment(tmp_path, seaweed, name)) as engine:
        engine.create_bucket("vault", "fr", object_lock=True)
        meta = ObjectMeta(lock_mode="GOVERNANCE", lock_until=until)
        info = engine.put("vault", "k", b"x" * (2 << 20), meta=meta)  # two segments
        blobs = [f"m/m{info.version_id}"]
        blobs += [f"m/{s.blob_id}" for s in engine.context.catalog.segments(info.version_id)]
        assert len(blobs) == 3
        for key in blobs:
            held = client.get_object_retention(Bucket=name, Key=key)["Retention"]
            assert held["Mode"] == "GOVERNANCE"
            assert abs(held["RetainUntilDate"].timestamp() - until) < 2
            versions = client.list_object_versions(Bucket=name, Prefix=key)["Versions"]
            with pytest.raises(ClientError) as refused:  # the site's own credentials
                client.delete_object(Bucket=name, Key=key, VersionId=versions[0]["VersionId"])
            assert refused.value.response["Error"]["Code"] == "AccessDenied"
        engine.set_legal_hold("vault", "k", True)  # rewrites the manifest, mirrored too
        for key in blobs:
            hold = client.get_object_legal_hold(Bucket=name, Key=key)["LegalHold"]
            assert hold["Status"] == "ON"
        engine.set_legal_hold("vault", "k", False)
        assert engine.get("vault", "k").read() == b"x" * (2 << 20)


def test_a_site_that_cannot_lock_is_refused_at_open(
    tmp_path: Path, seaweed: Server, testbed: dict[str, Server]
) -> None:
    client = raw_client(seaweed)
    name = f"plain-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    try:
        with pytest.raises(ConfigError) as refused:
            domicile.open(_deployment(tmp_path, seaweed, name))
        assert "has no Object Lock" in refused.value.message
        assert refused.value.context["key"] == "sites.s3.lock"
        with domicile.open(_deployment(tmp_path / "off", seaweed, name, mirror=False)):
            pass  # the same site without lock = "mirror" opens
    finally:
        client.delete_bucket(Bucket=name)
        client.close()
    local = tmp_path / "local"
    (local / "here").mkdir(parents=True)
    from domicile.sites import LocalSite

    LocalSite.create("here", local / "here")
    Keyring.create(local / "keyring.txt")
    (local / "domicile.toml").write_text(LOCAL)
    with pytest.raises(ConfigError) as local_refused:
        domicile.open(local / "domicile.toml")
    assert "cannot lock blobs" in local_refused.value.message


def test_apply_locks_what_it_moves_to_a_mirror_site(
    tmp_path: Path, seaweed: Server, locked_bucket: tuple[str, Any]
) -> None:
    name, client = locked_bucket
    from domicile.engine import set_site_status
    from domicile.sites import LocalSite

    path = _deployment(tmp_path, seaweed, name)
    LocalSite.create("here", tmp_path / "here")
    text = path.read_text()
    here = '[sites.here]\ncountry = "FR"\noperator = "s3-op"\nprovider = "here"\n'
    here += 'backend = { type = "local", path = "here" }\n\n'
    path.write_text(text.replace("[policies.fr]", here + "[policies.fr]"))
    set_site_status(path, "s3", "suspended")  # everything starts on the local site
    with domicile.open(path) as engine:
        engine.create_bucket("vault", "fr", object_lock=True)
        until = time.time() + 86_400
        info = engine.put("vault", "k", b"moved", meta=ObjectMeta(lock_mode="GOVERNANCE",
                                                                   lock_until=until))  # fmt: skip
        assert [p.site_id for p in engine.context.catalog.placements(info.version_id)] == ["here"]
    set_site_status(path, "s3", "active")
    set_site_status(path, "here", "draining")
    with domicile.open(path) as engine:
        report = engine.apply()
        assert not report.failed and report.added == 1
        assert [p.site_id for p in engine.context.catalog.placements(info.version_id)] == ["s3"]
        held = client.get_object_retention(Bucket=name, Key=f"m/m{info.version_id}")
        assert held["Retention"]["Mode"] == "GOVERNANCE"
        assert engine.get("vault", "k").read() == b"moved"
