"""What the engine needs of a keyring, whether a file (:class:`~domicile.crypto.Keyring`)
or a PKCS#11 token (:class:`~domicile.crypto.token.TokenKeyring`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from domicile.crypto.keytext import AnyRecipient
from domicile.crypto.recipients import Identity

#: A keyring setting starting so is an RFC 7512 URI of a PKCS#11 token.
SCHEME = "pkcs11:"
#: The environment variable holding the token's user PIN (unless the URI gives one).
PIN_ENV = "DOMICILE_PKCS11_PIN"


class HasRecipient(Protocol):
    """A new identity, known by its public recipient."""

    @property
    def recipient(self) -> AnyRecipient: ...


class KeySource(Protocol):
    """The deployment's own identities: they read every blob; new blobs go to their
    recipients of the policy's kind."""

    @property
    def identities(self) -> Sequence[Identity]: ...

    @property
    def recipients(self) -> Sequence[AnyRecipient]: ...

    def recipients_of(self, *, post_quantum: bool) -> Sequence[AnyRecipient]: ...

    def add_new(self, *, post_quantum: bool = False) -> HasRecipient: ...

    def close(self) -> None:
        """Release what the keyring holds open (a token session)."""
        ...
