"""Validation of bucket names and object keys at the engine's boundary.

Bucket names follow S3's rules for new buckets. Object keys may be any valid UTF-8 of 1 to
1,024 bytes, as in S3, except: a NUL or other C0 control character, and ``.`` or ``..`` as
a path segment. Those are refused on purpose: they cannot be listed in S3 XML 1.0, and a
client syncing a bucket to a disk would write outside its folder.
"""

from __future__ import annotations

import ipaddress
import re

from domicile.errors import InvalidName

MAX_KEY_BYTES = 1024
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def check_bucket_name(name: str) -> str:
    """Return ``name`` if it is a valid S3 bucket name, else raise :class:`InvalidName`."""
    hint = (
        "bucket names are 3-63 characters of a-z, 0-9, '.' and '-', "
        "starting and ending alphanumeric"
    )
    if not isinstance(name, str) or not _BUCKET.fullmatch(name):
        raise InvalidName(f"invalid bucket name {name!r}", hint=hint, bucket=str(name))
    if ".." in name or ".-" in name or "-." in name:
        raise InvalidName(f"invalid bucket name {name!r}: adjacent '.'/'-'", hint=hint, bucket=name)
    if name.startswith(("xn--", "sthree-")) or name.endswith(("-s3alias", "--ol-s3")):
        raise InvalidName(
            f"invalid bucket name {name!r}: reserved prefix or suffix", hint=hint, bucket=name
        )
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return name
    raise InvalidName(
        f"invalid bucket name {name!r}: looks like an IP address", hint=hint, bucket=name
    )


def check_key(key: str, *, bucket: str | None = None) -> str:
    """Return ``key`` if it is an acceptable object key, else raise :class:`InvalidName`."""
    if not isinstance(key, str) or not key:
        raise InvalidName("an object key must be a non-empty string", bucket=bucket)
    try:
        size = len(key.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidName(
            f"object key {key[:64]!r} is not valid UTF-8",
            hint="send keys as UTF-8 text",
            bucket=bucket,
        ) from None
    if size > MAX_KEY_BYTES:
        raise InvalidName(
            f"object key is {size} bytes long; the limit is {MAX_KEY_BYTES}",
            hint="use a shorter key",
            bucket=bucket,
            key=key[:64] + "...",
        )
    if _CONTROL.search(key):
        raise InvalidName(
            f"object key {key[:64]!r} contains a control character",
            hint="remove NUL and other control characters from the key",
            bucket=bucket,
        )
    if any(part in (".", "..") for part in key.split("/")):
        raise InvalidName(
            f"object key {key!r} has a '.' or '..' path segment",
            hint="such keys would escape their folder when synced to a disk; rename the object",
            bucket=bucket,
            key=key,
        )
    return key
