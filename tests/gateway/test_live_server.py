"""The gateway as a server: HTTPS (where boto3 sends aws-chunked bodies), virtual-hosted
addressing, /health and /metrics, request ids, and a graceful shutdown."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.gateway.live import ACCESS_KEY, SECRET, Live, run_gateway, until


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with run_gateway(tmp_path_factory.mktemp("tls"), tls=True) as running:
        yield running


def test_https_with_aws_chunked_bodies_and_trailing_checksums(tls: Live) -> None:
    assert tls.endpoint.startswith("https://")
    s3 = tls.client()
    sent: list[str] = []
    s3.meta.events.register(
        "before-send.s3.PutObject",
        lambda request, **_: sent.append(request.headers.get("x-amz-content-sha256", b"")),
    )
    s3.create_bucket(Bucket="secure", CreateBucketConfiguration={"LocationConstraint": "eu-only"})
    body = os.urandom(3 * 1024 * 1024 + 5)
    put = s3.put_object(Bucket="secure", Key="over-tls", Body=body, ChecksumAlgorithm="CRC32")
    assert [bytes(v) if isinstance(v, bytes) else v.encode() for v in sent] == [
        b"STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    ]
    assert put["ChecksumCRC32"]
    got = s3.get_object(Bucket="secure", Key="over-tls")
    assert hashlib.sha256(got["Body"].read()).digest() == hashlib.sha256(body).digest()


def _signed(method: str, url: str, body: bytes = b"") -> tuple[str, dict[str, str]]:
    request = AWSRequest(
        method, url, data=body, headers={"x-amz-content-sha256": hashlib.sha256(body).hexdigest()}
    )
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET), "s3", "us-east-1").add_auth(request)
    prepared = request.prepare()
    return prepared.url, dict(prepared.headers.items())


def test_virtual_hosted_addressing(tmp_path: Path) -> None:
    with run_gateway(tmp_path, gateway='domain = "s3.test"') as live:
        live.client().create_bucket(
            Bucket="vhost-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
        )
        port = urlsplit(live.endpoint).port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            for method, body in (("PUT", b"addressed by host"), ("GET", b"")):
                url, headers = _signed(method, f"http://vhost-bucket.s3.test:{port}/dir/key", body)
                headers["Host"] = f"vhost-bucket.s3.test:{port}"  # what DNS would have sent
                conn.request(method, urlsplit(url).path, body=body or None, headers=headers)
                response = conn.getresponse()
                data = response.read()
                assert response.status == 200, data
            assert data == b"addressed by host"
        finally:
            conn.close()
        assert live.engine.get("vhost-bucket", "dir/key").read() == b"addressed by host"


def test_health_metrics_and_request_ids(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="counted", Body=b"x" * 1000)
    answer = s3.get_object(Bucket=bucket, Key="counted")
    answer["Body"].read()
    rid = answer["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    assert (
        len(rid) == 16
        and rid != s3.head_object(Bucket=bucket, Key="counted")["ResponseMetadata"]["RequestId"]
    )
    parts = urlsplit(live.endpoint)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("GET", "/health")
        health = conn.getresponse()
        assert health.status == 200 and json.loads(health.read())["status"] == "ok"
        conn.request("GET", "/metrics")
        metrics = conn.getresponse()
        text = metrics.read().decode()
    finally:
        conn.close()
    assert metrics.status == 200
    assert 'domicile_s3_requests_total{operation="PutObject",status="200"}' in text
    assert 'domicile_s3_received_bytes_total{operation="PutObject"}' in text
    assert 'domicile_s3_request_seconds_bucket{le="0.1",operation="GetObject"}' in text
    assert "domicile_site_errors" in text


def test_shutdown_lets_an_upload_in_flight_finish(tmp_path: Path) -> None:
    with run_gateway(tmp_path) as live:
        live.client().create_bucket(
            Bucket="drain-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
        )
        port = urlsplit(live.endpoint).port
        body = os.urandom(4 * 1024 * 1024)
        url, headers = _signed("PUT", f"http://127.0.0.1:{port}/drain-bucket/slow", body)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.putrequest("PUT", urlsplit(url).path, skip_accept_encoding=True, skip_host=True)
        conn.putheader("Host", f"127.0.0.1:{port}")
        for name, value in headers.items():
            conn.putheader(name, value)
        conn.endheaders()
        conn.send(body[: len(body) // 2])
        until(lambda: live.gateway.in_flight == 1, "the upload is in flight")
        stopper = threading.Thread(target=live.background.stop)
        stopper.start()
        until(lambda: live.gateway.draining, "the gateway drains")
        probe = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:  # a load balancer's health check sees the drain and routes elsewhere
            probe.request("GET", "/health")
            assert json.loads(probe.getresponse().read())["status"] == "draining"
        finally:
            probe.close()
        with pytest.raises(ClientError) as refused:  # new requests get 503, SDKs retry
            live.client().head_bucket(Bucket="drain-bucket")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        conn.send(body[len(body) // 2 :])
        response = conn.getresponse()
        response.read()
        conn.close()
        stopper.join(30)
        assert response.status == 200
        assert live.engine.get("drain-bucket", "slow").read() == body
