"""The ``Catalog`` protocol: the engine's one seam to its metadata store.

Contract:

- Lookups of a missing bucket raise :class:`~domicile.errors.BucketNotFound`; of a missing
  object, :class:`~domicile.errors.ObjectNotFound`. Both carry ``bucket`` (and ``key``).
- Every method that unreferences blobs (``commit_version`` replacing a version,
  ``delete_object``, ``remove_placement``) queues them in the garbage table *in the same
  transaction*, so a crash never leaks a blob nor deletes a referenced one.
- Listing follows S3 ListObjectsV2: keys in UTF-8 byte order, ``start_after`` exclusive,
  common prefixes rolled up under ``delimiter`` and counted toward ``limit``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from domicile.catalog.records import (
    Bucket,
    BucketStats,
    Fault,
    GarbageItem,
    Job,
    ListPage,
    Placement,
    Segment,
    Version,
)

#: Given the audit head (seq, hash), the rows ``(seq, hash, body)`` to append after it.
AuditBuilder = Callable[[int, str], Sequence[tuple[int, str, str]]]


class Catalog(Protocol):
    """Buckets, object versions, segments, placements, faults and the garbage queue."""

    # buckets
    def create_bucket(self, name: str, policy: str, tenant: str = "default") -> Bucket: ...
    def get_bucket(self, name: str) -> Bucket: ...
    def list_buckets(self, tenant: str | None = None) -> list[Bucket]: ...
    def delete_bucket(self, name: str) -> None: ...

    # versions
    def commit_version(
        self,
        version: Version,
        segments: Sequence[Segment],
        placements: Sequence[Placement],
        *,
        audit: AuditBuilder | None = None,
    ) -> Version | None:
        """Make ``version`` current; return the version it replaced (its blobs are queued).
        ``audit`` appends the event's audit records in the same transaction."""
        ...

    def current_version(self, bucket: str, key: str) -> Version: ...
    def get_version(self, version_id: str) -> Version: ...
    def segments(self, version_id: str) -> list[Segment]: ...
    def placements(self, version_id: str) -> list[Placement]: ...
    def delete_object(self, bucket: str, key: str) -> Version | None: ...
    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        limit: int = 1000,
    ) -> ListPage: ...
    def iter_versions(self, bucket: str | None = None) -> Iterator[Version]: ...
    def versions_on_site(self, site_id: str) -> Iterator[Version]: ...
    def stats(self) -> list[BucketStats]: ...

    # placements
    def add_placement(self, placement: Placement) -> None: ...
    def set_placement_state(
        self, version_id: str, site_id: str, state: str, verified_at: float | None = None
    ) -> None: ...
    def remove_placement(self, version_id: str, site_id: str) -> None: ...

    # faults
    def record_fault(
        self,
        version_id: str,
        site_id: str,
        kind: str,
        detail: str,
        segment_idx: int | None = None,
    ) -> None: ...
    def open_faults(
        self, version_id: str | None = None, site_id: str | None = None
    ) -> list[Fault]: ...
    def resolve_faults(self, version_id: str, site_id: str) -> int: ...

    # jobs
    def start_jobs(self, run_id: str, steps: Sequence[dict[str, Any]]) -> tuple[list[int], int]: ...
    def finish_job(self, job_id: int, state: str, detail: str = "") -> None: ...
    def jobs(self, *, state: str | None = None, limit: int = 1000) -> list[Job]: ...

    # audit
    def append_audit(self, build: AuditBuilder) -> list[tuple[int, str, str]]: ...
    def audit_records(self, since: int = 0, limit: int = 10_000) -> list[tuple[int, str, str]]: ...
    def add_audit_checkpoint(self, seq: int, body: str) -> None: ...
    def audit_checkpoints(self) -> list[str]: ...

    # garbage
    def garbage(self, limit: int = 1000) -> list[GarbageItem]: ...
    def garbage_done(self, ids: Sequence[int]) -> None: ...

    def close(self) -> None: ...
