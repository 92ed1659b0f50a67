"""Opening a deployment whose keyring is missing or locked: clear errors, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

import domicile
from domicile.crypto import Keyring, Secret
from domicile.errors import ConfigError, KeyringNotFound, WrongPassphrase
from tests.engine.conftest import make_deployment


def test_missing_keyring(tmp_path: Path) -> None:
    path = make_deployment(tmp_path)
    (tmp_path / "keyring.txt").unlink()
    with pytest.raises(KeyringNotFound) as err:
        domicile.open(path)
    assert err.value.hint


def test_passphrase_protected_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = make_deployment(tmp_path)
    (tmp_path / "keyring.txt").unlink()
    Keyring.create(tmp_path / "keyring.txt", Secret("correct horse"), work_factor=10)
    with pytest.raises(WrongPassphrase):
        domicile.open(path, passphrase="wrong")
    monkeypatch.setenv("DOMICILE_PASSPHRASE", "correct horse")
    with domicile.open(path) as engine:
        engine.put("docs", "k", b"locked keys, open data")
        assert engine.get("docs", "k").read() == b"locked keys, open data"
    text = (tmp_path / "keyring.txt").read_bytes()
    assert b"AGE-SECRET-KEY" not in text  # the whole file is age-scrypt encrypted


@pytest.mark.parametrize(
    ("bucket", "policy", "message"),
    [("x", "eu-only", "invalid bucket name"), ("good-name", "nope", "policy 'nope'")],
)
def test_bad_configured_bucket_names_the_key(
    tmp_path: Path, bucket: str, policy: str, message: str
) -> None:
    path = make_deployment(tmp_path)
    path.write_text(path.read_text() + f'\n[buckets.{bucket}]\npolicy = "{policy}"\n')
    with pytest.raises(ConfigError) as err:
        domicile.open(path)
    assert err.value.context["key"] == f"buckets.{bucket}"
    assert message in err.value.message
