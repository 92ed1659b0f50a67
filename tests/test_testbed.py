"""What ``make servers`` / ``make servers-stop`` print (testbed/servers.py's main), with a
stand-in server: a real process (Python's http.server) on a free port, so that start,
status and stop act on a live process without installing Swift or SeaweedFS."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from testbed import servers as tb


class EchoServer(tb.Server):
    name = "echo"
    package = "none"

    def installed(self) -> bool:
        return True

    def ports(self) -> list[int]:
        return [self.base_port]

    @property
    def credentials(self) -> tb.Credentials:
        return tb.Credentials(f"http://{tb.HOST}:{self.base_port}", "echokey", "echosecret")

    def _commands(self) -> dict[str, list[str]]:
        port = str(self.base_port)
        return {"web": [sys.executable, "-m", "http.server", "--bind", tb.HOST, port]}

    def _ready(self) -> bool:
        return tb._http_status(self.credentials.endpoint) is not None


@pytest.fixture
def echo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    port = next(p for p in range(23000, 23100) if tb._port_free(p))
    monkeypatch.setenv("DOMICILE_TESTBED", str(tmp_path))
    monkeypatch.setenv("DOMICILE_TESTBED_PORT", str(port))
    monkeypatch.setattr(tb, "SERVERS", {"echo": EchoServer})
    try:
        yield
    finally:
        EchoServer().stop()


def test_start_prints_endpoint_and_credentials_stop_says_what_it_stopped(
    echo: None, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = EchoServer().credentials.endpoint
    assert tb.main(["start"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("echo: started\n")
    for line in (
        f"  endpoint    {endpoint}",
        "  access key  echokey",
        "  secret key  echosecret",
        "  region      us-east-1",
        f"AWS_ACCESS_KEY_ID=echokey AWS_SECRET_ACCESS_KEY=echosecret .venv/bin/aws "
        f"--endpoint-url {endpoint} s3 ls",
    ):
        assert line in out

    assert tb.main(["start"]) == 0  # a second start reuses it and says so
    assert capsys.readouterr().out.startswith("echo: running\n")

    pid = EchoServer().pids()["web"]
    assert tb.main(["stop"]) == 0
    assert capsys.readouterr().out == f"echo: stopped web (pid {pid})\n"
    assert not tb._alive(pid)

    assert tb.main(["stop"]) == 0
    assert capsys.readouterr().out == "echo: was not running\n"
    assert tb.main(["status"]) == 0
    assert capsys.readouterr().out == f"echo: stopped (its endpoint would be {endpoint})\n"
