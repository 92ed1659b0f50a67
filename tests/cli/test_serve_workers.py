"""``domicile serve --workers N``: several processes on one address, one catalog, one audit
chain and one set of metrics; a worker that dies is replaced; a taken address or a bad TLS
file is a clear error in either mode."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

import domicile
from domicile.gateway.server import free_port
from tests.cli.conftest import BIN, serve_process, wait_for

#: Several gateway processes per test, each started and stopped: minutes when the machine
#: is busy, so make check leaves them to make test (test_serve.py serves in make check).
pytestmark = pytest.mark.slow

PUTS = 40  # over fresh connections: all on one worker has a chance of 2 in 2**40


@dataclass
class Served:
    process: subprocess.Popen[str]
    endpoint: str
    log: Path
    key: str
    secret: str

    def client(self) -> Any:
        """A boto3 client of its own (its own connection, so the kernel picks a worker)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.key,
            aws_secret_access_key=self.secret,
            region_name="eu-only",
            config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
        )

    def lines(self, message: str) -> list[dict[str, Any]]:
        """The JSON log lines written so far with this message."""
        found = []
        for line in self.log.read_text().splitlines():
            if line.startswith("{") and json.loads(line)["message"] == message:
                found.append(json.loads(line))
        return found

    def puts_counted(self) -> float:
        """PutObject 200s in one scrape of /metrics (whichever worker answers it)."""
        with urllib.request.urlopen(f"{self.endpoint}/metrics", timeout=10) as response:
            text = response.read().decode()
        found = re.search(
            r'^domicile_s3_requests_total\{operation="PutObject",status="200"\} (\S+)$',
            text,
            re.MULTILINE,
        )
        return float(found.group(1)) if found else 0.0

    def workers(self) -> list[int]:
        """The pids of the worker processes (the supervisor's spawned children); a child
        that ends between the listing and the look at its command line is left out."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        found = []
        for child in children:
            try:
                argv = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:  # it died meanwhile (these tests kill workers)
                continue
            if b"multiprocessing" in argv and b"resource_tracker" not in argv:
                found.append(int(child))
        return found


@pytest.fixture
def served(deployment: Path, tmp_path: Path) -> Iterator[Served]:
    key, secret = re.findall(r'access_key = "([^"]+)", secret = "([^"]+)"', deployment.read_text())[
        0
    ]
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as stderr:
        process = serve_process(deployment, port, "--workers", "2", stderr=stderr)
    try:
        banner = wait_for(process, r"Ctrl-C stops the gateway", timeout=90)
        assert "(2 worker processes)" in banner
        yield Served(process, f"http://127.0.0.1:{port}", log, key, secret)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=120)


def _until(condition: Any, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_two_workers_serve_one_deployment_count_together_and_keep_one_chain(
    served: Served, deployment: Path
) -> None:
    _until(lambda: len(served.lines("listening")) == 2, "both workers to listen")
    for i in range(PUTS):
        served.client().put_object(Bucket="reports", Key=f"k{i:02d}", Body=f"body {i}".encode())
    listed = served.client().list_objects_v2(Bucket="reports")
    assert [o["Key"] for o in listed["Contents"]] == [f"k{i:02d}" for i in range(PUTS)]
    for i in range(0, PUTS, 7):
        body = served.client().get_object(Bucket="reports", Key=f"k{i:02d}")["Body"]
        with body:
            assert body.read() == f"body {i}".encode()
    puts = [line for line in served.lines("request") if line["operation"] == "PutObject"]
    assert {line["worker"] for line in puts} == {0, 1}  # both served some
    assert [served.puts_counted() for _ in range(6)] == [PUTS] * 6  # summed, whoever answers
    served.process.send_signal(signal.SIGTERM)
    out, _ = served.process.communicate(timeout=120)
    assert served.process.returncode == 0
    assert "gateway stopped" in out
    assert len(served.lines("stopped")) == 2
    with domicile.open(deployment) as engine:
        assert engine.audit.verify().ok  # two writers, one unforked chain
        recorded = [r for r in engine.audit.records() if r.action == "put"]
    assert sorted(r.key or "" for r in recorded) == [f"k{i:02d}" for i in range(PUTS)]
    assert {r.actor for r in recorded} == {f"default:{served.key}"}  # tenant:access key


def test_a_worker_that_dies_is_replaced_and_its_counts_stay(served: Served) -> None:
    _until(lambda: len(served.workers()) == 2, "two workers")
    for i in range(10):
        served.client().put_object(Bucket="reports", Key=f"before/{i}", Body=b"x")
    victim = served.workers()[0]
    subprocess.run(["kill", "-KILL", str(victim)], check=True)
    _until(lambda: served.lines("a gateway worker died; starting another"), "the restart line")
    _until(lambda: len(served.lines("listening")) == 3, "the new worker to listen")
    now = served.workers()
    assert len(now) == 2 and victim not in now
    for i in range(10):
        served.client().put_object(Bucket="reports", Key=f"after/{i}", Body=b"y")
    assert served.puts_counted() == 20  # the dead worker's ten are still counted
    (died,) = served.lines("a gateway worker died; starting another")
    assert died["level"] == "error" and died["exit_status"] == -signal.SIGKILL
    served.process.send_signal(signal.SIGINT)  # Ctrl-C, as a terminal sends it to serve
    out, _ = served.process.communicate(timeout=120)
    assert served.process.returncode == 0 and "gateway stopped" in out
    assert len(served.lines("stopped")) == 2  # the survivor and the replacement


def _serve_once(deployment: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``domicile serve`` in a process of its own (it configures logging for the whole
    process), expected to end by itself."""
    return subprocess.run(
        [str(BIN / "domicile"), "--config", str(deployment), "serve", *options],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "300"},
    )


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_address_is_a_clear_error(deployment: Path, workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve_once(deployment, "--listen", f"127.0.0.1:{port}", "--workers", workers)
    assert result.returncode == 3
    assert f"127.0.0.1:{port} is in use: another server listens there" in result.stderr
    assert "[gateway] listen" in result.stderr  # the hint, brackets and all
    assert "Ctrl-C" not in result.stdout  # no banner for a gateway that never listened


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_missing_tls_file_is_a_clear_error(deployment: Path, workers: str) -> None:
    text = deployment.read_text().replace(
        "[gateway]\n", '[gateway]\ntls_cert = "gone.pem"\ntls_key = "gone.key"\n', 1
    )
    deployment.write_text(text)
    listen = f"127.0.0.1:{free_port()}"
    result = _serve_once(deployment, "--listen", listen, "--workers", workers)
    assert result.returncode == 3, result.stderr
    assert "cannot load the gateway's TLS certificate" in result.stderr
    assert "No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr
    if workers == "2":
        assert "gateway worker" in result.stderr  # which process said so


def test_a_worker_that_keeps_dying_stops_the_gateway(served: Served) -> None:
    _until(lambda: len(served.workers()) == 2, "two workers")
    killed: set[int] = set()
    for _ in range(3):  # each within 10 s of its worker's start
        _until(lambda: len(set(served.workers()) - killed) == 2, "a replacement")
        victim = sorted(set(served.workers()) - killed)[0]
        subprocess.run(["kill", "-KILL", str(victim)], check=True)
        killed.add(victim)
    out, _ = served.process.communicate(timeout=120)
    assert served.process.returncode == 1  # an error, not a clean stop
    assert "died 3 times in a row" in served.log.read_text()
    assert "gateway stopped" not in out
