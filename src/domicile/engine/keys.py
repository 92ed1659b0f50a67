"""The deployment's keyring, opened from its configuration file."""

from __future__ import annotations

import os
from pathlib import Path

from domicile.config import PASSPHRASE_ENV, load_config
from domicile.crypto import Keyring, Secret


def passphrase_from_env() -> Secret | None:
    """The keyring passphrase from ``$DOMICILE_PASSPHRASE``, if set."""
    value = os.environ.get(PASSPHRASE_ENV)
    return Secret(value) if value else None


def keyring_open(config_path: Path, passphrase: Secret | None = None) -> Keyring:
    """The keyring named by the configuration file at ``config_path``."""
    config = load_config(config_path)
    return Keyring.load(config.keyring_path, passphrase or passphrase_from_env())


def keyring_add(config_path: Path, passphrase: Secret | None = None) -> str:
    """Add a fresh identity to the deployment's keyring; return its recipient (``age1...``)."""
    keyring = keyring_open(config_path, passphrase)
    return str(keyring.add_new().recipient)
