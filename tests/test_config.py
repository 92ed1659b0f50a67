"""The configuration file: precise errors naming the file, the key path and a hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from domicile.config import CONFIG_ENV, default_config_path, load_config
from domicile.errors import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "domicile.toml"
    path.write_text(text)
    return path


def test_defaults_and_relative_paths(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[deployment]\nname = 'x'\n"))
    assert config.deployment.segment_size_mib == 1024
    assert config.keyring_path == tmp_path / "keyring.txt"
    assert config.catalog_url == f"sqlite:///{tmp_path}/catalog.db"
    assert config.segment_size == 1024 * 1024 * 1024


def test_absolute_and_other_catalog_urls_are_kept(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[deployment]\ncatalog = 'sqlite:////var/c.db'\n"))
    assert config.catalog_url == "sqlite:////var/c.db"


def test_missing_file_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "absent.toml")
    assert "domicile init" in (err.value.hint or "")
    assert err.value.context["file"].endswith("absent.toml")


def test_syntax_error_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "[deployment\n"))
    assert "not valid TOML" in err.value.message
    assert "line 1" in err.value.message


@pytest.mark.parametrize(
    ("text", "key", "hint"),
    [
        ("[deployment]\nsegment_size_mb = 4\n", "deployment.segment_size_mb", "known keys"),
        ("[deployment]\nsegment_size_mib = 0\n", "deployment.segment_size_mib", "range"),
        ("[deployment]\nworkers = 'many'\n", "deployment.workers", "type"),
        ("[buckets.b]\ntenant = 'x'\n", "buckets.b.policy", "add this key"),
        ("[bukets.b]\npolicy = 'p'\n", "bukets", "known tables"),
        ("deployment = 3\n", "deployment", "key = value lines"),
    ],
)
def test_bad_values_name_the_key_path(tmp_path: Path, text: str, key: str, hint: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert err.value.context["key"] == key
    assert hint in (err.value.hint or "")
    assert str(tmp_path) in err.value.message


def test_invalid_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "domicile.toml"
    path.write_bytes(b"[deployment]\nname = '\xff'\n")
    with pytest.raises(ConfigError):
        load_config(path)


def test_environment_names_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, "/etc/domicile/prod.toml")
    assert default_config_path() == Path("/etc/domicile/prod.toml")
    monkeypatch.delenv(CONFIG_ENV)
    assert default_config_path() == Path("domicile-data/domicile.toml")


TENANT_KEY = "keys = [{ access_key = 'AKIDTENANT', secret = 's' }]\n"


def test_tenant_policies_default_to_all_and_must_exist(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "[policies.p]\n[tenants.t]\n" + TENANT_KEY))
    assert config.tenants["t"].policies is None and config.tenants["t"].may_use("anything")
    text = "[policies.p]\n[policies.q]\n[tenants.t]\npolicies = ['p']\n" + TENANT_KEY
    tenant = load_config(write(tmp_path, text)).tenants["t"]
    assert tenant.may_use("p") and not tenant.may_use("q")
    with pytest.raises(ConfigError) as err:
        load_config(
            write(tmp_path, "[policies.p]\n[tenants.t]\npolicies = ['nope']\n" + TENANT_KEY)
        )
    assert err.value.context["key"] == "tenants.t.policies" and "'nope'" in err.value.message


def test_a_configured_bucket_needs_a_policy_its_tenant_may_use(tmp_path: Path) -> None:
    text = (
        "[policies.p]\n[policies.q]\n[buckets.b]\npolicy = 'q'\ntenant = 't'\n"
        "[tenants.t]\npolicies = ['p']\n" + TENANT_KEY
    )
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert err.value.context["key"] == "buckets.b.policy"
