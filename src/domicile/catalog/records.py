"""The catalog's records: plain frozen values, the same whatever database holds them.

Times are float seconds since the epoch (UTC); the database stores integer microseconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from domicile.errors import ObjectNotFound, PreconditionFailed

#: Version states: the version a GET serves (the latest of its key), or a noncurrent one
#: (kept by a versioned bucket; the state's name predates versioning).
CURRENT = "current"
NONCURRENT = "superseded"
#: The S3 version id of a null version (written while versioning was never enabled, or
#: suspended).
NULL_ID = "null"
#: A bucket's versioning status once set (None: never enabled).
VERSIONING_STATUSES = ("Enabled", "Suspended")

#: Placement states: the copy is good, known to be missing, or known to be corrupt.
PLACEMENT_STATES = ("ok", "missing", "corrupt")
#: Fault kinds recorded on reads and verification.
FAULT_KINDS = ("unreachable", "not_found", "corrupt", "short_read", "error")


@dataclass(frozen=True, slots=True)
class Bucket:
    name: str
    policy: str
    tenant: str
    created_at: float
    #: ``Enabled``, ``Suspended``, or None: versioning never enabled.
    versioning: str | None = None
    #: Created with Object Lock (``bucket_locks`` has its row): its versions can be locked.
    object_lock: bool = False


@dataclass(frozen=True, slots=True)
class Version:
    """One object version. ``state`` is ``current`` for the version a GET serves (the
    latest of its key), ``superseded`` for a noncurrent one a versioned bucket keeps.

    ``null_version``: the version's S3 id is ``null`` (written while the bucket's
    versioning was never enabled, or suspended); else its S3 id is ``version_id``.
    ``delete_marker``: a delete marker, no bytes (size 0, no segments; its manifest blob
    is the marker's durable record on the sites).

    ``checksums`` are the named checksums stored with it (name -> encoded value, the
    engine's to interpret), ``checksum_type`` says what they cover (``full_object``: the
    whole plaintext; ``composite``: the parts' checksums); both empty when none was given.
    ``part_sizes``: the size of each part of a multipart upload, in order (empty for a
    version written whole)."""

    version_id: str
    bucket: str
    key: str
    state: str
    size: int
    etag: str
    content_type: str
    content_encoding: str | None
    content_disposition: str | None
    cache_control: str | None
    expires: str | None
    user_metadata: Mapping[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    manifest_blob_id: str = ""
    checksums: Mapping[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    content_language: str | None = None
    part_sizes: tuple[int, ...] = ()
    null_version: bool = True
    delete_marker: bool = False
    #: Its place among its key's versions (the newest has the highest), set on commit;
    #: not part of equality (a record given to ``commit_version`` has none yet).
    seq: int = field(default=0, compare=False)

    @property
    def s3_version_id(self) -> str:
        """The id S3 clients see: ``null`` for a null version, else ``version_id``."""
        return NULL_ID if self.null_version else self.version_id

    @property
    def is_latest(self) -> bool:
        return self.state == CURRENT


@dataclass(frozen=True, slots=True)
class Expect:
    """What a conditional write expects of its key's current version, checked in the
    transaction that commits it: none at all (``absent``, S3's ``If-None-Match: *``), or
    one whose ETag is ``etag`` (S3's ``If-Match``; ``*``: any current version)."""

    absent: bool = False
    etag: str | None = None

    def check(self, current: Version | None, bucket: str, key: str) -> None:
        """Raise unless ``current`` (the key's current version, or None) is what this
        expects: ObjectNotFound when a version is expected and there is none (S3 answers
        a conditional write on a missing key with NoSuchKey), else PreconditionFailed."""
        if current is not None and current.delete_marker:
            current = None  # a key whose latest version is a delete marker has no object
        if self.etag is not None:
            if current is None:
                raise ObjectNotFound(
                    f"no object {key!r} in bucket {bucket!r} to compare If-Match with",
                    hint="write without If-Match to create the object",
                    bucket=bucket,
                    key=key,
                )
            wanted = self.etag.strip().removeprefix("W/").strip('"')
            if wanted not in ("*", current.etag):
                raise PreconditionFailed(
                    f"{bucket}/{key} has ETag {current.etag}, not {wanted} (If-Match)",
                    hint="read the object again and retry with its current ETag",
                    bucket=bucket,
                    key=key,
                )
        if self.absent and current is not None:
            raise PreconditionFailed(
                f"{bucket}/{key} exists already (If-None-Match: *)",
                hint="write without If-None-Match to replace it, or choose another key",
                bucket=bucket,
                key=key,
            )


@dataclass(frozen=True, slots=True)
class CompletedUpload:
    """A multipart upload completed, remembered so that a retried completion (its response
    was lost) gets the same answer: the parts it listed, as ``(number, ETag)``, and what
    the completion made."""

    upload_id: str
    bucket: str
    key: str
    version_id: str
    parts: tuple[tuple[int, str], ...]
    etag: str
    size: int
    checksums: Mapping[str, str]
    checksum_type: str | None
    completed_at: float


@dataclass(frozen=True, slots=True)
class Segment:
    """One age blob of a version, stored under ``blob_id`` on every placement's site."""

    version_id: str
    idx: int
    blob_id: str
    plaintext_size: int
    header_length: int
    ciphertext_length: int
    ciphertext_sha256: str


def inline_manifest(version: Version, segments: Sequence[Segment]) -> bool:
    """Whether the manifest of ``version`` is inline: its only segment, the object's bytes
    and the manifest in one blob (then it is neither checked nor copied twice)."""
    return any(s.blob_id == version.manifest_blob_id for s in segments)


def version_blobs(version: Version, segments: Sequence[Segment]) -> list[str]:
    """Every blob of ``version``, once each: its segments, then its manifest."""
    blobs = [s.blob_id for s in segments]
    return blobs if inline_manifest(version, segments) else [*blobs, version.manifest_blob_id]


@dataclass(frozen=True, slots=True)
class Placement:
    """A version's copy on one site."""

    version_id: str
    site_id: str
    state: str
    created_at: float
    verified_at: float | None = None


@dataclass(frozen=True, slots=True)
class Fault:
    id: int
    version_id: str
    site_id: str
    segment_idx: int | None
    kind: str
    detail: str
    seen_at: float
    resolved_at: float | None


@dataclass(frozen=True, slots=True)
class GarbageItem:
    """A blob to delete from a site: unreferenced by the transaction that queued it."""

    id: int
    site_id: str
    blob_id: str
    reason: str
    queued_at: float
    #: The version or upload whose blobs these are (None for items from before step 6).
    origin: str | None = None


#: Job states: to do, done, failed, skipped (stale when it ran: the change was no longer
#: wanted or no longer safe), or left pending by a run that died (``interrupted``).
JOB_STATES = ("pending", "done", "failed", "skipped", "interrupted")


@dataclass(frozen=True, slots=True)
class Job:
    """One step of a plan being applied: add or remove one copy of one version."""

    id: int
    run_id: str
    action: str
    version_id: str
    site_id: str
    source: str | None
    bytes: int
    state: str
    detail: str
    created_at: float
    updated_at: float
    bucket: str | None = None
    key: str | None = None
    #: The reason as a short code (``docs/cli.md``) and as a sentence.
    reason: str | None = None
    why: str | None = None
    #: The copy to remove is on a site the policy refuses.
    violation: bool = False
    #: The worker that claimed the job (``host:pid:run``) and until when (epoch seconds).
    lease_holder: str | None = None
    lease_expires: float | None = None


@dataclass(frozen=True, slots=True)
class Holder:
    """Who runs a job: a process on a host, in one run."""

    host: str
    pid: int
    run_id: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.run_id}"


@dataclass(frozen=True, slots=True)
class Lease:
    """A scope (``apply`` for every bucket, ``apply:<bucket>`` for one) held by a run."""

    scope: str
    kind: str
    bucket: str | None
    run_id: str
    host: str
    pid: int
    acquired_at: float
    expires_at: float


@dataclass(frozen=True, slots=True)
class ListPage:
    """One page of a listing, S3 ListObjectsV2 style."""

    objects: list[Version]
    common_prefixes: list[str]
    is_truncated: bool
    next_start_after: str | None


@dataclass(frozen=True, slots=True)
class Lookup:
    """A current version with its segments (by ``idx``), placements and bucket, from one
    snapshot."""

    version: Version
    segments: list[Segment]
    placements: list[Placement]
    bucket: Bucket


@dataclass(frozen=True, slots=True)
class VersionsPage:
    """One page of a ListObjectVersions listing: versions and delete markers by key
    ascending, newest first within a key; continue from ``next_key_marker`` and
    ``next_version_id_marker`` (an S3 version id; None after a common prefix) while
    ``is_truncated``."""

    versions: list[Version]
    common_prefixes: list[str]
    is_truncated: bool
    next_key_marker: str | None
    next_version_id_marker: str | None


@dataclass(frozen=True, slots=True)
class BucketStats:
    bucket: str
    objects: int
    bytes: int


@dataclass(frozen=True, slots=True)
class Upload:
    """A multipart upload in progress: where its parts go, decided once when it began.

    ``meta`` is the object's metadata as a JSON-ready mapping (the engine's to interpret);
    ``sites`` the site ids every part is written to, under ``policy``; ``checksum`` the
    name of the checksum every part must carry (None: none required)."""

    upload_id: str
    bucket: str
    key: str
    tenant: str
    policy: str
    sites: tuple[str, ...]
    meta: Mapping[str, object]
    initiated: float
    checksum: str | None = None


@dataclass(frozen=True, slots=True)
class PartSegment:
    """One age blob of a part, stored under ``blob_id`` on every site of its upload."""

    idx: int
    blob_id: str
    plaintext_size: int
    header_length: int
    ciphertext_length: int
    ciphertext_sha256: str


@dataclass(frozen=True, slots=True)
class Part:
    """One uploaded part; ``etag`` is the hex MD5 of its plaintext, ``checksums`` the named
    checksums stored with it. ``segments`` are filled by the calls that say so, empty
    otherwise."""

    upload_id: str
    part_number: int
    etag: str
    size: int
    created_at: float
    segments: tuple[PartSegment, ...] = ()
    checksums: Mapping[str, str] = field(default_factory=dict)


#: Object Lock retention modes, as S3 names them.
LOCK_MODES = ("GOVERNANCE", "COMPLIANCE")


@dataclass(frozen=True, slots=True)
class BucketLock:
    """A bucket created with Object Lock, and the retention it gives each new version by
    default: ``mode`` for ``days`` or ``years`` (exactly one), or no default (``mode``
    None)."""

    bucket: str
    mode: str | None = None
    days: int | None = None
    years: int | None = None


@dataclass(frozen=True, slots=True)
class VersionLock:
    """A version's Object Lock: retention (``mode`` until ``retain_until``, epoch seconds)
    and legal hold. ``copies``: the good copies the version keeps while locked (those it
    had when first locked); no copy is forgotten while fewer would remain."""

    version_id: str
    mode: str | None = None
    retain_until: float | None = None
    legal_hold: bool = False
    copies: int = 1

    def retained(self, now: float) -> bool:
        """Under retention at ``now``."""
        return self.mode is not None and self.retain_until is not None and self.retain_until > now

    def locked(self, now: float) -> bool:
        """Under retention or legal hold at ``now``: no copy may fall below ``copies``."""
        return self.legal_hold or self.retained(now)

    def blocks_delete(self, now: float, *, bypass_governance: bool = False) -> str | None:
        """Why deleting the version at ``now`` is refused (None: it may be deleted).
        ``bypass_governance``: the caller may and does bypass GOVERNANCE retention."""
        if self.legal_hold:
            return "legal hold"
        if self.retained(now) and (self.mode == "COMPLIANCE" or not bypass_governance):
            return f"{self.mode} retention"
        return None


#: The kinds of a bucket's data identity.
BUCKET_KEY_KINDS = ("x25519", "mlkem768x25519")


@dataclass(frozen=True, slots=True)
class BucketKey:
    """One version of a bucket's data identity: its ``recipient`` (public) and the identity
    age-encrypted to the deployment's root recipients (``wrapped``: an age file whose
    plaintext is the ``AGE-SECRET-KEY-...`` line)."""

    bucket: str
    version: int
    kind: str
    recipient: str
    wrapped: bytes
    #: The sites a copy of ``wrapped`` was written to (``bkey-<bucket>-<version>``).
    sites: tuple[str, ...] = ()
    created_at: float = 0.0
