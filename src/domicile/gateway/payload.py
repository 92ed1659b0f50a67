"""What ``x-amz-content-sha256`` says about a request body, and checking a signed hash.

The value is either the lowercase hex SHA-256 of the whole body (:attr:`PayloadMode.SHA256`,
checked with :class:`PayloadVerifier` as the body streams), ``UNSIGNED-PAYLOAD``, or one of
the ``STREAMING-*`` modes whose aws-chunked body :mod:`.chunked` decodes.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from typing import Final

from domicile.gateway.s3errors import reject

_HEX64: Final = re.compile(r"[0-9a-f]{64}")


class PayloadMode(enum.Enum):
    """What ``x-amz-content-sha256`` says about the body."""

    SHA256 = "sha256"  # the value is the hex SHA-256 of the whole body
    UNSIGNED = "UNSIGNED-PAYLOAD"
    STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

    @property
    def chunked(self) -> bool:
        """True when the body is aws-chunked (decode it with :mod:`.chunked`)."""
        return self.value.startswith("STREAMING-")

    @property
    def signed_chunks(self) -> bool:
        """True when every chunk carries a signature chained from the request's."""
        return self.value.startswith("STREAMING-AWS4-HMAC-SHA256")

    @property
    def trailer(self) -> bool:
        """True when trailing headers (checksums) follow the last chunk."""
        return self.value.endswith("-TRAILER")


_MODES: Final = {m.value: m for m in PayloadMode if m is not PayloadMode.SHA256}
_UNSUPPORTED_MODES: Final = (
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
    "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
)


def payload_mode(content: str) -> PayloadMode:
    """The mode an ``x-amz-content-sha256`` value names (``InvalidArgument`` if none)."""
    if _HEX64.fullmatch(content):
        return PayloadMode.SHA256
    mode = _MODES.get(content)
    if mode is not None:
        return mode
    if content in _UNSUPPORTED_MODES:
        raise reject(
            "NotImplemented",
            f"{content} (SigV4a) is not supported",
            hint="sign with SigV4 (HMAC-SHA256)",
        )
    raise reject(
        "InvalidArgument",
        f"x-amz-content-sha256 {content[:80]!r} is neither a hex SHA-256 nor a known mode",
        hint="send the body's lowercase hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* value",
    )


class PayloadVerifier:
    """Checks a body against the hex SHA-256 its request signed, piece by piece.

    Feed every piece to :meth:`update`; :meth:`finish` raises ``XAmzContentSHA256Mismatch``
    when the body's hash differs (constant-time comparison). Nothing is buffered.
    """

    __slots__ = ("_expected", "_hash", "size")

    def __init__(self, expected_hex: str) -> None:
        if not _HEX64.fullmatch(expected_hex):
            raise ValueError("expected_hex must be 64 lowercase hex digits")
        self._expected = bytes.fromhex(expected_hex)
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Hash the next piece of the body."""
        self._hash.update(data)
        self.size += len(data)

    def finish(self) -> None:
        """Raise ``XAmzContentSHA256Mismatch`` unless the body hashed to the signed value."""
        if not hmac.compare_digest(self._hash.digest(), self._expected):
            raise reject(
                "XAmzContentSHA256Mismatch",
                f"the body ({self.size} bytes) does not hash to the signed x-amz-content-sha256",
                hint="the body changed in transit or was hashed before a change; send it again",
            )
