"""Drill: the gateway (``domicile serve``, its own process) with S3 servers that stop
answering: reads with a healthy copy are served, and SIGTERM ends the gateway within its
grace period + 5 s even while a request hangs on sites that answer nothing."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from testbed.servers import Server

import domicile
from domicile.gateway.server import free_port
from tests.cli.conftest import serve_process, wait_for

from .hungbed import drill_config, first_byte, put_on

__all__ = ["drill_config"]  # the fixture, used by name

KEY, SECRET = "AKIDHUNGDRILL0001", "hung-drill-secret"
GRACE = 3.0
EXTRA = f"""
[tenants.default]
keys = [{{ access_key = "{KEY}", secret = "{SECRET}" }}]

[gateway]
shutdown_grace = {GRACE}
"""


def _client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        region_name="two-providers",
        config=Config(
            retries={"max_attempts": 1}, read_timeout=120, s3={"addressing_style": "path"}
        ),
    )


def test_sigterm_ends_the_gateway_within_its_grace_while_requests_hang(
    drill_config: tuple[Path, dict[str, str]], testbed: dict[str, Server]
) -> None:
    config, _ = drill_config
    config.write_text(config.read_text() + EXTRA)
    small = b"one copy is on the local disk" * 1000
    with domicile.open(config) as d:
        put_on(d, "seaweed", small, "small")
        for _ in range(40):  # an object whose every copy is on the S3 servers
            d.put("docs", "both", b"only on the servers")
            if {c.site_id for c in d.where("docs", "both")} == {"swift", "seaweed"}:
                break
        else:
            raise AssertionError("no placement chose swift and seaweed in 40 tries")
        assert first_byte(d, "docs", "small")[1] == small

    port = free_port()
    log = config.parent / "serve.log"
    with log.open("w") as stderr:
        process = serve_process(config, port, stderr=stderr)
    hung: list[BaseException | bytes] = []
    try:
        wait_for(process, r"Ctrl-C stops the gateway", timeout=90)
        client = _client(f"http://127.0.0.1:{port}")
        testbed["seaweed"].freeze()
        start = time.monotonic()
        body = client.get_object(Bucket="docs", Key="small")["Body"]
        assert body.read() == small
        assert time.monotonic() - start <= 3.0 + 1.0  # the first byte within 3 s; the rest tiny

        start = time.monotonic()  # two providers are left: a PUT to docs proceeds
        client.put_object(Bucket="docs", Key="during", Body=b"new data")
        assert time.monotonic() - start <= 5.0
        start = time.monotonic()  # three are needed: 503, every site's reason
        with pytest.raises(ClientError) as refused:
            client.put_object(Bucket="all3", Key="impossible", Body=b"x" * 1000)
        assert time.monotonic() - start <= 5.0
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        message = refused.value.response["Error"]["Message"]
        assert "seaweed" in message and "unhealthy" in message, message

        testbed["swift"].freeze()  # now "both" has no copy that answers: its GET hangs

        def hang() -> None:
            try:
                hung.append(
                    _client(f"http://127.0.0.1:{port}")
                    .get_object(Bucket="docs", Key="both")["Body"]
                    .read()
                )
            except BaseException as exc:  # the connection is cut at shutdown
                hung.append(exc)

        waiter = threading.Thread(target=hang, daemon=True)
        waiter.start()
        time.sleep(1.0)
        assert not hung, "the GET of an object whose every copy is frozen answered at once"
        stopping = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=GRACE + 60)
        took = time.monotonic() - stopping
        assert took <= GRACE + 5.0, f"the gateway took {took:.1f} s to stop; {log.read_text()}"
        assert process.returncode == 0
        assert "gateway stopped" in out
        waiter.join(10)
    finally:
        for server in testbed.values():
            server.thaw()
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=30)
