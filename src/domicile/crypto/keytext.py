"""Recipients and identities from their text, whichever native type they are.

``age1...`` is X25519, ``age1pq1...`` the post-quantum hybrid, ``age1tag1...`` a P-256 key
held by hardware; ``AGE-SECRET-KEY-1...`` and ``AGE-SECRET-KEY-PQ-1...`` the identities of
the first two (a hardware key's identity stays in its token). The prefix decides, so an
error names the type the text claims to be.
"""

from __future__ import annotations

from domicile.crypto.hybrid import (
    IDENTITY_HRP,
    RECIPIENT_HRP,
    MLKEM768X25519Identity,
    MLKEM768X25519Recipient,
)
from domicile.crypto.p256tag import RECIPIENT_HRP as TAG_HRP
from domicile.crypto.p256tag import P256TagRecipient
from domicile.crypto.recipients import X25519Identity, X25519Recipient
from domicile.crypto.secret import Secret, as_secret

AnyRecipient = X25519Recipient | MLKEM768X25519Recipient | P256TagRecipient
AnyIdentity = X25519Identity | MLKEM768X25519Identity


def parse_recipient(text: str) -> AnyRecipient:
    """An ``age1...``, ``age1pq1...`` or ``age1tag1...`` recipient; :class:`MalformedKey`
    if none of them."""
    prefix = text.strip().lower()
    if prefix.startswith(RECIPIENT_HRP + "1"):
        return MLKEM768X25519Recipient.from_string(text)
    if prefix.startswith(TAG_HRP + "1"):
        return P256TagRecipient.from_string(text)
    return X25519Recipient.from_string(text)


def parse_identity(text: Secret | str) -> AnyIdentity:
    """An ``AGE-SECRET-KEY-1...`` or ``AGE-SECRET-KEY-PQ-1...`` identity (never echoed)."""
    secret = as_secret(text)
    if secret.reveal().strip().upper().startswith(IDENTITY_HRP + "1"):
        return MLKEM768X25519Identity.from_string(secret)
    return X25519Identity.from_string(secret)
