"""``domicile sites add NAME --backend s3://BUCKET/PREFIX``: against the real test servers."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from tests.cli.conftest import Result, Run, invoker
from tests.s3.conftest import Bucket


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    return invoker(capsys, monkeypatch)


@pytest.fixture
def deployment(tmp_path: Path, bucket: Bucket, run: Run, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh deployment; the test server's keys in FRA_AK and FRA_SK."""
    creds = bucket.server.credentials
    monkeypatch.setenv("FRA_AK", creds.access_key)
    monkeypatch.setenv("FRA_SK", creds.secret_key)
    config = tmp_path / "dep" / "domicile.toml"
    assert run("--config", str(config), "init").code == 0
    return config


def add_fra(run: Run, config: Path, bucket: Bucket, backend: str) -> Result:
    creds = bucket.server.credentials
    return run(
        "--config", str(config), "sites", "add", "aws-fra", "--template", "aws:eu-central-1",
        "--backend", backend, "--endpoint", creds.endpoint, "--region", creds.region,
        "--access-key-env", "FRA_AK", "--secret-key-env", "FRA_SK",
    )  # fmt: skip


def test_add_an_s3_site_then_apply(
    bucket: Bucket, deployment: Path, run: Run, tmp_path: Path
) -> None:
    creds = bucket.server.credentials
    cfg = ("--config", str(deployment))
    body = tmp_path / "body"
    body.write_bytes(os.urandom(300_000))
    assert run(*cfg, "put", str(body), "reports/a").code == 0
    assert run(*cfg, "sites", "set-status", "hetzner-fsn", "draining").code == 0
    added = add_fra(run, deployment, bucket, f"s3://{bucket.name}/dom")
    assert added.code == 0, added.err
    said = " ".join(added.out.split())
    assert f"its bucket {bucket.name} at {creds.endpoint} is reachable and takes writes" in said
    assert "+ 1 copies to add" in said and "- 1 copies to remove" in said
    assert "add ovh-gra -> aws-fra COUNT" in said
    backend = tomllib.loads(deployment.read_text())["sites"]["aws-fra"]["backend"]
    assert backend == {
        "type": "s3",
        "endpoint": creds.endpoint,
        "bucket": bucket.name,
        "prefix": "dom/",
        "region": creds.region,
        "access_key_env": "FRA_AK",
        "secret_key_env": "FRA_SK",
    }
    listed = bucket.client.list_objects_v2(Bucket=bucket.name).get("Contents", [])
    assert not [o for o in listed if o["Key"].startswith("dom/probe-")]  # the probe is gone
    assert run(*cfg, "apply", "--yes").code == 0
    keys = [o["Key"] for o in bucket.client.list_objects_v2(Bucket=bucket.name)["Contents"]]
    assert keys and all(k.startswith("dom/") for k in keys)
    assert run(*cfg, "get", "reports/a", str(tmp_path / "back")).code == 0
    assert (tmp_path / "back").read_bytes() == body.read_bytes()


def test_a_missing_bucket_is_refused(bucket: Bucket, deployment: Path, run: Run) -> None:
    before = deployment.read_text()
    refused = add_fra(run, deployment, bucket, f"s3://{bucket.name}-absent")
    assert refused.code == 7, refused.err
    assert "does not take a write" in refused.err
    assert deployment.read_text() == before
