"""The age spec's tagged recipient type for hardware keys: ``p256tag``.

- Recipient: a P-256 public key, 33-byte compressed SEC 1 point, Bech32 ``age1tag1...``.
- Stanza: ``-> p256tag <base64 tag, 4 bytes> <base64 enc, 65 bytes>``; the body is the file
  key sealed by HPKE base mode (RFC 9180) with DHKEM(P-256, HKDF-SHA256), HKDF-SHA256,
  ChaCha20-Poly1305, ``info = "age-encryption.org/p256tag"``, empty aad, to the
  uncompressed recipient point; ``enc`` is HPKE's uncompressed ephemeral point.
- ``tag = HKDF-Extract(salt = info, ikm = enc ‖ SHA-256(recipient)[:4])[:4]``: an identity
  recognises its stanzas before any private-key operation.

The spec leaves identities to hardware: here an identity is a public key plus a *DH oracle*,
``dh(enc) -> x-coordinate of sk·E``, which a PKCS#11 token computes (``CKM_ECDH1_DERIVE``)
without the private key ever leaving it; :func:`software_dh` is the same oracle over a key
in memory (tests, recovery). Sealing uses ``cryptography``'s HPKE; opening redoes HPKE's
DHKEM ExtractAndExpand and base-mode key schedule around the oracle's DH output, because
``cryptography`` cannot take a DH computed elsewhere.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from domicile.crypto import bech32
from domicile.crypto.encoding import b64decode_raw, b64encode_raw
from domicile.crypto.header import Stanza
from domicile.crypto.keystring import decode_key
from domicile.errors import HeaderError, MalformedKey

STANZA_TYPE = "p256tag"
RECIPIENT_HRP = "age1tag"
INFO = b"age-encryption.org/p256tag"
TAG_SIZE = 4
ENC_SIZE = 65
BODY_SIZE = 32
_SUITE = hpke.Suite(hpke.KEM.P256, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
_KEM_SUITE = b"KEM\x00\x10"  # DHKEM(P-256, HKDF-SHA256)
_HPKE_SUITE = b"HPKE\x00\x10\x00\x01\x00\x03"  # that KEM, HKDF-SHA256, ChaCha20-Poly1305
_HINT = "a tagged hardware recipient is age1tag1 followed by 59 characters"

#: ``dh(enc)``: the 32-byte x-coordinate of (private key times the point ``enc``), or
#: ``ValueError`` if ``enc`` is not a valid point.
DHOracle = Callable[[bytes], bytes]


class P256TagRecipient:
    """A P-256 public key held by hardware, written ``age1tag1...``."""

    __slots__ = ("_compressed", "_key", "_uncompressed")

    def __init__(self, point: bytes) -> None:
        """``point``: a SEC 1 encoding (compressed or uncompressed) of a P-256 point."""
        try:
            self._key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        except ValueError:
            raise MalformedKey("invalid p256tag recipient: not a P-256 point", hint=_HINT) from None
        self._compressed = self._key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        self._uncompressed = self._key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    @classmethod
    def from_string(cls, text: str) -> P256TagRecipient:
        """Parse ``age1tag1...``; raises :class:`MalformedKey` if it is not one."""
        data = decode_key(
            text.strip(),
            hrp=RECIPIENT_HRP,
            size=33,
            what="p256tag recipient",
            expected="a tagged P-256 recipient (age1tag1...)",
            hint=_HINT,
        )
        return cls(data)

    @property
    def public_bytes(self) -> bytes:
        """The 33-byte compressed point (what the Bech32 string encodes)."""
        return self._compressed

    @property
    def uncompressed(self) -> bytes:
        """The 65-byte uncompressed point (HPKE's ``pkRm``)."""
        return self._uncompressed

    @property
    def post_quantum(self) -> bool:
        """False: P-256 falls to a quantum adversary."""
        return False

    def tag(self, enc: bytes) -> bytes:
        """The 4-byte tag of a stanza with encapsulated key ``enc`` for this recipient."""
        ikm = enc + hashlib.sha256(self._compressed).digest()[:4]
        return hmac.new(INFO, ikm, hashlib.sha256).digest()[:TAG_SIZE]

    def wrap(self, file_key: bytes) -> list[Stanza]:
        """One p256tag stanza (HPKE SealBase with a fresh ephemeral key)."""
        sealed = _SUITE.encrypt(file_key, self._key, info=INFO)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        args = (b64encode_raw(self.tag(enc)), b64encode_raw(enc))
        return [Stanza(STANZA_TYPE, args, body)]

    def __str__(self) -> str:
        return bech32.encode(RECIPIENT_HRP, self._compressed)

    def __repr__(self) -> str:
        return f"P256TagRecipient({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, P256TagRecipient) and other._compressed == self._compressed

    def __hash__(self) -> int:
        return hash(self._compressed)


def _bad_stanza(why: str) -> HeaderError:
    return HeaderError(
        f"malformed {STANZA_TYPE} stanza: {why}",
        hint="the file header is damaged or was not written by an age implementation",
    )


def parse_stanza(stanza: Stanza) -> tuple[bytes, bytes]:
    """``(tag, enc)`` of a p256tag stanza; :class:`HeaderError` if it is malformed."""
    if len(stanza.args) != 2:
        raise _bad_stanza("expected a tag and an encapsulated key")
    try:
        tag, enc = b64decode_raw(stanza.args[0]), b64decode_raw(stanza.args[1])
    except ValueError:
        raise _bad_stanza("an argument is not canonical base64") from None
    if len(tag) != TAG_SIZE or len(enc) != ENC_SIZE:
        raise _bad_stanza("the tag is not 4 bytes or the encapsulated key not 65")
    if len(stanza.body) != BODY_SIZE:
        raise _bad_stanza("the wrapped file key is not 16 bytes")
    return tag, enc


class P256TagIdentity:
    """Unwraps ``p256tag`` stanzas for one recipient through a DH oracle (a token)."""

    __slots__ = ("_dh", "recipient")

    def __init__(self, recipient: P256TagRecipient, dh: DHOracle) -> None:
        self.recipient = recipient
        self._dh = dh

    @classmethod
    def from_private_key(cls, key: ec.EllipticCurvePrivateKey) -> P256TagIdentity:
        """An identity over a P-256 key in memory (tests, or a recovery copy)."""
        point = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )
        return cls(P256TagRecipient(point), software_dh(key))

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the first p256tag stanza tagged for us that opens, else
        ``None``. Only stanzas whose tag matches cost a DH (a token call)."""
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            tag, enc = parse_stanza(stanza)
            if not hmac.compare_digest(tag, self.recipient.tag(enc)):
                continue
            try:
                shared = self._dh(enc)
            except ValueError:
                raise _bad_stanza("the encapsulated key is not a P-256 point") from None
            file_key = open_base(shared, enc, self.recipient.uncompressed, stanza.body)
            if file_key is not None:
                return file_key
        return None

    def __repr__(self) -> str:
        return f"P256TagIdentity(recipient={str(self.recipient)!r})"


def software_dh(key: ec.EllipticCurvePrivateKey) -> DHOracle:
    """The DH oracle of a P-256 key held in memory."""

    def dh(enc: bytes) -> bytes:
        peer = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
        return key.exchange(ec.ECDH(), peer)

    return dh


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), b"HPKE-v1" + suite + label + ikm, hashlib.sha256).digest()


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    """HKDF-Expand for one block (every length here is at most 32 bytes)."""
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return hmac.new(prk, labeled + b"\x01", hashlib.sha256).digest()[:length]


def open_base(dh: bytes, enc: bytes, pk_r: bytes, body: bytes) -> bytes | None:
    """HPKE OpenBase (RFC 9180 §4.1 DHKEM decapsulation after the DH, §5.1 key schedule,
    one AEAD open) for the p256tag suite; ``None`` if the body does not open."""
    eae_prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    shared = _labeled_expand(_KEM_SUITE, eae_prk, b"shared_secret", enc + pk_r, 32)
    context = (
        b"\x00"
        + _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
        + _labeled_extract(_HPKE_SUITE, b"", b"info_hash", INFO)
    )
    secret = _labeled_extract(_HPKE_SUITE, shared, b"secret", b"")
    key = _labeled_expand(_HPKE_SUITE, secret, b"key", context, 32)
    nonce = _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12)
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, body, None)
    except InvalidTag:
        return None
