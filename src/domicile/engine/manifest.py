"""The manifest: a small encrypted JSON document per object version, on every site holding it.

With the keyring alone, the manifests on the sites are enough to rebuild the catalog: they
carry the object's name, metadata and the ordered list of its segment blobs. A manifest is
an age file (the same recipients as the version's blobs) whose plaintext is canonical JSON::

    {"schema": 1, "bucket": ..., "policy": ..., "tenant": ..., "key": ...,
     "version_id": ..., "created_at": <epoch s>,
     "size": ..., "etag": ..., "meta": {content_type, ..., "user": {...}},
     "segments": [{"blob_id", "plaintext_size", "header_length", "ciphertext_length",
                   "sha256"}, ...],
     "checksums": {name: value, ...}, "checksum_type": "full_object" | "composite",
     "object_lock": {"mode", "days", "years"}}

``checksums`` and ``checksum_type`` are written only when the version has checksums, so
other manifests are byte for byte what they were before these keys existed; a manifest
without them (older ones too) has none. Readers ignore keys they do not know, so adding
the two did not need a new schema number. The same holds for ``part_sizes`` (the size of
each part of a multipart upload, in order) and for ``content_language`` in ``meta``:
written only when set; and for the Object Lock in ``meta`` (``lock_mode``, ``lock_until``
in epoch seconds, ``legal_hold``), which is the version's lock as last set: a change of
retention or legal hold rewrites the manifest on every site holding the version (a version
of a bucket with Object Lock is never inline, so its manifest is a blob of its own).

Versioning: a version written while its bucket's versioning is set carries
``"versioning": "Enabled"`` (the version has its own S3 id, its version id) or
``"Suspended"`` (a null version); without the key, the bucket was unversioned (a null
version too), so manifests of unversioned buckets are what they were before versioning.
A *delete marker* is a manifest of its own (``"schema": 3``, ``"delete_marker": true``,
no size, ETag, metadata or segments): the marker's durable record on the sites, so that
``rebuild-catalog`` restores it and a deleted object does not come back. Schema 3 makes a
reader that predates markers refuse it rather than restore an empty object.

Its blob id is ``m`` followed by the version id, so a rebuild finds every manifest of a
site by listing the prefix ``m``; data blobs start with ``b``.

A small object (one segment, written from memory) travels *inline*: its manifest blob is
its only blob, one age file whose plaintext is the object's bytes, a newline, then the
manifest (``"schema": 2``, ``"inline": true``, no ``segments``: the blob is the segment,
and its own length and SHA-256 cannot be written inside it). One write per site instead of
two. The object's bytes start at plaintext offset 0, so a reader reads the blob exactly as
it reads any segment (the first ``size`` bytes); canonical JSON holds no raw newline, so
the manifest is the text after the last one: ``age -d`` then ``tail -n 1`` shows it, and
``head -c <size>`` recovers the object.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from domicile.catalog import Bucket, BucketLock, Placement, Segment, Version
from domicile.crypto import Encryptor, Identity, Recipient, decrypt_bytes, parse_header
from domicile.engine.records import ObjectMeta
from domicile.errors import CryptoError

#: A manifest listing its segments; one whose object's bytes precede it in its own blob.
SCHEMA = 1
SCHEMA_INLINE = 2
#: A delete marker's manifest (see the module docstring).
SCHEMA_MARKER = 3
MANIFEST_PREFIX = "m"
BLOB_PREFIX = "b"


def manifest_blob_id(version_id: str) -> str:
    return f"{MANIFEST_PREFIX}{version_id}"


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    blob_id: str
    plaintext_size: int
    header_length: int
    ciphertext_length: int
    sha256: str


@dataclass(frozen=True, slots=True)
class Manifest:
    bucket: str
    policy: str
    tenant: str
    key: str
    version_id: str
    created_at: float
    size: int
    etag: str
    meta: ObjectMeta
    segments: tuple[SegmentEntry, ...]
    checksums: Mapping[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    #: The object's bytes precede the manifest in its blob (see the module docstring).
    inline: bool = False
    #: Each part's size, in order, for an object a multipart upload made.
    part_sizes: tuple[int, ...] = ()
    #: The bucket's Object Lock when the version was written (None: it had none), so a
    #: rebuild creates the bucket with it.
    bucket_lock: BucketLock | None = None
    #: The bucket's versioning status when the version was written (None: unversioned).
    versioning: str | None = None
    #: A delete marker (schema 3): no bytes, no segments.
    delete_marker: bool = False

    @property
    def null_version(self) -> bool:
        """Whether the version's S3 id is ``null`` (written while versioning was not on)."""
        return self.versioning != "Enabled"

    def to_json(self) -> bytes:
        if self.delete_marker:
            return _marker_json(self)
        doc: dict[str, Any] = {
            "schema": SCHEMA_INLINE if self.inline else SCHEMA,
            "bucket": self.bucket,
            "policy": self.policy,
            "tenant": self.tenant,
            "key": self.key,
            "version_id": self.version_id,
            "created_at": self.created_at,
            "size": self.size,
            "etag": self.etag,
            "meta": _meta_doc(self.meta),
        }
        if self.inline:
            doc["inline"] = True
        else:
            doc["segments"] = [asdict(s) for s in self.segments]
        if self.checksums:
            doc["checksums"] = dict(self.checksums)
            doc["checksum_type"] = self.checksum_type
        if self.part_sizes:
            doc["part_sizes"] = list(self.part_sizes)
        if self.bucket_lock is not None:
            lock = self.bucket_lock
            doc["object_lock"] = {"mode": lock.mode, "days": lock.days, "years": lock.years}
        if self.versioning is not None:
            doc["versioning"] = self.versioning
        return _canonical(doc)

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            doc = json.loads(data)
            schema = doc.get("schema")
            if schema == SCHEMA_MARKER:
                return _marker_from(doc)
            if schema not in (SCHEMA, SCHEMA_INLINE):
                raise CryptoError(
                    f"manifest schema {schema!r} is not supported",
                    hint="upgrade domicile to read manifests written by a newer version",
                )
            inline = schema == SCHEMA_INLINE
            if doc.get("inline", False) is not inline:
                raise CryptoError(f"malformed manifest: schema {schema} with inline = {not inline}")
            meta = dict(doc["meta"])
            return cls(
                bucket=doc["bucket"],
                policy=doc["policy"],
                tenant=doc["tenant"],
                key=doc["key"],
                version_id=doc["version_id"],
                created_at=float(doc["created_at"]),
                size=int(doc["size"]),
                etag=doc["etag"],
                meta=ObjectMeta(**{**meta, "user": dict(meta.get("user", {}))}),
                segments=() if inline else tuple(SegmentEntry(**s) for s in doc["segments"]),
                checksums={str(k): str(v) for k, v in doc.get("checksums", {}).items()},
                checksum_type=doc.get("checksum_type"),
                inline=inline,
                part_sizes=tuple(int(n) for n in doc.get("part_sizes", ())),
                bucket_lock=_bucket_lock(doc["bucket"], doc.get("object_lock")),
                versioning=_versioning(doc.get("versioning")),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise CryptoError(f"malformed manifest: {exc}") from None


def _bucket_lock(bucket: str, doc: Any) -> BucketLock | None:
    if not isinstance(doc, dict):
        return None
    return BucketLock(bucket, doc.get("mode"), doc.get("days"), doc.get("years"))


def delete_marker(bucket: Bucket, key: str, version_id: str, created_at: float) -> Manifest:
    """The manifest of a delete marker written now in ``bucket`` (versioning set)."""
    return Manifest(
        bucket=bucket.name,
        policy=bucket.policy,
        tenant=bucket.tenant,
        key=key,
        version_id=version_id,
        created_at=created_at,
        size=0,
        etag="",
        meta=ObjectMeta(content_type=""),
        segments=(),
        versioning=bucket.versioning,
        delete_marker=True,
    )


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def _marker_json(m: Manifest) -> bytes:
    return _canonical(
        {
            "schema": SCHEMA_MARKER,
            "delete_marker": True,
            "bucket": m.bucket,
            "policy": m.policy,
            "tenant": m.tenant,
            "key": m.key,
            "version_id": m.version_id,
            "created_at": m.created_at,
            "versioning": m.versioning,
        }
    )


def _marker_from(doc: dict[str, Any]) -> Manifest:
    if doc.get("delete_marker") is not True:
        raise CryptoError("malformed manifest: schema 3 without delete_marker")
    return Manifest(
        bucket=doc["bucket"],
        policy=doc["policy"],
        tenant=doc["tenant"],
        key=doc["key"],
        version_id=doc["version_id"],
        created_at=float(doc["created_at"]),
        size=0,
        etag="",
        meta=ObjectMeta(content_type=""),
        segments=(),
        versioning=_versioning(doc.get("versioning")),
        delete_marker=True,
    )


def _versioning(value: object) -> str | None:
    if value is None:
        return None
    if value in ("Enabled", "Suspended"):
        return str(value)
    raise CryptoError(f"malformed manifest: versioning {value!r}")


def _meta_doc(meta: ObjectMeta) -> dict[str, Any]:
    """``meta`` as the manifest writes it; ``content_language`` only when set, so that
    manifests without one are what they were before it existed."""
    doc = {**asdict(meta), "user": dict(meta.user)}
    for name in ("content_language", "lock_mode", "lock_until"):
        if doc.get(name) is None:
            doc.pop(name, None)
    if not doc.get("legal_hold"):
        doc.pop("legal_hold", None)
    return doc


def seal_inline(
    manifest: Manifest, data: bytes, recipients: Sequence[Recipient]
) -> tuple[Manifest, bytes]:
    """The inline blob of a small object: ``data``, a newline and ``manifest`` in one age
    file; and the manifest with that blob as its only segment (for the catalog)."""
    if len(data) != manifest.size:
        raise ValueError(f"the manifest says {manifest.size} bytes, the data is {len(data)}")
    manifest = replace(manifest, inline=True, segments=())
    encryptor = Encryptor(recipients)
    blob = b"".join(
        (
            encryptor.header,
            encryptor.update(data),
            encryptor.update(b"\n" + manifest.to_json()),
            encryptor.finalize(),
        )
    )
    return _with_blob(manifest, blob, encryptor.header_length), blob


def read_manifest(blob: bytes, identities: Sequence[Identity]) -> Manifest:
    """The manifest in the blob ``blob`` (a manifest of either schema); raises CryptoError
    if it does not decrypt, or is malformed."""
    plaintext = decrypt_bytes(blob, identities)
    data_end, newline, text = plaintext.rpartition(b"\n")
    manifest = Manifest.from_json(text)
    if manifest.delete_marker or not manifest.inline:
        if newline:
            raise CryptoError("malformed manifest: bytes before a manifest that lists segments")
        return manifest
    if not newline or len(data_end) != manifest.size:
        raise CryptoError(
            f"malformed inline manifest: it precedes {len(data_end)} bytes, not {manifest.size}"
        )
    header = parse_header(blob)
    assert header is not None  # decrypt_bytes parsed it already
    return _with_blob(manifest, blob, header.length)


def _with_blob(manifest: Manifest, blob: bytes, header_length: int) -> Manifest:
    entry = SegmentEntry(
        blob_id=manifest_blob_id(manifest.version_id),
        plaintext_size=manifest.size,
        header_length=header_length,
        ciphertext_length=len(blob),
        sha256=hashlib.sha256(blob).hexdigest(),
    )
    return replace(manifest, segments=(entry,))


def catalog_records(
    manifest: Manifest, site_ids: Sequence[str], verified_at: float
) -> tuple[Version, list[Segment], list[Placement]]:
    """The catalog rows of a version described by ``manifest``, held on ``site_ids``."""
    meta = manifest.meta
    version = Version(
        version_id=manifest.version_id,
        bucket=manifest.bucket,
        key=manifest.key,
        state="current",
        size=manifest.size,
        etag=manifest.etag,
        content_type=meta.content_type,
        content_encoding=meta.content_encoding,
        content_disposition=meta.content_disposition,
        cache_control=meta.cache_control,
        expires=meta.expires,
        user_metadata=dict(meta.user),
        created_at=manifest.created_at,
        manifest_blob_id=manifest_blob_id(manifest.version_id),
        checksums=dict(manifest.checksums),
        checksum_type=manifest.checksum_type,
        content_language=meta.content_language,
        part_sizes=manifest.part_sizes,
        null_version=manifest.null_version,
        delete_marker=manifest.delete_marker,
    )
    segments = [
        Segment(
            version_id=manifest.version_id,
            idx=i,
            blob_id=e.blob_id,
            plaintext_size=e.plaintext_size,
            header_length=e.header_length,
            ciphertext_length=e.ciphertext_length,
            ciphertext_sha256=e.sha256,
        )
        for i, e in enumerate(manifest.segments)
    ]
    placements = [
        Placement(manifest.version_id, site_id, "ok", manifest.created_at, verified_at)
        for site_id in site_ids
    ]
    return version, segments, placements
