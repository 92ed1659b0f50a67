"""``domicile serve`` killed with ``kill -9`` in the middle of a PUT or of a multipart
upload's part: the partial temp files it leaves on the sites are removed by ``domicile
sweep``, and said so per site."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from domicile.gateway import canonical as c
from domicile.gateway.server import free_port
from tests.cli.conftest import Run, serve_process, wait_for
from tests.gateway.rawhttp import UNSIGNED, request_head, send_cut, sign

MiB = 1024 * 1024


def temp_files(deployment: Path) -> list[Path]:
    return sorted((deployment.parent / "sites").glob("*/.tmp/*"))


def kill_mid_upload(deployment: Path, what: str) -> int:
    """Serve ``deployment``, begin an upload (``what``: ``put`` of an object, or ``part`` of
    a multipart upload) that announces 64 MiB, send 4 MiB, and ``kill -9`` the gateway once
    a temp file holds some of it; return the process's exit status."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = serve_process(deployment, port, "--show-secret")
    try:
        banner = wait_for(process, r"Ctrl-C stops the gateway")
        creds = dict(re.findall(r"(AWS_[A-Z_]+)=(\S+)", banner))
        access, secret = creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"]
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}),
        )
        deadline = time.monotonic() + 15
        while True:  # the banner comes just before the listener opens
            try:
                s3.create_bucket(Bucket="crash")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        query: list[tuple[str, str]] = []
        if what == "part":
            upload_id = s3.create_multipart_upload(Bucket="crash", Key="big")["UploadId"]
            query = [("partNumber", "1"), ("uploadId", upload_id)]
        s3.close()
        signed = sign(
            "PUT",
            f"127.0.0.1:{port}",
            "/crash/big",
            query,
            headers={"content-length": str(64 * MiB)},
            payload=UNSIGNED,
            access_key=access,
            secret=secret,
        )

        def kill_once_written() -> None:
            deadline = time.monotonic() + 20
            while not any(p.stat().st_size > 0 for p in temp_files(deployment)):
                assert time.monotonic() < deadline, "the gateway never wrote a temp file"
                time.sleep(0.02)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)

        target = "/crash/big" + (f"?{c.canonical_query(query)}" if query else "")
        send_cut(
            endpoint,
            request_head("PUT", target, signed.headers),
            b"x" * (4 * MiB),
            during=kill_once_written,
        )
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    return process.returncode


@pytest.mark.parametrize("what", ["put", "part"])
def test_kill_9_of_the_gateway_mid_upload_leaves_temp_files_that_sweep_removes(
    deployment: Path, run: Run, what: str
) -> None:
    assert kill_mid_upload(deployment, what) == -signal.SIGKILL
    left = temp_files(deployment)
    sizes = {p.name: p.stat().st_size for p in left}
    assert left and {p.parent.parent.name for p in left} == {"ovh-gra", "hetzner-fsn"}
    cfg = ("--config", str(deployment))
    young = run(*cfg, "--json", "sweep")  # the default grace: 24 h
    assert young.code == 0, young.err
    assert young.json()["leftovers"] == 0 and temp_files(deployment) == left
    dry = run(*cfg, "sweep", "--grace", "0", "--dry-run")
    assert dry.code == 0, dry.err
    assert f"would remove {len(left)} leftovers of dead writers" in dry.out
    assert temp_files(deployment) == left
    swept = run(*cfg, "--json", "sweep", "--grace", "0")
    assert swept.code == 0, swept.err
    report = swept.json()
    assert report["leftovers"] == len(left)
    by_site = {s["site_id"]: s for s in report["sites"]}
    for site in ("ovh-gra", "hetzner-fsn"):
        names = sorted(p.name for p in left if p.parent.parent.name == site)
        assert sorted(by_site[site]["leftovers"]) == names
        assert by_site[site]["leftover_bytes"] == sum(sizes[n] for n in names) > 0
    assert temp_files(deployment) == []
    again = run(*cfg, "sweep", "--grace", "0")
    assert again.code == 0 and "removed 0 leftovers of dead writers" in again.out
    missing = run(*cfg, "where", "crash/big")  # the PUT never happened
    assert missing.code == 4 and "no object 'big'" in missing.err, missing
