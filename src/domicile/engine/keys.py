"""The deployment's keyring, opened from its configuration file; new identities recorded.

Adding an identity is a key creation, so it goes through the engine: the new identity is
saved to the keyring and a ``key_created`` audit record names its recipient (the public
key; the identity itself never leaves the keyring file).
"""

from __future__ import annotations

import os
from pathlib import Path

from domicile.config import PASSPHRASE_ENV, load_config
from domicile.crypto import Keyring, Secret
from domicile.engine.api import Domicile
from domicile.engine.api import open as open_engine


def passphrase_from_env() -> Secret | None:
    """The keyring passphrase from ``$DOMICILE_PASSPHRASE``, if set."""
    value = os.environ.get(PASSPHRASE_ENV)
    return Secret(value) if value else None


def keyring_open(config_path: Path, passphrase: Secret | None = None) -> Keyring:
    """The keyring named by the configuration file at ``config_path``."""
    config = load_config(config_path)
    return Keyring.load(config.keyring_path, passphrase or passphrase_from_env())


def keyring_init(config_path: Path, passphrase: Secret | None = None) -> str:
    """Create the keyring the configuration file at ``config_path`` names (with one fresh
    identity, passphrase-protected if ``passphrase`` is given); never overwrites one.
    Returns its recipient (``age1...``)."""
    config = load_config(config_path)
    return str(Keyring.create(config.keyring_path, passphrase).recipients[0])


def add_identity(engine: Domicile) -> str:
    """Add a fresh identity to the engine's keyring (saved at once; new writes are also
    encrypted to it), record ``key_created``; return its recipient (``age1...``)."""
    recipient = str(engine.context.keyring.add_new().recipient)
    engine.record_event("key_created", detail={"recipient": recipient, "source": "keys_new"})
    return recipient


def keyring_add(config_path: Path, passphrase: Secret | None = None) -> str:
    """Open the deployment at ``config_path``, add a fresh identity to its keyring and
    record it (:func:`add_identity`); return its recipient (``age1...``)."""
    secret = passphrase or passphrase_from_env()
    with open_engine(config_path, passphrase=secret.reveal() if secret else None) as engine:
        return add_identity(engine)
