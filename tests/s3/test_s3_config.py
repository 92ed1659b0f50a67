"""Building S3 sites from the configuration: keys, credentials from the environment (never
shown), CA files, and refusals that name the site and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from testbed.servers import Server

from domicile.errors import ConfigError
from domicile.sites import open_site
from domicile.sites.s3 import MiB, S3Site
from domicile.sites.s3_config import open_s3_site

from ..sites.conformance import read
from .conftest import Bucket

SECRET = "s3cr3t-never-shown"


def backend(**overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {
        "type": "s3",
        "endpoint": "https://s3.fr-par.scw.cloud",
        "region": "fr-par",
        "bucket": "acme-domicile",
        "access_key_env": "T_ACCESS",
        "secret_key_env": "T_SECRET",
    }
    table.update(overrides)
    return {k: v for k, v in table.items() if v is not None}


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_ACCESS", "AKIDEXAMPLE")
    monkeypatch.setenv("T_SECRET", SECRET)


def test_full_table(keys: None, tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    site = open_s3_site(
        "scw-paris",
        backend(prefix="blobs", addressing="virtual", ca_file="ca.pem", part_size_mib=32),
        tmp_path,
    )
    assert isinstance(site, S3Site)
    assert (site.site_id, site.bucket, site.prefix) == ("scw-paris", "acme-domicile", "blobs/")
    assert site.part_size == 32 * MiB
    assert SECRET not in repr(site) and "AKIDEXAMPLE" not in repr(site)
    site.close()


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        ({"endpoint": None}, "endpoint", "needs endpoint"),
        ({"endpoint": "s3.example.com"}, "endpoint", "not an http(s) URL"),
        ({"bucket": "Bad_Bucket"}, "bucket", "not a valid S3 bucket name"),
        ({"prefix": "../up"}, "prefix", "not a safe key prefix"),
        ({"prefix": "/abs"}, "prefix", "not a safe key prefix"),
        ({"addressing": "dns"}, "addressing", "unknown addressing"),
        ({"part_size_mib": 4}, "part_size", "5 MiB minimum"),
        ({"colour": "blue"}, "colour", "unknown backend key"),
        ({"ca_file": "missing.pem"}, "ca_file", "no CA file"),
        ({"ca_file": "x.pem", "verify_tls": False}, "ca_file", "contradict"),
        ({"verify_tls": "yes"}, "verify_tls", "wrong type"),
        ({"secret_key_env": None}, "access_key_env", "without a secret key"),
        ({"access_key": "AKID"}, "access_key", "both access_key and access_key_env"),
        ({"secret_key_env": "T_UNSET"}, "secret_key_env", "T_UNSET"),
    ],
)
def test_bad_tables_name_site_and_key(
    keys: None, tmp_path: Path, overrides: dict[str, Any], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        open_s3_site("scw-paris", backend(**overrides), tmp_path)
    err = info.value
    assert words in err.message
    assert err.context["site"] == "scw-paris"
    assert err.context["key"] == f"sites.scw-paris.backend.{key}"
    assert SECRET not in str(err)


def test_inline_secret_of_wrong_type_is_not_echoed(tmp_path: Path) -> None:
    table = backend(access_key_env=None, secret_key_env=None, access_key="AKID", secret_key=12345)
    with pytest.raises(ConfigError) as info:
        open_s3_site("s", table, tmp_path)
    assert "12345" not in str(info.value) and "(hidden)" in str(info.value)


def test_without_keys_botocore_takes_them_from_aws_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_server: Server, bucket: Bucket
) -> None:
    creds = s3_server.credentials
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_key)
    table = backend(endpoint=creds.endpoint, bucket=bucket.name, region="us-east-1")
    del table["access_key_env"], table["secret_key_env"]
    site = open_s3_site("env-keys", table, tmp_path)
    try:
        site.put("from-env", [b"ok"])
        assert read(site, "from-env") == b"ok"
    finally:
        site.close()


def test_env_credentials_reach_the_server(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, s3_server: Server, bucket: Bucket
) -> None:
    creds = s3_server.credentials
    monkeypatch.setenv("T_ACCESS", creds.access_key)
    monkeypatch.setenv("T_SECRET", creds.secret_key)
    table = backend(endpoint=creds.endpoint, bucket=bucket.name, region="us-east-1", prefix="d/")
    site = open_s3_site("env-named", table, tmp_path)
    try:
        site.put("b1", [b"hello"])
        assert bucket.client.get_object(Bucket=bucket.name, Key="d/b1")["Body"].read() == b"hello"
    finally:
        site.close()


def test_open_site_knows_the_s3_type(keys: None, tmp_path: Path) -> None:
    site = open_site("scw-paris", backend(), base_dir=tmp_path)
    assert isinstance(site, S3Site) and site.site_id == "scw-paris"
    site.close()
