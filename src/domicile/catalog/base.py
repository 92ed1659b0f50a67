"""The ``Catalog`` protocol: the engine's one seam to its metadata store.

Contract, for every implementation:

- A missing bucket raises :class:`~domicile.errors.BucketNotFound` (context ``bucket``);
  a missing object :class:`~domicile.errors.ObjectNotFound` (context ``bucket`` and
  ``key``, or ``version`` when looked up by id). Other failures of the database raise
  :class:`~domicile.errors.CatalogError`; an invalid argument (an unknown placement state)
  raises ``ValueError``, a programming error.
- Every method is one transaction: it happens entirely or not at all.
- Every method that unreferences a version's blobs first passes the Object Lock guard
  (``catalog/objectlocks.py``: ``guard_forget``) in the same transaction, and raises
  :class:`~domicile.errors.ObjectLocked` without forgetting anything when the version is
  locked and would be deleted or keep fewer good copies than its lock needs.
- Every method that unreferences blobs (``commit_version`` replacing a version,
  ``delete_object``, ``remove_placement``, and for multipart uploads ``put_part`` replacing
  a part, ``complete_upload``, ``abort_upload``, ``delete_bucket``) queues them in the
  garbage queue *in the same transaction*, so a crash never leaks a blob nor deletes a
  referenced one. The engine deletes queued blobs from the sites, then calls
  ``garbage_done``.
- At most one version per (bucket, key) is current, also under concurrent writers; when a
  key has versions, the newest (highest ``seq``) is current. Versioning rules (noncurrent
  versions kept, null versions replaced, delete markers) are docs/catalog.md's
  "Versioning"; every removal of a version for good goes through one function,
  ``versionrows.drop_version``.
- Listing follows S3 ListObjectsV2: keys in UTF-8 byte order, ``start_after`` exclusive,
  common prefixes rolled up under ``delimiter`` and counted toward ``limit``.
- Implementations are thread-safe: one instance serves every worker thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from domicile.catalog.records import (
    Bucket,
    BucketKey,
    BucketLock,
    BucketStats,
    CompletedUpload,
    Expect,
    Fault,
    GarbageItem,
    Holder,
    Job,
    Lease,
    ListPage,
    Lookup,
    Part,
    Placement,
    Segment,
    Upload,
    Version,
    VersionLock,
    VersionsPage,
)

#: Given the audit head (seq, hash), the rows ``(seq, hash, body)`` to append after it.
AuditBuilder = Callable[[int, str], Sequence[tuple[int, str, str]]]


class Catalog(Protocol):
    """Buckets, object versions, segments, placements, faults and the garbage queue."""

    # buckets
    def create_bucket(
        self,
        name: str,
        policy: str,
        tenant: str = "default",
        *,
        object_lock: bool = False,
        audit: AuditBuilder | None = None,
    ) -> Bucket:
        """Create a bucket bound to ``policy``. BucketAlreadyExists if the name is taken.
        ``object_lock``: with Object Lock (no default retention) and versioning
        ``Enabled``, in the same transaction; ``audit`` appended in it too."""
        ...

    def get_bucket(self, name: str) -> Bucket:
        """BucketNotFound if absent."""
        ...

    def list_buckets(self, tenant: str | None = None) -> list[Bucket]:
        """Buckets by name, of one tenant or (None) of all."""
        ...

    def delete_bucket(self, name: str) -> list[str]:
        """BucketNotFound if absent, BucketNotEmpty while it holds an object. Multipart
        uploads in progress into it are aborted in the same transaction (their blobs
        queued); their ids are returned."""
        ...

    def set_versioning(
        self, name: str, status: str, *, audit: AuditBuilder | None = None
    ) -> Bucket:
        """Set the bucket's versioning status (``Enabled`` or ``Suspended``; ValueError
        otherwise: it never goes back to unversioned), ``audit`` appended in the same
        transaction; return the bucket as it is now. BucketNotFound."""
        ...

    # versions
    def commit_version(
        self,
        version: Version,
        segments: Sequence[Segment],
        placements: Sequence[Placement],
        *,
        audit: AuditBuilder | None = None,
        expect: Expect | None = None,
    ) -> Version | None:
        """Make ``version`` (its ``state`` and ``seq`` ignored) the current version of its
        key, with its segments and placements, in one transaction. The version that was
        current stays as a noncurrent one, unless ``version`` is a null version: then the
        key's null version, if any (current or not), is removed for good, all its blobs
        (segments and manifest, on each of its sites) queued as garbage, and returned for
        the audit trail (in an unversioned bucket: the version replaced, as before
        versioning). ``audit`` appends the event's audit
        records in the same transaction. BucketNotFound if the bucket is gone.

        ``expect`` makes the commit conditional, decided in the same transaction (a
        compare-and-set: of two writers expecting the key absent, exactly one commits):
        PreconditionFailed when the current version is not what it says, ObjectNotFound
        when it expects an ETag and there is no current version; nothing is written then,
        and the caller owns the blobs it wrote."""
        ...

    def current_version(self, bucket: str, key: str) -> Version:
        """The version a GET serves. BucketNotFound, or ObjectNotFound (bucket, key; with
        ``delete_marker=True`` and ``version``, the marker's S3 id, when the key's current
        version is a delete marker)."""
        ...

    def find_version(self, bucket: str, key: str, version_id: str) -> Version:
        """The key's version whose S3 id is ``version_id`` (``null``: its null version),
        delete markers included. BucketNotFound, or VersionNotFound."""
        ...

    def lookup(self, bucket: str, key: str, version_id: str | None = None) -> Lookup:
        """``current_version`` (or ``find_version`` with ``version_id``) with its segments,
        placements and bucket in one read transaction: never a version with the segments
        of another, nor none if replaced meanwhile. BucketNotFound, ObjectNotFound as
        ``current_version``, VersionNotFound, or VersionIsDeleteMarker (a version id that
        names a delete marker)."""
        ...

    def commit_versions(
        self, items: Sequence[tuple[Version, Sequence[Segment], Sequence[Placement]]]
    ) -> None:
        """:meth:`commit_version` of each, in order, in one transaction, without audit
        record or condition (``rebuild-catalog``: a key's versions oldest first)."""
        ...

    def get_version(self, version_id: str) -> Version:
        """By internal id. ObjectNotFound (context ``version``) once removed for good."""
        ...

    def segments(self, version_id: str) -> list[Segment]:
        """Ordered by ``idx``; empty for an unknown version."""
        ...

    def placements(self, version_id: str) -> list[Placement]:
        """Ordered by site id; empty for an unknown version."""
        ...

    def copies_of(self, version_ids: Sequence[str]) -> dict[str, tuple[list[Placement], int]]:
        """For each version id: its placements (by site id) and the bytes of its segments'
        ciphertext, in one snapshot (a version gone: no placements, 0 bytes)."""
        ...

    def delete_object(
        self, bucket: str, key: str, *, bypass_governance: bool = False
    ) -> Version | None:
        """Forget the current version, queueing its blobs; None if there was none (S3
        deletes are idempotent). BucketNotFound if the bucket is gone; ObjectLocked if
        the version is under legal hold or retention (GOVERNANCE retention can be
        bypassed with ``bypass_governance``). For an unversioned bucket; in a versioned
        one the engine commits a delete marker instead."""
        ...

    def delete_version(
        self,
        bucket: str,
        key: str,
        version_id: str,
        *,
        audit: AuditBuilder | None = None,
        bypass_governance: bool = False,
    ) -> tuple[Version, Version | None] | None:
        """Remove the version ``version_id`` (the catalog's id, not the S3 one: resolve a
        ``null`` with ``find_version`` first) of bucket/key for good (a delete marker too),
        queueing its blobs, ``audit`` appended in the same transaction. If it was current,
        the newest remaining version becomes current. Returns (the version removed, the
        version made current or None), or None if there was no such version.
        BucketNotFound; ObjectLocked as for ``delete_object``."""
        ...

    def list_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        limit: int = 1000,
    ) -> VersionsPage:
        """One ListObjectVersions page (``limit`` capped at 1,000): versions and delete
        markers, key ascending then newest first, after the markers (``version_id_marker``
        an S3 id of a version of ``key_marker``; one removed since the page that named it
        resumes at the key's newest remaining version: a version may be listed twice,
        never skipped). BucketNotFound."""
        ...

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        limit: int = 1000,
    ) -> ListPage:
        """One ListObjectsV2 page (``limit`` capped at 1,000); continue from
        ``next_start_after`` while ``is_truncated``. BucketNotFound if absent."""
        ...

    def iter_versions(self, bucket: str | None = None) -> Iterator[Version]:
        """Every version (of one bucket): current and noncurrent ones and delete markers,
        paged internally (bounded memory)."""
        ...

    def versions_on_site(self, site_id: str) -> Iterator[Version]:
        """Every version with a placement on ``site_id``, paged internally."""
        ...

    def iter_copies(
        self, bucket: str | None = None
    ) -> Iterator[tuple[Version, list[Segment], list[Placement]]]:
        """As :meth:`iter_placed`, with each version's segments (by index) too."""
        ...

    def iter_placed(self, bucket: str | None = None) -> Iterator[tuple[Version, list[Placement]]]:
        """Every version :meth:`iter_versions` gives, with its placements (by site id):
        two queries per page of versions, never one per version; bounded memory."""
        ...

    def stats(self) -> list[BucketStats]:
        """Objects and bytes per bucket, by bucket name (empty buckets included)."""
        ...

    # multipart uploads
    def create_upload(self, upload: Upload, *, audit: AuditBuilder | None = None) -> None:
        """Record an upload in progress (its sites decided already). BucketNotFound if the
        bucket is gone. ``audit`` is appended in the same transaction."""
        ...

    def get_upload(self, upload_id: str) -> Upload:
        """UploadNotFound (context ``upload``) once completed or aborted, or if never begun."""
        ...

    def put_part(self, part: Part) -> Part | None:
        """Record ``part`` with its segments, replacing the part of that number if there
        is one (its blobs queued on the upload's sites); return the replaced part.
        UploadNotFound if the upload is gone: the caller then owns the part's blobs."""
        ...

    def list_parts(self, upload_id: str, *, after: int = 0, limit: int = 1000) -> list[Part]:
        """Up to ``limit`` parts numbered above ``after``, ascending, without segments.
        UploadNotFound if the upload is gone."""
        ...

    def upload_parts(self, upload_id: str) -> list[Part]:
        """Every part, ascending, with its segments, in one snapshot. UploadNotFound."""
        ...

    def complete_upload(
        self,
        upload_id: str,
        version: Version,
        segments: Sequence[Segment],
        placements: Sequence[Placement],
        *,
        audit: AuditBuilder | None = None,
        expect: Expect | None = None,
        listed: Sequence[tuple[int, str]] = (),
    ) -> Version | None:
        """``commit_version`` (``expect`` included) for the object an upload assembled, in
        one transaction that also forgets the upload and its parts, queues the blobs of
        parts ``segments`` do not use, and remembers the upload as completed with the
        ``listed`` ``(part number, ETag)`` (``completed_upload``). UploadNotFound if the
        upload is gone or is for another bucket/key; InvalidPart if a segment's blob is no
        longer one of the upload's (its part was replaced meanwhile). Returns the version
        replaced, as ``commit_version`` does."""
        ...

    def completed_upload(self, upload_id: str) -> CompletedUpload | None:
        """The upload ``upload_id`` as it was completed, or None (never completed, or
        forgotten since)."""
        ...

    def forget_completed_uploads(self, before: float) -> int:
        """Forget the uploads completed before ``before`` (epoch seconds); how many."""
        ...

    def abort_upload(self, upload_id: str, *, audit: AuditBuilder | None = None) -> Upload:
        """Forget the upload and its parts, queueing their blobs; return it. UploadNotFound."""
        ...

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        limit: int = 1000,
    ) -> list[Upload]:
        """Up to ``limit`` uploads (not capped) into ``bucket`` under ``prefix``, by key then
        upload id, after the markers as S3 ListMultipartUploads reads them: keys above
        ``key_marker``, and with ``upload_id_marker`` also that key's uploads with a greater
        id. BucketNotFound if absent."""
        ...

    def uploads_initiated_before(self, when: float, limit: int = 1000) -> list[Upload]:
        """Up to ``limit`` uploads begun before ``when`` (epoch seconds), oldest first."""
        ...

    def upload_blobs_on_site(self, site_id: str) -> set[str]:
        """The blob ids of every uploaded part whose upload writes to ``site_id``."""
        ...

    # placements
    def add_placement(self, placement: Placement) -> None:
        """Record a copy (replacing the row if the site already has one). ObjectNotFound
        if the version was replaced or deleted meanwhile: the copied blobs are then
        unreferenced and left for the sweep."""
        ...

    def set_placement_state(
        self, version_id: str, site_id: str, state: str, verified_at: float | None = None
    ) -> None:
        """Set a copy's state (``verified_at`` kept when None); no-op if no such copy."""
        ...

    def mark_verified(self, copies: Sequence[tuple[str, str, str, float]]) -> None:
        """Set each ``(version_id, site_id, seen, verified_at)`` copy ``ok``, verified at
        ``verified_at``, in one transaction, if its state is still ``seen`` (what it was
        when the check began); a copy whose state changed since, or that is gone, is
        skipped."""
        ...

    def remove_placement(
        self, version_id: str, site_id: str, *, counted: Sequence[str] = (), at_least: int = 0
    ) -> str:
        """Forget a copy and queue its blobs on that site: ``"removed"``; ``"absent"`` (a
        no-op) if no such copy. Guarded: unless at least ``at_least`` other ``ok`` copies
        of the version are on ``counted`` sites, decided in the same transaction, nothing
        is removed and the answer is ``"short"``. ObjectLocked (nothing forgotten) if the
        version is locked and would keep fewer good copies than its lock needs."""
        ...

    # bucket data identities
    def bucket_keys(self, bucket: str) -> list[BucketKey]:
        """Every version of the bucket's data identity (wrapped), oldest first."""
        ...

    def add_bucket_key(self, key: BucketKey) -> None:
        """Store a new version of a bucket's identity; CatalogConflict if taken."""
        ...

    def forget_bucket_key(self, bucket: str, version: int) -> None:
        """Delete one version of the bucket's identity."""
        ...

    def forget_bucket_keys(self, bucket: str) -> int:
        """Delete every version of the bucket's identity; return how many."""
        ...

    # object lock and lifecycle
    def bucket_lock(self, bucket: str) -> BucketLock | None:
        """The bucket's Object Lock configuration; None if created without. BucketNotFound."""
        ...

    def set_bucket_lock(self, lock: BucketLock, *, audit: AuditBuilder | None = None) -> None:
        """Enable Object Lock on a bucket with ``lock``'s default retention (replacing the
        previous default). BucketNotFound; InvalidRetention for a malformed default."""
        ...

    def version_lock(self, version_id: str) -> VersionLock | None:
        """The version's retention and legal hold; None if it never had one."""
        ...

    def lock_new_version(self, lock: VersionLock) -> None:
        """Record the lock of a version about to be committed (before its commit, so it
        is never committed unlocked); ``lock.copies`` is the number of copies written."""
        ...

    def locked_versions(self, now: float) -> list[VersionLock]:
        """Every version lock in force at ``now`` (epoch seconds), by version id."""
        ...

    def set_version_lock(
        self,
        lock: VersionLock,
        *,
        bypass_governance: bool = False,
        audit: AuditBuilder | None = None,
    ) -> VersionLock | None:
        """Set a version's retention and legal hold, returning the previous lock;
        ObjectLocked when it would shorten a running retention (COMPLIANCE always,
        GOVERNANCE without ``bypass_governance``). ObjectNotFound if the version is gone."""
        ...

    def lifecycle(self, bucket: str) -> str | None:
        """The bucket's lifecycle rules (JSON text), or None. BucketNotFound."""
        ...

    def set_lifecycle(
        self, bucket: str, rules: str | None, *, audit: AuditBuilder | None = None
    ) -> None:
        """Replace (None: remove) the bucket's lifecycle rules. BucketNotFound."""
        ...

    # faults
    def record_fault(
        self,
        version_id: str,
        site_id: str,
        kind: str,
        detail: str,
        segment_idx: int | None = None,
    ) -> None:
        """Record a fault seen reading a copy (``kind``: see FAULT_KINDS)."""
        ...

    def open_faults(self, version_id: str | None = None, site_id: str | None = None) -> list[Fault]:
        """Unresolved faults, oldest first, optionally filtered."""
        ...

    def resolve_faults(self, version_id: str, site_id: str) -> int:
        """Mark a copy's open faults resolved; return how many."""
        ...

    # jobs (claimed under leases: see ``catalog/leases.py``)
    def add_jobs(self, run_id: str, steps: Sequence[Mapping[str, Any]]) -> None:
        """Record ``steps`` as pending jobs of ``run_id`` in one transaction."""
        ...

    def claim_jobs(self, run_id: str, holder: str, versions: int, seconds: float) -> list[Job]:
        """Claim the pending, unheld jobs of up to ``versions`` versions of ``run_id`` for
        ``holder`` until ``seconds`` from now (a version's jobs together)."""
        ...

    def renew_jobs(self, holder: str, seconds: float) -> int:
        """Extend the lease of every pending job ``holder`` claimed; how many."""
        ...

    def finish_job(self, job_id: int, state: str, detail: str = "") -> None: ...
    def abandon_jobs(self, run_id: str, detail: str) -> int:
        """Mark the run's pending jobs ``interrupted``; how many."""
        ...

    def jobs(
        self, *, state: str | None = None, run_id: str | None = None, limit: int = 1000
    ) -> list[Job]: ...

    # leases
    def acquire_lease(
        self, kind: str, bucket: str | None, holder: Holder, seconds: float
    ) -> list[Lease]:
        """Hold ``kind`` on ``bucket`` (None: every bucket); LeaseHeld while another run
        holds an overlapping live lease. Expired overlapping leases are taken over (their
        runs' pending jobs marked ``interrupted``) and returned."""
        ...

    def renew_lease(self, kind: str, bucket: str | None, run_id: str, seconds: float) -> bool:
        """Extend the run's lease; False once it lost it."""
        ...

    def release_lease(self, kind: str, bucket: str | None, run_id: str) -> None: ...
    def leases(self) -> list[Lease]: ...

    # audit
    def append_audit(self, build: AuditBuilder) -> list[tuple[int, str, str]]:
        """Append ``build(head_seq, head_hash)`` atomically: the chain never forks."""
        ...

    def audit_records(self, since: int = 0, limit: int = 10_000) -> list[tuple[int, str, str]]:
        """Records with ``seq > since`` in order, as ``(seq, hash, body)``."""
        ...

    def add_audit_checkpoint(self, seq: int, body: str) -> None:
        """Store a checkpoint; idempotent per ``seq``."""
        ...

    def put_tree_checkpoint(self, size: int, note: str, nodes: str) -> None:
        """Store the transparency-log checkpoint of tree ``size`` (replacing the note of
        that size: it gains cosignatures as witnesses answer)."""
        ...

    def tree_checkpoints(
        self, *, newest: int | None = None, at: int | None = None
    ) -> list[tuple[int, str, str]]:
        """Stored tree checkpoints ``(size, note, nodes)`` by size; ``newest``: only the
        last that many; ``at``: only the one of that size."""
        ...

    def restore_audit(self, rows: Sequence[tuple[int, str, str]]) -> int:
        """Insert ``(seq, hash, body)`` records restored from the sites, in one transaction;
        a seq already stored with the same hash is skipped, with another hash it is a
        CatalogError (nothing inserted). Returns how many were inserted."""
        ...

    def audit_checkpoints(self) -> list[str]: ...

    # garbage
    def garbage(
        self, limit: int = 1000, *, origins: Sequence[str] | None = None
    ) -> list[GarbageItem]:
        """Queued blobs to delete, oldest first; with ``origins``, only the blobs of those
        versions or uploads (what one call unreferenced)."""
        ...

    def garbage_done(self, ids: Sequence[int]) -> None:
        """Drop these items from the queue (after deleting the blobs); unknown ids ignored."""
        ...

    def claim_garbage(self, holder: str, limit: int, seconds: float) -> list[GarbageItem]:
        """Claim up to ``limit`` queued items no live collector holds (oldest first) until
        ``seconds`` from now: only a claimed item's blob may be deleted."""
        ...

    def release_garbage(self, ids: Sequence[int]) -> None:
        """Give claimed items back to the queue."""
        ...

    def reclaim_blobs(self, version_id: str, site_id: str) -> int:
        """Cancel the queued deletions of the version's blobs on ``site_id`` before a copy
        is written there again; return how many a live collector holds (not cancelled).
        ObjectNotFound if the version was replaced or deleted."""
        ...

    def close(self) -> None:
        """Release the database's connections."""
        ...
