"""Create a new deployment: a commented configuration, site folders and a keyring."""

from __future__ import annotations

import secrets
import string
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


def new_access_key() -> tuple[str, str]:
    """A fresh S3 access key id (20 characters, ``DMCL...``) and its 40-character secret."""
    alphabet = string.ascii_uppercase + string.digits
    key = "DMCL" + "".join(secrets.choice(alphabet) for _ in range(16))
    return key, secrets.token_urlsafe(30)


def init_deployment(config_path: Path, *, passphrase: Secret | None = None) -> Path:
    """Write a working deployment at ``config_path``; refuse to overwrite an existing one.

    Creates the configuration file (mode 0600: it holds the gateway's generated access
    key), the folders of its local sites and a keyring with one fresh identity
    (passphrase-protected if ``passphrase`` is given). Returns the path.
    """
    config_path = config_path.absolute()
    if config_path.exists():
        raise ConfigError(
            f"{config_path} exists already",
            hint="use it as it is, or choose another --config path",
            file=str(config_path),
        )
    config_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    access_key, secret = new_access_key()
    text = example_config().replace("@ACCESS_KEY@", access_key).replace("@SECRET@", secret)
    config_path.touch(mode=0o600)
    config_path.write_text(text, encoding="utf-8")
    config = load_config(config_path)
    for site_id, site in config.sites.items():
        open_site(site_id, site.get("backend", {}), base_dir=config.base_dir, create=True).close()
    if not config.keyring_path.exists():
        Keyring.create(config.keyring_path, passphrase)
    return config_path
