"""The engine's Object Lock and lifecycle API, a mixin of :class:`~domicile.engine.api.Domicile`.

Kept apart from ``api.py`` so each file has one job; the rules are the catalog's and
:mod:`domicile.engine.locking`'s.
"""

from __future__ import annotations

from domicile.audit import Record
from domicile.catalog import BucketLock, Version, VersionLock
from domicile.engine import locking
from domicile.engine.context import EngineContext
from domicile.engine.garbage import collect_garbage
from domicile.engine.lifecycle import LifecycleReport, Rule, enforce, rules_of, store
from domicile.engine.names import check_key
from domicile.engine.tenants import TenantRemoval, remove_tenant
from domicile.engine.versions import check_version_id
from domicile.errors import VersionIsDeleteMarker


class LockApi:
    """Bucket Object Lock configurations, version retention and legal holds, lifecycle."""

    _ctx: EngineContext

    # --- buckets ----------------------------------------------------------------------

    def bucket_lock(self, bucket: str) -> BucketLock | None:
        """The bucket's Object Lock configuration; None if it was created without."""
        return self._ctx.catalog.bucket_lock(bucket)

    def set_bucket_lock(
        self,
        bucket: str,
        mode: str | None = None,
        *,
        days: int | None = None,
        years: int | None = None,
    ) -> BucketLock:
        """Set (or, with ``mode`` None, remove) the default retention of a bucket created
        with Object Lock. LockNotEnabled for a bucket without; InvalidRetention."""
        locking.require_lock(self._ctx, bucket)
        lock = BucketLock(bucket, mode, days, years)
        build, made = None, list[Record]()
        if self._ctx.audit is not None:
            build, made = self._ctx.audit.builder(
                "bucket_lock",
                bucket=bucket,
                detail={"mode": mode or "", "days": days or 0, "years": years or 0},
            )
        self._ctx.catalog.set_bucket_lock(lock, audit=build)
        if self._ctx.audit is not None:
            self._ctx.audit.appended(made)
        return lock

    # --- versions ---------------------------------------------------------------------

    def object_lock(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> VersionLock | None:
        """The version's retention and legal hold (the current version by default); None
        if it has none. LockNotEnabled for a bucket without Object Lock."""
        locking.require_lock(self._ctx, bucket)
        version = self._version(bucket, key, version_id)
        return self._ctx.catalog.version_lock(version.version_id)

    def set_retention(
        self,
        bucket: str,
        key: str,
        mode: str | None,
        retain_until: float | None,
        *,
        version_id: str | None = None,
        bypass_governance: bool = False,
    ) -> VersionLock:
        """Set a version's retention (``mode`` None and ``retain_until`` None clear it).
        Extending is always allowed; shortening a running one is ObjectLocked (COMPLIANCE:
        always; GOVERNANCE: without ``bypass_governance``), and audited."""
        version = self._version(bucket, key, version_id)
        return locking.change_lock(
            self._ctx,
            bucket,
            version.key,
            version.version_id,
            retention=(mode, retain_until),
            bypass_governance=bypass_governance,
        )

    def set_legal_hold(
        self, bucket: str, key: str, on: bool, *, version_id: str | None = None
    ) -> VersionLock:
        """Put a legal hold on a version (no deletion while it is on), or lift it."""
        version = self._version(bucket, key, version_id)
        return locking.change_lock(
            self._ctx, bucket, version.key, version.version_id, legal_hold=on
        )

    # --- lifecycle --------------------------------------------------------------------

    def lifecycle(self, bucket: str) -> list[Rule] | None:
        """The bucket's lifecycle rules; None if it has none."""
        return rules_of(self._ctx, bucket)

    def set_lifecycle(self, bucket: str, rules: list[Rule] | None) -> None:
        """Replace (None: remove) the bucket's lifecycle rules; audited."""
        store(self._ctx, bucket, rules)

    def enforce_lifecycle(self) -> LifecycleReport:
        """Apply every bucket's lifecycle rules once (``domicile sweep`` does), never
        expiring a version under retention or legal hold."""
        report = enforce(self._ctx)
        collect_garbage(self._ctx)
        return report

    def remove_tenant(self, tenant: str) -> TenantRemoval:
        """Remove every version, delete marker, upload and bucket of ``tenant``, except
        the versions Object Lock protects (and their buckets); see engine/tenants.py."""
        return remove_tenant(self._ctx, tenant)

    def _version(self, bucket: str, key: str, version_id: str | None) -> Version:
        """The current version, or the one of S3 id ``version_id`` (VersionNotFound). A
        delete marker cannot be locked: VersionIsDeleteMarker (S3: 405 MethodNotAllowed)."""
        check_key(key, bucket=bucket)
        if version_id is None:
            return self._ctx.catalog.current_version(bucket, key)
        check_version_id(version_id, bucket=bucket, key=key)
        found = self._ctx.catalog.find_version(bucket, key, version_id)
        if found.delete_marker:
            raise VersionIsDeleteMarker(
                f"{bucket}/{key} version {version_id} is a delete marker: it has no lock",
                hint="lock the versions that hold bytes ('domicile ls --versions')",
                bucket=bucket,
                key=key,
                version=version_id,
            )
        return found
