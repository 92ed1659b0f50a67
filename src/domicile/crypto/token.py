"""Root identities in a PKCS#11 token: ``keyring = "pkcs11:..."`` (RFC 7512 URI).

Each root identity is a P-256 key pair generated in the token (private key ``SENSITIVE``,
not ``EXTRACTABLE``, ``DERIVE``); its recipient is the age spec's ``p256tag`` type
(``age1tag1...``, :mod:`domicile.crypto.p256tag`). Wrapping needs only the public key; an
unwrap asks the token for one ``CKM_ECDH1_DERIVE`` (``CKD_NULL``) on the stanza's ephemeral
point and finishes HPKE in software, so the private key never enters this process. The DH
outputs are cached in memory for a bounded time (``cache_seconds``, at most ``cache_size``
entries), so reading the same blob header again costs no token call.

Why P-256 and not X25519: ``ECDH1_DERIVE`` on P-256 is what every PKCS#11 token offers;
X25519 (``CKK_EC_MONTGOMERY``) is rare, and SoftHSM2 2.6 only does it through a
non-standard key type (see docs/age-format.md).

URI: ``pkcs11:token=LABEL[;object=LABEL][;id=%01%02][;serial=S]?module-path=/path/lib.so
[&pin-value=PIN | &pin-source=file:/path]``; without a PIN in the URI the caller passes one
(``DOMICILE_PKCS11_PIN``). Only the root keys matching ``object``/``id`` are used.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import pkcs11
from pkcs11.util.ec import encode_named_curve_parameters

from domicile.crypto.keysource import PIN_ENV, SCHEME
from domicile.crypto.p256tag import P256TagIdentity, P256TagRecipient
from domicile.crypto.secret import Secret
from domicile.errors import KeyringError, KeyringNotFound, WrongPassphrase

__all__ = ["PIN_ENV", "SCHEME", "TokenKeyring", "TokenURI"]

#: PKCS#11 logs a whole process in, not a session: the PIN that did it, per token, keyed
#: with a per-process secret, so a later keyring of this process with another PIN is
#: refused instead of riding on the earlier login.
_LOGINS: dict[tuple[str, str | None, str | None], bytes] = {}
_LOGIN_KEY = os.urandom(32)
DEFAULT_LABEL = "domicile-root"
_PATH_ATTRS = {"token", "object", "id", "serial", "type", "manufacturer", "model"}
_QUERY_ATTRS = {"module-path", "pin-value", "pin-source"}
_HINT = (
    'write keyring = "pkcs11:token=LABEL;object=LABEL?module-path=/path/to/module.so" '
    "(RFC 7512), and give the PIN in DOMICILE_PKCS11_PIN or pin-source=file:/path"
)


@dataclass(frozen=True, slots=True)
class TokenURI:
    """The parts of an RFC 7512 ``pkcs11:`` URI that domicile uses."""

    module_path: str
    token: str | None = None
    serial: str | None = None
    object: str | None = None
    id: bytes | None = None
    pin: Secret | None = None

    @classmethod
    def parse(cls, text: str) -> TokenURI:
        """Parse ``pkcs11:...``; :class:`KeyringError` naming what is wrong (never the PIN)."""
        if not text.startswith(SCHEME):
            raise KeyringError("not a pkcs11: URI", hint=_HINT)
        path, _, query = text[len(SCHEME) :].partition("?")
        attrs: dict[str, bytes] = {}
        for part, allowed, sep in ((path, _PATH_ATTRS, ";"), (query, _QUERY_ATTRS, "&")):
            for item in filter(None, part.split(sep)):
                name, eq, value = item.partition("=")
                if not eq or name not in allowed:
                    raise KeyringError(f"pkcs11 URI: unsupported attribute {name!r}", hint=_HINT)
                attrs[name] = unquote_to_bytes(value)
        if "module-path" not in attrs:
            raise KeyringError("pkcs11 URI: module-path is missing", hint=_HINT)
        if attrs.get("type", b"private") != b"private":
            raise KeyringError("pkcs11 URI: type must be private (the root keys)", hint=_HINT)
        pin: Secret | None = None
        if "pin-value" in attrs:
            pin = Secret(attrs["pin-value"].decode("utf-8"))
        elif "pin-source" in attrs:
            pin = _read_pin(attrs["pin-source"].decode("utf-8").removeprefix("file:"))

        def text_of(name: str) -> str | None:
            return attrs[name].decode("utf-8") if name in attrs else None

        return cls(
            module_path=attrs["module-path"].decode("utf-8"),
            token=text_of("token"),
            serial=text_of("serial"),
            object=text_of("object"),
            id=attrs.get("id"),
            pin=pin,
        )


def _read_pin(path: str) -> Secret:
    try:
        return Secret(Path(path).read_text("utf-8").strip())
    except OSError as exc:
        raise KeyringError(
            f"cannot read the token PIN from {path}: {exc.strerror}",
            hint="pin-source names a file holding the user PIN (mode 0600)",
        ) from None


def _point_of(ec_point: bytes) -> bytes:
    """The SEC 1 point inside ``CKA_EC_POINT`` (a DER OCTET STRING, or raw on some tokens)."""
    if len(ec_point) >= 2 and ec_point[0] == 0x04 and ec_point[1] == len(ec_point) - 2:
        return ec_point[2:]
    return ec_point


class TokenKeyring:
    """The root identities of a PKCS#11 token, with the interface of a file keyring."""

    def __init__(
        self,
        uri: TokenURI,
        pin: Secret | None = None,
        *,
        cache_seconds: float = 300.0,
        cache_size: int = 4096,
    ) -> None:
        self.uri = uri
        self.path = Path(uri.module_path)
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self.token_calls = 0
        self._lock = threading.Lock()
        self._cache: OrderedDict[bytes, tuple[float, bytes]] = OrderedDict()
        secret = uri.pin or pin
        if secret is None:
            raise KeyringError("the token keyring needs a PIN and none was given", hint=_HINT)
        try:
            lib = pkcs11.lib(uri.module_path)
        except RuntimeError as exc:
            raise KeyringNotFound(
                f"cannot load the PKCS#11 module {uri.module_path}: {exc}", hint=_HINT
            ) from None
        try:
            token = lib.get_token(token_label=uri.token, token_serial=_serial(uri.serial))
        except (pkcs11.NoSuchToken, pkcs11.MultipleTokensReturned) as exc:
            raise KeyringNotFound(
                f"no single PKCS#11 token labelled {uri.token!r}: {type(exc).__name__}",
                hint="check token= (and serial=) in the URI; softhsm2-util --show-slots "
                "lists the tokens",
            ) from None
        login = (uri.module_path, uri.token, uri.serial)
        pin_mac = hmac.new(_LOGIN_KEY, secret.reveal().encode("utf-8"), "sha256").digest()
        try:
            self._session = token.open(rw=True, user_pin=secret.reveal())
            _LOGINS[login] = pin_mac
        except pkcs11.UserAlreadyLoggedIn:
            # another keyring of this process holds the login: share it, with the same PIN
            known = _LOGINS.get(login)
            if known is not None and not hmac.compare_digest(known, pin_mac):
                raise WrongPassphrase(
                    f"the PIN does not open the PKCS#11 token {uri.token!r}",
                    hint="check DOMICILE_PKCS11_PIN (or the URI's pin-source)",
                ) from None
            self._session = token.open(rw=True)
        except pkcs11.PinIncorrect:
            raise WrongPassphrase(
                f"the PIN does not open the PKCS#11 token {uri.token!r}",
                hint="check DOMICILE_PKCS11_PIN (or the URI's pin-source)",
            ) from None
        except pkcs11.PKCS11Error as exc:
            raise KeyringError(
                f"cannot open the PKCS#11 token {uri.token!r}: {type(exc).__name__}", hint=_HINT
            ) from None
        self._identities = [self._identity(priv) for priv in self._private_keys()]

    # --- the keyring interface ----------------------------------------------------------

    @property
    def identities(self) -> tuple[P256TagIdentity, ...]:
        """Every root identity of the token, in the order the token lists them."""
        return tuple(self._identities)

    @property
    def recipients(self) -> tuple[P256TagRecipient, ...]:
        """The ``age1tag1...`` recipient of each root identity."""
        return tuple(i.recipient for i in self._identities)

    def recipients_of(self, *, post_quantum: bool) -> tuple[P256TagRecipient, ...]:
        """The token's recipients are classic (P-256): none is post-quantum."""
        return () if post_quantum else self.recipients

    @property
    def protected(self) -> bool:
        """Always: the PIN guards the token."""
        return True

    def add_new(self, *, post_quantum: bool = False) -> P256TagIdentity:
        """Generate a fresh root key pair in the token; its private key never leaves it."""
        if post_quantum:
            raise KeyringError(
                "a PKCS#11 token cannot hold a post-quantum (mlkem768x25519) identity",
                hint="post-quantum identities need a file keyring until tokens offer ML-KEM",
            )
        attribute = pkcs11.Attribute
        label = self.uri.object or DEFAULT_LABEL
        key_id = self.uri.id or str(time.time_ns()).encode("ascii")
        with self._lock:
            params = self._session.create_domain_parameters(
                pkcs11.KeyType.EC,
                {attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")},
                local=True,
            )
            _, private = params.generate_keypair(
                store=True,
                label=label,
                id=key_id,
                private_template={
                    attribute.SENSITIVE: True,
                    attribute.EXTRACTABLE: False,
                    attribute.DERIVE: True,
                },
            )
        identity = self._identity(private)
        self._identities.append(identity)
        return identity

    def forget(self) -> None:
        """Drop every cached DH output (the next unwrap of each header asks the token)."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        """End the token session (and forget the cache)."""
        self.forget()
        self._session.close()

    def __enter__(self) -> TokenKeyring:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- token calls ----------------------------------------------------------------------

    def _private_keys(self) -> list[Any]:
        template: dict[Any, Any] = {
            pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
            pkcs11.Attribute.KEY_TYPE: pkcs11.KeyType.EC,
            # P-256 only: a token's other EC keys (P-384, ...) are not root keys
            pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1"),
        }
        if self.uri.object is not None:
            template[pkcs11.Attribute.LABEL] = self.uri.object
        if self.uri.id is not None:
            template[pkcs11.Attribute.ID] = self.uri.id
        with self._lock:
            return list(self._session.get_objects(template))

    def _identity(self, private: Any) -> P256TagIdentity:
        attribute = pkcs11.Attribute
        with self._lock:
            public = next(
                iter(
                    self._session.get_objects(
                        {
                            attribute.CLASS: pkcs11.ObjectClass.PUBLIC_KEY,
                            attribute.ID: private[attribute.ID],
                        }
                    )
                ),
                None,
            )
            if public is None:
                raise KeyringError(
                    f"the token holds no public key for the root key {private.label!r}",
                    hint="keep the public key object (same CKA_ID) beside each root key",
                )
            point = _point_of(public[attribute.EC_POINT])
        recipient = P256TagRecipient(point)
        return P256TagIdentity(recipient, lambda enc: self._derive(private, enc))

    def _derive(self, private: Any, enc: bytes) -> bytes:
        """ECDH in the token on the ephemeral point ``enc``; cached for a bounded time."""
        now = time.monotonic()
        key = private.id + enc
        with self._lock:
            while self._cache and next(iter(self._cache.values()))[0] <= now:
                self._cache.popitem(last=False)  # insertion order is expiry order
            hit = self._cache.get(key)
            if hit is not None:
                return hit[1]
            attribute = pkcs11.Attribute
            try:
                secret = private.derive_key(
                    pkcs11.KeyType.GENERIC_SECRET,
                    256,
                    mechanism_param=(pkcs11.KDF.NULL, None, enc),
                    template={
                        attribute.SENSITIVE: False,
                        attribute.EXTRACTABLE: True,
                        attribute.TOKEN: False,
                    },
                )
            except pkcs11.PKCS11Error as exc:
                raise ValueError(f"the token refused the point: {type(exc).__name__}") from None
            try:
                value = bytes(secret[attribute.VALUE])
            finally:
                secret.destroy()
            self.token_calls += 1
            self._cache[key] = (now + self.cache_seconds, value)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return value

    def __repr__(self) -> str:
        return f"TokenKeyring(token={self.uri.token!r}, identities={len(self._identities)})"


def _serial(serial: str | None) -> bytes | None:
    return serial.encode("ascii") if serial is not None else None
