"""``domicile sites add NAME --backend s3://BUCKET/PREFIX``: against the real test servers."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from domicile.cli.main import main
from tests.s3.conftest import Bucket


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_add_an_s3_site_then_apply(
    bucket: Bucket,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    creds = bucket.server.credentials
    monkeypatch.setenv("FRA_AK", creds.access_key)
    monkeypatch.setenv("FRA_SK", creds.secret_key)
    config = tmp_path / "dep" / "domicile.toml"
    cfg = ("--config", str(config))
    assert run(capsys, *cfg, "init")[0] == 0
    body = tmp_path / "body"
    body.write_bytes(os.urandom(300_000))
    assert run(capsys, *cfg, "put", str(body), "reports/a")[0] == 0
    assert run(capsys, *cfg, "sites", "set-status", "hetzner-fsn", "draining")[0] == 0
    code, out, err = run(
        capsys, *cfg, "sites", "add", "aws-fra", "--template", "aws:eu-central-1",
        "--backend", f"s3://{bucket.name}/dom", "--endpoint", creds.endpoint,
        "--region", creds.region, "--access-key-env", "FRA_AK", "--secret-key-env", "FRA_SK",
    )  # fmt: skip
    assert code == 0, err
    assert f"its bucket {bucket.name} at {creds.endpoint} is reachable and takes writes" in out
    assert "plan: 1 copies to add, 1 to remove" in out
    backend = tomllib.loads(config.read_text())["sites"]["aws-fra"]["backend"]
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
    assert run(capsys, *cfg, "apply", "--yes")[0] == 0
    keys = [o["Key"] for o in bucket.client.list_objects_v2(Bucket=bucket.name)["Contents"]]
    assert keys and all(k.startswith("dom/") for k in keys)
    assert run(capsys, *cfg, "get", "reports/a", str(tmp_path / "back"))[0] == 0
    assert (tmp_path / "back").read_bytes() == body.read_bytes()


def test_a_missing_bucket_is_refused(
    bucket: Bucket,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    creds = bucket.server.credentials
    monkeypatch.setenv("FRA_AK", creds.access_key)
    monkeypatch.setenv("FRA_SK", creds.secret_key)
    config = tmp_path / "dep" / "domicile.toml"
    cfg = ("--config", str(config))
    assert run(capsys, *cfg, "init")[0] == 0
    before = config.read_text()
    code, _, err = run(
        capsys, *cfg, "sites", "add", "aws-fra", "--template", "aws:eu-central-1",
        "--backend", f"s3://{bucket.name}-absent", "--endpoint", creds.endpoint,
        "--region", creds.region, "--access-key-env", "FRA_AK", "--secret-key-env", "FRA_SK",
    )  # fmt: skip
    assert code == 7, err
    assert "does not take a write" in err
    assert config.read_text() == before
