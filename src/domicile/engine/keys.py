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
from domicile.crypto.keysource import KeySource
from domicile.engine.api import Domicile
from domicile.engine.api import open as open_engine
from domicile.engine.keysource import is_token, open_keyring
from domicile.errors import ConfigError


def passphrase_from_env() -> Secret | None:
    """The keyring passphrase from ``$DOMICILE_PASSPHRASE``, if set."""
    value = os.environ.get(PASSPHRASE_ENV)
    return Secret(value) if value else None


def keyring_open(config_path: Path, passphrase: Secret | None = None) -> KeySource:
    """The keyring named by the configuration file at ``config_path`` (a file or a token)."""
    config = load_config(config_path)
    return open_keyring(config, passphrase or passphrase_from_env())


def keyring_init(config_path: Path, passphrase: Secret | None = None) -> str:
    """Create the keyring the configuration file at ``config_path`` names (with one fresh
    identity, passphrase-protected if ``passphrase`` is given); never overwrites one.
    Returns its recipient (``age1...``)."""
    config = load_config(config_path)
    if is_token(config):
        raise ConfigError(
            f"{config.path}: the keyring is a PKCS#11 token ({config.deployment.keyring})",
            hint="a token's keys are made with the token's own tools; 'domicile keys init' "
            "creates a keyring file",
            file=str(config.path),
            key="deployment.keyring",
        )
    return str(Keyring.create(config.keyring_path, passphrase).recipients[0])


def add_identity(engine: Domicile, *, post_quantum: bool = False) -> str:
    """Add a fresh identity to the engine's keyring (saved at once; new writes of its kind
    are also encrypted to it: post-quantum ones under ``pq`` policies, classic ones under
    the others), record ``key_created``; return its recipient (``age1...``/``age1pq1...``)."""
    recipient = str(engine.context.keyring.add_new(post_quantum=post_quantum).recipient)
    detail = {"recipient": recipient, "source": "keys_new"}
    if post_quantum:
        detail["kind"] = "mlkem768x25519"
    elif recipient.startswith("age1tag1"):
        detail["kind"] = "p256tag"  # a root key generated in the PKCS#11 token
    engine.record_event("key_created", detail=detail)
    return recipient


def keyring_add(
    config_path: Path, passphrase: Secret | None = None, *, post_quantum: bool = False
) -> str:
    """Open the deployment at ``config_path``, add a fresh identity to its keyring and
    record it (:func:`add_identity`); return its recipient."""
    secret = passphrase or passphrase_from_env()
    with open_engine(config_path, passphrase=secret.reveal() if secret else None) as engine:
        return add_identity(engine, post_quantum=post_quantum)
