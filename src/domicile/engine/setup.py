"""Create a new deployment: a commented configuration, site folders and a keyring."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from domicile.config import load_config
from domicile.crypto import Keyring, Secret
from domicile.errors import ConfigError
from domicile.sites import open_site

CONFIG_NAME = "domicile.toml"


def example_config() -> str:
    """The commented example configuration that ``domicile init`` writes."""
    return resources.files("domicile.engine").joinpath("example.toml").read_text("utf-8")


def init_deployment(config_path: Path, *, passphrase: Secret | None = None) -> Path:
    """Write a working deployment at ``config_path``; refuse to overwrite an existing one.

    Creates the configuration file, the folders of its local sites and a keyring with
    one fresh identity (passphrase-protected if ``passphrase`` is given). Returns the path.
    """
    config_path = config_path.absolute()
    if config_path.exists():
        raise ConfigError(
            f"{config_path} exists already",
            hint="use it as it is, or choose another --config path",
            file=str(config_path),
        )
    config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    config_path.write_text(example_config(), encoding="utf-8")
    config = load_config(config_path)
    for site_id, site in config.sites.items():
        open_site(site_id, site.get("backend", {}), base_dir=config.base_dir, create=True).close()
    if not config.keyring_path.exists():
        Keyring.create(config.keyring_path, passphrase)
    return config_path
