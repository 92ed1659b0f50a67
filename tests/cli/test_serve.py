"""``domicile serve`` as a user runs it: a process that prints how to connect, serves the
aws CLI's requests with the printed credentials, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from domicile.gateway.server import free_port
from tests.cli.conftest import BIN, Run, serve_process, wait_for


def test_serve_prints_credentials_that_work_and_stops_on_sigterm(
    deployment: Path, run: Run, tmp_path: Path
) -> None:
    port = free_port()
    process = serve_process(deployment, port, "--show-secret")
    try:
        banner = wait_for(process, r"Ctrl-C stops the gateway")
        assert f"http://127.0.0.1:{port}" in banner
        command = next(line.strip() for line in banner.splitlines() if " s3 mb " in line)
        assert "AWS_SECRET_ACCESS_KEY=" in command and "<its secret>" not in command
        assert f" {BIN / 'aws'} --endpoint-url " in command  # the aws make installed
        assert f"then {BIN / 'domicile'} --config " in banner
        creds = dict(re.findall(r"(AWS_[A-Z_]+)=(\S+)", command))
        aws_env = {
            **os.environ,
            **creds,
            "AWS_CONFIG_FILE": str(tmp_path / "none"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        }
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while True:  # the banner comes just before the listener opens
            made = subprocess.run(
                [str(BIN / "aws"), "--endpoint-url", endpoint, "s3", "mb", "s3://served-bucket"],
                capture_output=True,
                text=True,
                env=aws_env,
                check=False,
            )
            if made.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert made.returncode == 0, made.stderr
        source = tmp_path / "note.txt"
        source.write_text("served through the gateway\n")
        copied = subprocess.run(
            [
                str(BIN / "aws"),
                "--endpoint-url",
                endpoint,
                "s3",
                "cp",
                str(source),
                "s3://served-bucket/note.txt",
            ],
            capture_output=True,
            text=True,
            env=aws_env,
            check=False,
        )
        assert copied.returncode == 0, copied.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert "gateway stopped" in out
    assert '"message": "request"' in err and '"operation": "PutObject"' in err
    secret = creds["AWS_SECRET_ACCESS_KEY"]
    assert secret not in err  # logs never carry the secret
    where = run("--config", str(deployment), "--json", "where", "served-bucket/note.txt")
    assert where.code == 0, where.err
    assert {c["site_id"] for c in where.json()} == {"ovh-gra", "hetzner-fsn"}


def test_serve_keeps_the_secret_off_screen_unless_asked(deployment: Path) -> None:
    secret = re.search(r'secret = "([^"]+)"', deployment.read_text())
    assert secret is not None
    process = serve_process(deployment, free_port())
    try:
        banner = wait_for(process, r"Ctrl-C stops the gateway")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=60)
    assert "AWS_SECRET_ACCESS_KEY=<its secret>" in banner
    assert secret[1] not in banner + out + err


def _banner(deployment: Path) -> str:
    process = serve_process(deployment, free_port())
    try:
        return wait_for(process, r"Ctrl-C stops the gateway")
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)


def test_a_second_run_does_not_suggest_creating_the_bucket_again(
    deployment: Path, run: Run
) -> None:
    assert " s3 mb s3://my-bucket" in _banner(deployment)
    made = run("--config", str(deployment), "mb", "my-bucket", "--policy", "eu-only")
    assert made.code == 0, made.err
    again = _banner(deployment)
    assert " s3 mb " not in again  # it exists: creating it would fail
    assert " s3 cp ./README.md s3://my-bucket/readme.md" in again
