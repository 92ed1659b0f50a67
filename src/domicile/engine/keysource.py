"""The deployment's keyring, as its configuration names it: a file, or a PKCS#11 token
(``keyring = "pkcs11:..."``, PIN from ``DOMICILE_PKCS11_PIN`` unless the URI gives one)."""

from __future__ import annotations

import os
from pathlib import Path

from domicile.config import Config
from domicile.crypto import Keyring, Secret
from domicile.crypto.keysource import PIN_ENV, SCHEME, KeySource


def is_token(config: Config) -> bool:
    """Whether the configuration puts the root identities in a PKCS#11 token."""
    return config.deployment.keyring.startswith(SCHEME)


def open_keyring(config: Config, passphrase: Secret | None = None) -> KeySource:
    """The keyring of ``config``: the token's root keys, or the identity file (``passphrase``
    unlocks a protected one)."""
    if is_token(config):
        return open_keyring_at(config.deployment.keyring)
    return Keyring.load(config.keyring_path, passphrase)


def open_keyring_at(where: str | Path, passphrase: Secret | None = None) -> KeySource:
    """A keyring named on the command line: a ``pkcs11:`` URI (PIN from
    ``DOMICILE_PKCS11_PIN`` unless the URI gives one) or an identity file's path."""
    if str(where).startswith(SCHEME):
        # python-pkcs11 is an optional dependency (the pkcs11 extra): loaded only here
        from domicile.crypto.token import TokenKeyring, TokenURI  # noqa: PLC0415

        pin = os.environ.get(PIN_ENV)
        return TokenKeyring(TokenURI.parse(str(where)), Secret(pin) if pin else None)
    return Keyring.load(Path(where), passphrase)
