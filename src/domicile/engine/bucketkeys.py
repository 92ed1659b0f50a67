"""Bucket data identities: the middle of the key hierarchy (docs/keys.md).

Every bucket gets its own data identity (X25519, or ``mlkem768x25519`` under a ``pq``
policy) the first time something is written to it; its blobs and manifests are wrapped to
that identity (plus the policy's extra recipients), never directly to the root identities.
The identity itself is an age file encrypted to the root recipients of its kind (the
keyring file's identities or the token's keys), stored in the catalog and, written once,
on the first :data:`KEY_COPIES` sites the bucket's policy allows (``bkey-<bucket>-<version>``)
so ``rebuild-catalog`` recovers it. Destroying every copy (``domicile shred``) makes the
bucket's remaining blobs unreadable to anyone holding only the root identities.

Reading tries the bucket's identities first, then the root ones (blobs written before
bucket identities, the audit history). Unwrapped identities stay in memory for
:data:`CACHE_SECONDS` at most, so a warm GET never calls a token.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence

from domicile.catalog import Catalog
from domicile.catalog.records import BucketKey
from domicile.crypto import (
    AnyIdentity,
    AnyRecipient,
    Identity,
    MLKEM768X25519Identity,
    Stanza,
    X25519Identity,
    decrypt_bytes,
    encrypt_bytes,
    parse_identity,
    parse_recipient,
)
from domicile.crypto.keysource import KeySource
from domicile.errors import CatalogConflict, KeyringError, SiteUnavailable

#: Blob ids of the site copies of bucket identities.
KEY_PREFIX = "bkey-"
_NAME = re.compile(r"bkey-(.+)-([0-9]{8})")
#: Sites (of those the bucket's policy allows, in id order) holding a copy of its identity.
KEY_COPIES = 2
#: How long a writer that lost the race for a bucket's first key waits for the winner's row.
RACE_WAIT = 5.0
#: How long an unwrapped bucket identity stays in memory.
CACHE_SECONDS = 300.0

#: Writes a new identity's wrapped copy to the sites: ``(bucket, blob_id, data)`` -> the
#: sites that took it.
PlaceKey = Callable[[str, str, bytes], list[str]]
#: Removes a copy this writer placed but lost the race for: ``(blob_id, sites)``.
UnplaceKey = Callable[[str, list[str]], None]


def key_blob_id(bucket: str, version: int) -> str:
    """The blob id of version ``version`` of ``bucket``'s identity on the sites (a bucket
    name's dots become underscores, which bucket names never hold)."""
    return f"{key_blob_prefix(bucket)}{version:08d}"


def key_blob_prefix(bucket: str) -> str:
    """The blob id prefix of every version of ``bucket``'s identity on the sites."""
    return f"{KEY_PREFIX}{bucket.replace('.', '_')}-"


def parse_key_blob_id(blob_id: str) -> tuple[str, int] | None:
    """``(bucket, version)`` of a key copy's blob id; None for any other blob."""
    found = _NAME.fullmatch(blob_id)
    return (found.group(1).replace("_", "."), int(found.group(2))) if found else None


def kind_of(post_quantum: bool) -> str:
    return "mlkem768x25519" if post_quantum else "x25519"


class BucketKeyring:
    """The bucket identities of one engine: made on first write, unwrapped on demand with
    the root keyring, kept in memory for a bounded time, forgotten by :meth:`forget`."""

    def __init__(
        self,
        catalog: Catalog,
        root: KeySource,
        *,
        seconds: float = CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        on_made: Callable[[BucketKey], None] | None = None,
    ) -> None:
        self._on_made = on_made
        self._catalog = catalog
        self._root = root
        self._seconds = seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._recipients: dict[tuple[str, bool], AnyRecipient] = {}
        self._identities: dict[str, tuple[float, list[AnyIdentity]]] = {}
        self.unwraps = 0  # identities unwrapped with the root keys (tests, benchmarks)

    def recipient(
        self,
        bucket: str,
        *,
        post_quantum: bool,
        place: PlaceKey,
        unplace: UnplaceKey | None = None,
    ) -> AnyRecipient:
        """The recipient new blobs of ``bucket`` are wrapped to: its newest identity of the
        kind, made now (stored in the catalog, its copies placed) if it has none."""
        slot = (bucket, post_quantum)
        found = self._recipients.get(slot)
        if found is not None:
            return found
        with self._lock:
            keys = self._catalog.bucket_keys(bucket)
            mine = [k for k in keys if k.kind == kind_of(post_quantum)]
            if mine:
                recipient = parse_recipient(mine[-1].recipient)
            else:
                recipient = self._make(bucket, post_quantum, keys, place, unplace)
            self._recipients[slot] = recipient
            return recipient

    def _make(
        self,
        bucket: str,
        post_quantum: bool,
        keys: Sequence[BucketKey],
        place: PlaceKey,
        unplace: UnplaceKey | None,
    ) -> AnyRecipient:
        roots = self._root.recipients_of(post_quantum=post_quantum)
        if not roots:
            kind = "post-quantum" if post_quantum else "classic"
            raise KeyringError(
                f"the keyring has no {kind} root identity to wrap bucket {bucket!r}'s key to",
                hint="add one with 'domicile keys new'" + (" --pq" if post_quantum else ""),
                bucket=bucket,
            )
        identity: AnyIdentity = (
            MLKEM768X25519Identity.generate() if post_quantum else X25519Identity.generate()
        )
        version = (keys[-1].version + 1) if keys else 1
        wrapped = encrypt_bytes(identity.to_secret().reveal().encode() + b"\n", roots)
        # on the sites before it wraps anything
        try:
            sites = tuple(place(bucket, key_blob_id(bucket, version), wrapped))
        except SiteUnavailable:  # another host may hold every copy of this version: its key
            winner = self._wait_for(bucket, kind_of(post_quantum))
            if winner is None:
                raise
            return parse_recipient(winner.recipient)
        kind = kind_of(post_quantum)
        key = BucketKey(bucket, version, kind, str(identity.recipient), wrapped, sites)
        try:
            self._catalog.add_bucket_key(key)
        except CatalogConflict:  # another host made one meanwhile: use the stored one
            if unplace is not None:  # and take back our copies of the identity that lost
                unplace(key_blob_id(bucket, version), list(sites))
            stored = self._catalog.bucket_keys(bucket)
            mine = [k for k in stored if k.kind == key.kind]
            if not mine:
                raise
            return parse_recipient(mine[-1].recipient)
        self._identities.pop(bucket, None)
        if self._on_made is not None:
            self._on_made(key)
        return identity.recipient

    def _wait_for(self, bucket: str, kind: str, wait: float = RACE_WAIT) -> BucketKey | None:
        """The newest stored key of ``kind`` of ``bucket``, waiting up to ``wait`` seconds
        for a host that won the race to write its copies to record it; None if none comes."""
        deadline = time.monotonic() + wait
        while True:
            mine = [k for k in self._catalog.bucket_keys(bucket) if k.kind == kind]
            if mine:
                return mine[-1]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    def identities(self, bucket: str) -> list[Identity]:
        """What reads ``bucket``'s blobs: its identities (newest first), then the root
        ones, then a last one that reads the catalog again (a version made by another
        host since the cache was filled) and tries the versions it did not know."""
        return [*self._bucket_identities(bucket), *self._root.identities, _Refresh(self, bucket)]

    def _bucket_identities(self, bucket: str) -> list[AnyIdentity]:
        now = self._clock()
        cached = self._identities.get(bucket)
        if cached is not None and cached[0] > now:
            return cached[1]
        keys = self._catalog.bucket_keys(bucket)
        found = [self.unwrap(k.wrapped) for k in reversed(keys)]
        self._identities[bucket] = (now + self._seconds, found)
        return found

    def refreshed(self, bucket: str) -> list[AnyIdentity]:
        """The identities of ``bucket`` the cache did not hold, after reading the catalog
        again (the cache is refilled)."""
        known = {str(i.recipient) for i in self._identities.get(bucket, (0.0, []))[1]}
        self._identities.pop(bucket, None)
        return [i for i in self._bucket_identities(bucket) if str(i.recipient) not in known]

    def unwrap(self, wrapped: bytes) -> AnyIdentity:
        """A bucket identity from its wrapped copy, with the root identities."""
        self.unwraps += 1
        text = decrypt_bytes(wrapped, self._root.identities).decode("utf-8").strip()
        return parse_identity(text)

    def forget(self, bucket: str | None = None) -> None:
        """Drop ``bucket``'s identities (every bucket's with None) from memory."""
        with self._lock:
            if bucket is None:
                self._identities.clear()
                self._recipients.clear()
                return
            self._identities.pop(bucket, None)
            for slot in [s for s in self._recipients if s[0] == bucket]:
                del self._recipients[slot]


class _Refresh:
    """The last identity tried on a bucket's blob: nothing cached opened it, so the
    catalog may hold a newer version of the bucket's identity (made by another host)."""

    def __init__(self, keyring: BucketKeyring, bucket: str) -> None:
        self._keyring, self._bucket = keyring, bucket

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for identity in self._keyring.refreshed(self._bucket):
            file_key = identity.unwrap(stanzas)
            if file_key is not None:
                return file_key
        return None
