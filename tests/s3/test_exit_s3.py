"""The exit from an S3 site (docs/exit.md): the site's prefix synced to a folder with the
aws CLI is a flat folder of blobs, which tools/domicile_exit.py reads like a local site."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import domicile
from domicile.crypto import Keyring
from domicile.engine import ObjectMeta
from tests.s3.conftest import Bucket

pytestmark = pytest.mark.age_cli

SCRIPT = Path(__file__).parent.parent.parent / "tools" / "domicile_exit.py"
MiB = 1024 * 1024

CONFIG = """
[deployment]
name = "exit-s3"
segment_size_mib = 1

[entities.s3-op]
name = "S3 Operator SAS"
country = "FR"

[sites.s3]
country = "FR"
operator = "s3-op"
provider = "s3"

[sites.s3.backend]
type = "s3"
endpoint = "{endpoint}"
bucket = "{bucket}"
prefix = "exit/"
region = "{region}"
access_key_env = "EXIT_AK"
secret_key_env = "EXIT_SK"

[policies.fr]
allow = ["FR"]
copies = 1

[buckets.docs]
policy = "fr"
"""


def test_an_s3_sites_prefix_synced_with_the_aws_cli(
    bucket: Bucket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = bucket.server.credentials
    monkeypatch.setenv("EXIT_AK", creds.access_key)
    monkeypatch.setenv("EXIT_SK", creds.secret_key)
    config = CONFIG.format(endpoint=creds.endpoint, bucket=bucket.name, region=creds.region)
    (tmp_path / "domicile.toml").write_text(config)
    Keyring.create(tmp_path / "keyring.txt")
    expected = {
        "small.txt": (b"hello\n", ObjectMeta(content_type="text/plain", user={"a": "b"})),
        "big/film.bin": (os.urandom(2 * MiB + 5), ObjectMeta(user={"c": "d"})),
        "/odd//key/": (b"odd", ObjectMeta()),
    }
    with domicile.open(tmp_path / "domicile.toml") as engine:
        for key, (body, meta) in expected.items():
            engine.put("docs", key, body, meta=meta)
        engine.put("docs", "gone", b"deleted")
        engine.delete("docs", "gone")
    # another site sharing the bucket under its own prefix: not part of this copy
    bucket.client.put_object(Bucket=bucket.name, Key="other/b" + "0" * 32, Body=b"not ours")

    home, copy, out = tmp_path / "home", tmp_path / "copy", tmp_path / "out"
    home.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": creds.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.secret_key,
        "AWS_DEFAULT_REGION": creds.region,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    (home / "config").write_text("[default]\ns3 =\n    addressing_style = path\n")
    aws = str(Path(sys.executable).parent / "aws")
    sync = [aws, "s3", "sync", f"s3://{bucket.name}/exit/", str(copy)]
    done = subprocess.run(
        [*sync, "--endpoint-url", creds.endpoint, "--only-show-errors"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = {p.name for p in copy.iterdir()}
    assert all(p.is_file() for p in copy.iterdir()) and any(n.startswith("ckpt-") for n in names)

    keyring = ["--keyring", str(tmp_path / "keyring.txt")]
    done = subprocess.run(
        [sys.executable, "-I", "-S", str(SCRIPT), *keyring, "--out", str(out), str(copy)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert {e["key"]: e["status"] for e in index} == dict.fromkeys(expected, "recovered")
    for entry in index:
        body, meta = expected[entry["key"]]
        assert (out / entry["file"]).read_bytes() == body
        assert entry["meta"]["content_type"] == meta.content_type
        assert entry["meta"]["user"] == dict(meta.user)
    assert next(e for e in index if e["key"] == "big/film.bin")["layout"] == "3 segments"
