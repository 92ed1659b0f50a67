"""Stock age (Debian's 1.1) decrypts domicile's p256tag blobs with the PKCS#11 token through
``age-plugin-pkcs11``: the customer's path to the data without domicile in token custody."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from domicile.cli.ageplugin import identity_of, run
from domicile.crypto import Secret, X25519Identity, encrypt_bytes, parse_header
from domicile.crypto.encoding import b64encode_raw
from domicile.crypto.token import TokenKeyring, TokenURI
from tests.cli.conftest import Run
from tests.softhsm import SoftHSM, softhsm  # noqa: F401 -- the fixture

pytestmark = [pytest.mark.softhsm, pytest.mark.age_cli]


def _plugin_on_path(folder: Path) -> dict[str, str]:
    """``age-plugin-pkcs11`` in ``folder`` (this interpreter, these sources); the env to run
    age with it on the PATH."""
    folder.mkdir()
    plugin = folder / "age-plugin-pkcs11"
    plugin.write_text(f'#!/bin/sh\nexec {sys.executable} -m domicile.cli.ageplugin "$@"\n')
    plugin.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}"}


def _age_decrypt(
    env: dict[str, str], identity: Path, blob: Path
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["age", "-d", "-i", str(identity), str(blob)], env=env, capture_output=True, check=False
    )


def test_stock_age_decrypts_with_the_token(tmp_path: Path, softhsm: SoftHSM) -> None:  # noqa: F811
    ring = TokenKeyring(TokenURI.parse(softhsm.uri("plugin-root")), Secret(softhsm.pin))
    ring.add_new()
    plain = os.urandom(200_000)
    other = X25519Identity.generate()
    blob = tmp_path / "blob.age"
    blob.write_bytes(encrypt_bytes(plain, [other.recipient, *ring.recipients]))
    identity = tmp_path / "identity.txt"
    identity.write_text(identity_of(softhsm.uri("plugin-root", with_pin=True)) + "\n")
    assert softhsm.pin not in identity.read_text()  # the identity names the token, no PIN
    env = _plugin_on_path(tmp_path / "bin")
    env["DOMICILE_PKCS11_PIN"] = softhsm.pin
    done = _age_decrypt(env, identity, blob)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == plain
    env["DOMICILE_PKCS11_PIN"] = "000000"
    refused = _age_decrypt(env, identity, blob)
    assert refused.returncode != 0 and refused.stdout == b""
    ring.close()


def test_a_blob_for_another_key_is_no_match(tmp_path: Path, softhsm: SoftHSM) -> None:  # noqa: F811
    ring = TokenKeyring(TokenURI.parse(softhsm.uri("plugin-other")), Secret(softhsm.pin))
    ring.add_new()
    blob = tmp_path / "blob.age"
    blob.write_bytes(encrypt_bytes(b"not for that key", [X25519Identity.generate().recipient]))
    identity = tmp_path / "identity.txt"
    identity.write_text(identity_of(softhsm.uri("plugin-other")) + "\n")
    env = _plugin_on_path(tmp_path / "bin")
    env["DOMICILE_PKCS11_PIN"] = softhsm.pin
    done = _age_decrypt(env, identity, blob)
    assert done.returncode != 0 and b"no identity matched" in done.stderr
    ring.close()


def test_keys_age_identity(tmp_path: Path, run: Run, softhsm: SoftHSM) -> None:  # noqa: F811
    config = tmp_path / "dep" / "domicile.toml"
    assert run("--config", str(config), "init").code == 0
    assert run("--config", str(config), "keys", "age-identity").code != 0  # a file keyring
    uri = softhsm.uri("cli-root", with_pin=True)
    text = config.read_text().replace('keyring = "keyring.txt"', f'keyring = "{uri}"')
    assert uri in text
    config.write_text(text)
    made = run("--config", str(config), "--json", "keys", "new")
    assert made.code == 0, made.err
    listed = run("--config", str(config), "keys", "list").out
    assert "P-256 (token)" in listed and made.json()["recipient"] in listed
    shown = run("--config", str(config), "--json", "keys", "age-identity").json()
    assert shown["identity"] == identity_of(uri)
    assert shown["recipients"] == [made.json()["recipient"]]


def test_age_asks_for_the_pin_when_none_is_set(
    tmp_path: Path,
    softhsm: SoftHSM,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without DOMICILE_PKCS11_PIN the plugin sends request-secret: age prompts on the
    terminal, and the PIN typed there opens the token."""
    ring = TokenKeyring(TokenURI.parse(softhsm.uri("plugin-prompt")), Secret(softhsm.pin))
    ring.add_new()
    blob = tmp_path / "blob.age"
    blob.write_bytes(encrypt_bytes(b"typed PIN", ring.recipients))
    identity = tmp_path / "identity.txt"
    identity.write_text(identity_of(softhsm.uri("plugin-prompt")) + "\n")
    env = _plugin_on_path(tmp_path / "bin")
    env.pop("DOMICILE_PKCS11_PIN", None)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DOMICILE_PKCS11_PIN", raising=False)
    out = tmp_path / "out"
    seen = _age_on_a_terminal(["-d", "-i", str(identity), "-o", str(out), str(blob)], softhsm.pin)
    assert out.read_bytes() == b"typed PIN", seen
    assert b"PIN of the PKCS#11 token" in seen
    ring.close()


def _age_on_a_terminal(args: list[str], pin: str, timeout: float = 60) -> bytes:
    """Run age on a pseudo-terminal, typing ``pin`` at each prompt that asks for a PIN."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.execvp("age", ["age", *args])
    seen, answered = b"", 0
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([fd], [], [], 0.5)[0]:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            seen += data
            while answered < seen.count(b"PIN"):
                os.write(fd, pin.encode() + b"\n")
                answered += 1
        else:
            os.kill(pid, 9)
    finally:
        os.waitpid(pid, 0)
        os.close(fd)
    return seen


def _protocol(inp: str) -> list[str]:
    """The plugin's answers (command lines) to the client's phase-1 text ``inp``; every
    bi-directional request is answered ``ok``."""
    answers = io.StringIO("".join("-> ok\n\n" for _ in range(20)))
    requests = io.StringIO(inp)

    class Both(io.StringIO):
        def readline(self, *_: object) -> str:  # type: ignore[override]
            line = requests.readline()
            return line if line else answers.readline()

    out = io.StringIO()
    run(Both(), out)
    return [line for line in out.getvalue().splitlines() if line.startswith("-> ")]


def test_protocol_refuses_a_bad_identity_and_a_malformed_stanza(
    softhsm: SoftHSM,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ring = TokenKeyring(TokenURI.parse(softhsm.uri("plugin-proto")), Secret(softhsm.pin))
    ring.add_new()
    monkeypatch.setenv("DOMICILE_PKCS11_PIN", softhsm.pin)
    header = parse_header(encrypt_bytes(b"x", ring.recipients))
    assert header is not None
    (stanza,) = header.stanzas
    good = f"-> recipient-stanza 0 p256tag {' '.join(stanza.args)}\n{b64encode_raw(stanza.body)}\n"
    bad = f"-> recipient-stanza 1 p256tag {stanza.args[0]}\n{b64encode_raw(stanza.body)}\n"
    ident = f"-> add-identity {identity_of(softhsm.uri('plugin-proto'))}\n\n"
    answers = _protocol(ident + good + bad + "-> done\n\n")
    assert answers == ["-> file-key 0", "-> error stanza 1 0", "-> done"]
    wrong = "-> add-identity AGE-PLUGIN-OTHER-1QQQQQQQQQQ\n\n"
    answers = _protocol(wrong + ident + good + "-> done\n\n")
    assert answers[0].startswith("-> error identity 0") and "-> file-key 0" not in answers
    ring.close()
