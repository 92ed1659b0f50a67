"""Growing and shrinking a deployment from the CLI: ``sites add`` and ``sites remove``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.cli.conftest import Run


def test_a_new_eu_region_opens_one_command_plus_apply(deployment: Path, run: Run) -> None:
    """The seeds' scenario: the deployment is leaving Hetzner, but the EU policy needs two
    providers and only OVHcloud is left, so nothing can move; then AWS opens Frankfurt."""
    cfg = ("--config", str(deployment))
    for i in range(3):
        assert run(*cfg, "put", str(deployment), f"reports/k{i}").code == 0
    assert run(*cfg, "sites", "set-status", "hetzner-fsn", "draining").code == 0
    assert run(*cfg, "--json", "plan").lines()[-1]["blocked"] == 3
    before = deployment.read_text()

    added = run(
        *cfg, "sites", "add", "aws-fra", "--template", "aws:eu-central-1",
        "--backend", "local:sites/aws-fra",
    )  # fmt: skip
    assert added.code == 0, added.err
    folder = deployment.parent / "sites" / "aws-fra"
    said = " ".join(added.out.split())  # long lines wrap
    assert f"added site aws-fra to {deployment}: its folder {folder} is a site folder" in said
    row = next(line for line in added.out.splitlines() if "│ aws-fra " in line)
    assert "DE" in row and "aws-emea" in row and "active" in row and "ok" in row
    lines = added.out.splitlines()
    assert "  + 3 copies to add (" in added.out
    assert "  - 3 copies to remove (0 residency violations)" in lines
    assert any(line.split()[:4] == ["add", "ovh-gra", "->", "aws-fra"] for line in lines)
    assert lines[-1] == "run 'domicile apply' to carry it out"
    assert not any(line.startswith(("+ reports/", "- reports/")) for line in lines)  # no steps
    assert (folder / ".domicile-site").is_file()
    # The file kept every comment and gained exactly the new table.
    after = deployment.read_text()
    assert (
        after.replace(
            '[sites.aws-fra]\ntemplate = "aws:eu-central-1"\n'
            'backend = { type = "local", path = "sites/aws-fra" }\n\n',
            "",
        )
        == before
    )

    applied = run(*cfg, "apply", "--yes")
    assert applied.code == 0, applied.err
    assert run(*cfg, "--json", "plan").lines()[-1]["empty"] is True
    for i in range(3):
        holders = {c["site_id"] for c in run(*cfg, "--json", "where", f"reports/k{i}").json()}
        assert holders == {"ovh-gra", "aws-fra"}
    # Hetzner now holds nothing: it can go.
    removed = run(*cfg, "sites", "remove", "hetzner-fsn")
    assert removed.code == 0, removed.err
    assert "removed site hetzner-fsn" in removed.out and "left as it is" in removed.out
    assert "hetzner-fsn" not in tomllib.loads(deployment.read_text())["sites"]
    assert (deployment.parent / "sites" / "hetzner-fsn").is_dir()
    assert "hetzner-fsn" not in run(*cfg, "sites").out


def test_add_shows_an_empty_plan_and_json(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "put", str(deployment), "reports/a").code == 0
    added = run(
        *cfg, "--json", "sites", "add", "scw-ams", "--template", "scaleway:nl-ams",
        "--backend", f"local:{deployment.parent / 'elsewhere' / 'ams'}",
    )  # fmt: skip
    assert added.code == 0, added.err
    out = added.json()
    assert out["site"]["site_id"] == "scw-ams" and out["site"]["country"] == "NL"
    assert out["plan"]["empty"] is True
    assert "takes writes" in out["storage"]
    assert (deployment.parent / "elsewhere" / "ams" / ".domicile-site").is_file()


def test_add_refusals_leave_the_file_alone(
    deployment: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = ("--config", str(deployment))
    before = deployment.read_text()
    taken = run(
        *cfg, "sites", "add", "ovh-gra", "--template", "ovhcloud:gra", "--backend", "local:x"
    )
    assert taken.code == 3 and "already in the configuration" in taken.err
    typo = run(*cfg, "sites", "add", "x1", "--template", "aws:eu-centrl-1", "--backend", "local:x")
    assert typo.code == 3 and "unknown template 'aws:eu-centrl-1'" in typo.err
    assert "aws:eu-central-1" in typo.err  # did you mean
    bad_name = run(
        *cfg, "sites", "add", "../x", "--template", "ovhcloud:gra", "--backend", "local:x"
    )
    assert bad_name.code == 8
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "someone's file").write_text("keep me")
    occupied = run(
        *cfg, "sites", "add", "x2", "--template", "ovhcloud:sbg", "--backend", f"local:{busy}"
    )
    assert occupied.code == 3 and "is not empty and is not a site folder" in occupied.err
    no_endpoint = run(
        *cfg, "sites", "add", "x3", "--template", "ovhcloud:sbg", "--backend", "s3://bucket/p"
    )
    assert no_endpoint.code == 3 and "--endpoint" in no_endpoint.err
    unknown = run(*cfg, "sites", "add", "x4", "--template", "ovhcloud:sbg", "--backend", "ftp://h")
    assert unknown.code == 3 and "local:PATH" in unknown.err
    no_keys = run(
        *cfg, "sites", "add", "x5", "--template", "ovhcloud:sbg", "--backend", "s3://bucket",
        "--endpoint", "http://127.0.0.1:9", "--access-key-env", "NO_SUCH_AK",
        "--secret-key-env", "NO_SUCH_SK",
    )  # fmt: skip
    assert no_keys.code == 3 and "NO_SUCH_AK" in no_keys.err
    monkeypatch.setenv("NO_SUCH_AK", "ak")
    monkeypatch.setenv("NO_SUCH_SK", "sk")
    unreachable = run(
        *cfg, "sites", "add", "x5", "--template", "ovhcloud:sbg", "--backend", "s3://bucket",
        "--endpoint", "http://127.0.0.1:9", "--access-key-env", "NO_SUCH_AK",
        "--secret-key-env", "NO_SUCH_SK",
    )  # fmt: skip
    assert unreachable.code == 7, unreachable.err
    assert "the bucket bucket at http://127.0.0.1:9 does not take a write" in unreachable.err
    assert "the configuration was not changed" in unreachable.err
    assert deployment.read_text() == before


def test_remove_is_refused_while_the_site_holds_copies(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    assert run(*cfg, "put", str(deployment), "reports/a").code == 0
    before = deployment.read_text()
    refused = run(*cfg, "sites", "remove", "ovh-gra")
    assert refused.code == 9
    assert "site ovh-gra still holds 1 object copies" in refused.err
    assert "domicile sites set-status ovh-gra draining" in refused.err
    assert "domicile apply" in refused.err
    assert deployment.read_text() == before
    # A site the policy cannot do without is refused by the residency model.
    assert run(*cfg, "sites", "remove", "alibaba-sv").code == 0
    assert run(*cfg, "rm", "reports/a").code == 0
    needed = run(*cfg, "sites", "remove", "ovh-gra")
    assert needed.code == 3 and "can never be met" in needed.err
    missing = run(*cfg, "sites", "remove", "nowhere")
    assert missing.code == 3 and "the sites are" in missing.err


HAND_WRITTEN = """\
# Written by hand, not by 'domicile init'.
[deployment]
name = "by-hand"

[sites.scw-par]
template = "scaleway:fr-par"
backend = { type = "local", path = "sites/scw-par" }

[policies.fr]
allow = ["FR"]

[buckets.docs]
policy = "fr"
"""


def test_a_hand_written_configuration_gets_its_keyring_and_site_folders(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "domicile.toml"
    config.write_text(HAND_WRITTEN)
    cfg = ("--config", str(config))
    no_keyring = run(*cfg, "put", str(config), "docs/a")
    assert no_keyring.code == 6 and "domicile keys init" in no_keyring.err
    monkeypatch.setenv("DOMICILE_PASSPHRASE", "correct horse")
    made = run(*cfg, "keys", "init", "--passphrase")
    assert made.code == 0, made.err
    recipient = made.out.split("its recipient is ")[1].split()[0]
    assert recipient.startswith("age1")
    keyring = tmp_path / "keyring.txt"
    assert keyring.stat().st_mode & 0o777 == 0o600
    assert b"AGE-SECRET-KEY" not in keyring.read_bytes()  # passphrase-protected
    again = run(*cfg, "keys", "init")
    assert again.code == 6 and "already exists" in again.err
    assert run(*cfg, "keys", "recipient").out.strip() == recipient
    # The site folder was never created: the error says which command does it.
    unready = run(*cfg, "sites")
    assert "domicile sites init scw-par" in " ".join(unready.out.replace("│", " ").split())
    ready = run(*cfg, "sites", "init", "scw-par")
    assert ready.code == 0, ready.err
    assert "is a site folder and takes writes" in " ".join(ready.out.split())
    assert run(*cfg, "put", str(config), "docs/a").code == 0
    for private in ("keyring.txt", "catalog.db", "audit-key.pem"):
        assert (tmp_path / private).stat().st_mode & 0o777 == 0o600, private
    assert run(*cfg, "sites", "init", "nowhere").code == 3
    assert config.read_text() == HAND_WRITTEN


def test_keys_init_leaves_a_token_keyring_to_the_token(tmp_path: Path, run: Run) -> None:
    config = tmp_path / "domicile.toml"
    config.write_text(
        HAND_WRITTEN.replace('name = "by-hand"', 'name = "by-hand"\nkeyring = "pkcs11:token=t"')
    )
    refused = run("--config", str(config), "keys", "init")
    assert refused.code == 3 and "the keyring is a PKCS#11 token" in refused.err
    assert list(tmp_path.iterdir()) == [config]
