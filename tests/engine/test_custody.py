"""Root identities in a PKCS#11 token (SoftHSM2): a deployment with keyring = "pkcs11:...",
through the engine and the S3 gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import domicile
from domicile.audit.export import parse_lines
from domicile.cli.main import cli
from domicile.crypto import parse_header
from domicile.crypto.token import TokenKeyring
from domicile.engine.keys import add_identity
from domicile.errors import ConfigError
from tests.engine.conftest import blob_files, make_deployment
from tests.gateway.live import run_gateway
from tests.softhsm import SoftHSM, softhsm  # noqa: F401 -- the fixture

pytestmark = pytest.mark.softhsm


def _token_deployment(root: Path, hsm: SoftHSM, obj: str) -> Path:
    path = make_deployment(root)
    text = path.read_text().replace(
        "[deployment]\n", f'[deployment]\nkeyring = "{hsm.uri(obj, with_pin=True)}"\n', 1
    )
    path.write_text(text)
    (root / "keyring.txt").unlink()  # no file keyring: the token is the only one
    return path


def test_put_get_with_the_root_key_in_the_token(tmp_path: Path, softhsm: SoftHSM) -> None:  # noqa: F811
    path = _token_deployment(tmp_path, softhsm, "engine-root")
    with domicile.open(path) as engine:
        with pytest.raises(ConfigError, match="no classic identity"):
            engine.put("docs", "early.txt", b"no root key yet")
        recipient = add_identity(engine)
        assert recipient.startswith("age1tag1")
        (created,) = [r for r in engine.audit.records() if r.action == "key_created"]
        assert created.detail == {"recipient": recipient, "source": "keys_new", "kind": "p256tag"}
        engine.put("docs", "report.txt", b"custody" * 40_000)
        assert engine.get("docs", "report.txt").read() == b"custody" * 40_000
        engine.audit.checkpoint()
    stanzas = {
        s.type
        for site in ("fr", "de", "us")
        for blob in blob_files(tmp_path, site)
        for s in (parse_header(blob.read_bytes(), complete=False) or _none()).stanzas
    }
    assert stanzas == {"X25519"}  # the bucket's data identity...
    wrapped = {  # ...which is wrapped to the token's root key
        s.type
        for site in ("fr", "de", "us")
        for blob in (tmp_path / "sites" / site).rglob("bkey-*")
        for s in (parse_header(blob.read_bytes(), complete=False) or _none()).stanzas
    }
    assert wrapped == {"p256tag"}
    with domicile.open(path) as engine:  # a new session: nothing cached, the token unwraps
        keyring = engine.context.keyring
        assert isinstance(keyring, TokenKeyring)
        assert engine.get("docs", "report.txt").read() == b"custody" * 40_000
        calls = keyring.token_calls
        assert calls >= 1
        assert engine.get("docs", "report.txt").read() == b"custody" * 40_000
        assert keyring.token_calls == calls  # the header's DH is cached


def test_the_gateway_serves_a_token_deployment(tmp_path: Path, softhsm: SoftHSM) -> None:  # noqa: F811
    uri = softhsm.uri("gateway-root", with_pin=True)
    with run_gateway(tmp_path, deployment_extra=f'keyring = "{uri}"') as live:
        add_identity(live.engine)
        client = live.client()
        client.create_bucket(
            Bucket="held", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
        )
        client.put_object(Bucket="held", Key="k", Body=b"through the gateway")
        assert client.get_object(Bucket="held", Key="k")["Body"].read() == b"through the gateway"
        keyring = live.engine.context.keyring
        assert isinstance(keyring, TokenKeyring) and keyring.recipients
        live.close_clients()


def _none() -> object:
    raise AssertionError("a blob without a complete header")


def test_an_auditor_exports_the_history_with_the_token(
    tmp_path: Path,
    softhsm: SoftHSM,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The history segments on the sites go to the token's keys; the auditor's export from
    a copy of a site takes the token's URI as --keyring."""
    path = _token_deployment(tmp_path, softhsm, "history-root")
    with domicile.open(path) as engine:
        add_identity(engine)
    with domicile.open(path) as engine:  # reopened: the history now goes to the token key
        engine.put("docs", "a.txt", b"audited")
        engine.audit.checkpoint()
        records = [r.hash for r in engine.audit.records()]
    monkeypatch.setenv("DOMICILE_PKCS11_PIN", softhsm.pin)
    out = tmp_path / "audit.jsonl"
    done = CliRunner().invoke(
        cli,
        ["audit", "export", "--from-site", str(tmp_path / "sites" / "fr"),
         "--keyring", softhsm.uri("history-root"), "-o", str(out)],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    got, _ = parse_lines(out.read_text().splitlines())
    assert [r.hash for r in got][: len(records)] == records
