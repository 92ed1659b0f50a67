"""What the engine returns to its callers (the library API, the CLI and the gateway)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Final, Protocol

#: ``ObjectInfo.checksum_type``: the checksums cover the whole plaintext...
FULL_OBJECT: Final = "full_object"
#: ...or each is the checksum of the concatenated checksums of the parts (multipart).
COMPOSITE: Final = "composite"


class Digester(Protocol):
    """Named checksums computed by the caller over a plaintext the engine streams (a copy):
    fed every piece with ``update``, asked for the values once the stream has ended."""

    def update(self, data: bytes | bytearray | memoryview) -> None: ...

    def results(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """The metadata a client sets on an object; stored in the catalog and the manifest.

    ``lock_mode``, ``lock_until`` (epoch seconds) and ``legal_hold``: the Object Lock the
    version is written with (the bucket must have Object Lock); kept in the catalog's
    lock table and in the manifest, where a later change of the lock is rewritten."""

    content_type: str = "application/octet-stream"
    content_encoding: str | None = None
    content_disposition: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    user: Mapping[str, str] = field(default_factory=dict)
    content_language: str | None = None
    lock_mode: str | None = None
    lock_until: float | None = None
    legal_hold: bool = False

    @property
    def locked(self) -> bool:
        """Written with a retention or a legal hold."""
        return self.lock_mode is not None or self.legal_hold


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object as HEAD sees it.

    ``checksums``: the named checksums stored with it (name -> value, as the writer gave
    them; the engine does not interpret them), covering what ``checksum_type`` says
    (:data:`FULL_OBJECT` or :data:`COMPOSITE`; None when there are none). ``part_sizes``:
    the size of each part, in order, of an object a multipart upload made (empty for one
    written whole).

    Versioning: ``version_id`` is the catalog's id of the version; the id S3 clients see
    is :attr:`s3_version_id` (``null`` for a ``null_version``). ``is_latest``: it is its
    key's current version; ``delete_marker``: it is a delete marker (only listings of
    versions show those)."""

    bucket: str
    key: str
    version_id: str
    size: int
    etag: str
    created_at: float
    meta: ObjectMeta
    checksums: Mapping[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    part_sizes: tuple[int, ...] = ()
    null_version: bool = True
    is_latest: bool = True
    delete_marker: bool = False

    @property
    def s3_version_id(self) -> str:
        """The version's id as S3 clients see it: ``null``, or ``version_id``."""
        return "null" if self.null_version else self.version_id


@dataclass(frozen=True, slots=True)
class Deletion:
    """What a delete did. ``version_id``: the S3 id of the delete marker written, or of the
    version removed for good (None: nothing happened, the key or version did not exist);
    ``delete_marker``: that version is a delete marker (written now, or removed by id);
    ``queued`` counts, per site, the blobs of a version removed for good that could not be
    deleted yet (the site is unreachable) and stay queued for the next collection
    (``domicile sweep``, the gateway's periodic sweep), and ``why`` says, per such site,
    what its last failure was."""

    bucket: str
    key: str
    version_id: str | None
    delete_marker: bool
    queued: Mapping[str, int] = field(default_factory=dict)
    why: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class VersionsList:
    """One page of object versions and delete markers (S3 ListObjectVersions)."""

    versions: list[ObjectInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(frozen=True, slots=True)
class CopyInfo:
    """Where one copy of an object rests, and who can compel the operator of that place.

    ``compliant`` is residency alone (as in the residency report): a copy on a draining or
    suspended site is compliant, and ``reasons`` then says why it must still move.
    """

    site_id: str
    country: str
    operator: str
    provider: str
    subject_to: tuple[str, ...]
    site_status: str
    state: str
    compliant: bool
    reasons: tuple[str, ...]
    verified_at: float | None


@dataclass(frozen=True, slots=True)
class ListResult:
    """One page of a listing."""

    objects: list[ObjectInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_start_after: str | None


@dataclass
class ObjectReader:
    """An object being read: its info, the byte range served, and the plaintext stream."""

    info: ObjectInfo
    start: int
    end: int
    chunks: Iterator[bytes]

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def read(self) -> bytes:
        """The whole requested range in memory (for small objects and tests)."""
        return b"".join(self.chunks)


@dataclass(frozen=True, slots=True)
class SiteView:
    """A configured site as ``domicile sites`` shows it."""

    site_id: str
    country: str
    operator: str
    provider: str
    subject_to: tuple[str, ...]
    status: str
    healthy: bool
    last_error: str | None
    template: str | None
    latency_ms: float | None = None
    #: The circuit breaker: "closed" (requests go to the site) or "open" (skipped; probed).
    state: str = "closed"
    p50_ms: float | None = None
    p99_ms: float | None = None
    #: How long a read waits for this site's first byte before asking another copy too.
    hedge_ms: float | None = None


@dataclass(frozen=True, slots=True)
class UploadInfo:
    """A multipart upload in progress (``initiated``: epoch seconds); ``checksum`` names
    the checksum every part must carry (None: none required)."""

    upload_id: str
    bucket: str
    key: str
    initiated: float
    meta: ObjectMeta
    checksum: str | None = None


@dataclass(frozen=True, slots=True)
class PartInfo:
    """One uploaded part: ``etag`` is the hex MD5 of its plaintext; ``checksums`` the
    named checksums stored with it."""

    part_number: int
    etag: str
    size: int
    last_modified: float
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartsPage:
    """One page of an upload's parts, by part number; continue after ``next_after``."""

    upload: UploadInfo
    parts: list[PartInfo]
    is_truncated: bool
    next_after: int | None


@dataclass(frozen=True, slots=True)
class UploadsPage:
    """One page of a bucket's uploads in progress, by key then upload id (initiation
    order); continue from the two markers while ``is_truncated``."""

    uploads: list[UploadInfo]
    is_truncated: bool
    next_key_marker: str | None
    next_upload_id_marker: str | None
