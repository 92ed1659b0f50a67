"""The exit with the root keys in a PKCS#11 token: the script, the stock age and
age-plugin-pkcs11 recover every object from a site copy, with no domicile imported."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import domicile
from domicile.cli.ageplugin import identity_of
from domicile.engine.keys import add_identity
from tests.engine.conftest import make_deployment
from tests.exit.deployment import read_index, run_exit
from tests.softhsm import SoftHSM, softhsm  # noqa: F401 -- the fixture

pytestmark = [pytest.mark.age_cli, pytest.mark.softhsm]


def test_the_exit_reads_a_token_deployment(
    tmp_path: Path,
    softhsm: SoftHSM,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    uri = softhsm.uri("exit-root", with_pin=True)
    path = make_deployment(tmp_path)
    path.write_text(
        path.read_text().replace("[deployment]\n", f'[deployment]\nkeyring = "{uri}"\n', 1)
    )
    bodies = {"small.txt": b"inline and small", "big.bin": os.urandom(2_500_000)}
    with domicile.open(path) as engine:
        add_identity(engine)
        for key, body in bodies.items():
            engine.put("docs", key, body)
    identity = tmp_path / "token-identity.txt"
    identity.write_text(identity_of(uri) + "\n")
    plugins = tmp_path / "bin"
    plugins.mkdir()
    plugin = plugins / "age-plugin-pkcs11"
    plugin.write_text(f'#!/bin/sh\nexec {sys.executable} -m domicile.cli.ageplugin "$@"\n')
    plugin.chmod(0o755)
    monkeypatch.setenv("PATH", f"{plugins}:{os.environ['PATH']}")
    monkeypatch.setenv("DOMICILE_PKCS11_PIN", softhsm.pin)
    out = tmp_path / "out"
    done = run_exit("--keyring", identity, "--out", out, tmp_path / "sites" / "fr")
    assert done.returncode == 0, done.stderr
    recovered = {e["key"]: e for e in read_index(out) if e["status"] == "recovered"}
    assert set(recovered) == set(bodies)
    for key, body in bodies.items():
        assert (out / recovered[key]["file"]).read_bytes() == body
