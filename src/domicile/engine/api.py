"""The composition root: :func:`open` builds an engine from a configuration file.

``Domicile`` is the one engine that the library, the CLI and the gateway all use. It owns
the catalog, the residency world (entities, sites, policies), the keyring, one ``Site``
per configured site (wrapped for retries) and a pool of worker threads for fan-out.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any

from domicile.audit import CheckpointPolicy, Record, Scalar
from domicile.catalog import Bucket, BucketKey, Expect, VersionLock, open_catalog
from domicile.config import PASSPHRASE_ENV, Config, load_config
from domicile.crypto import Secret, parse_recipient
from domicile.engine import multipart, versions
from domicile.engine.apply import ApplyReport, Confirm, OnResult, apply_plan
from domicile.engine.auditlog import AuditLog, acting_as, cli_actor, open_audit_key
from domicile.engine.bucketkeys import BucketKeyring, key_blob_id
from domicile.engine.context import EngineContext, recipient_kind_error
from domicile.engine.copy import copy_object, fed
from domicile.engine.facts import (
    HistoryReport,
    Report,
    Shortfall,
    Violation,
    build_history,
    build_report,
    report_rows,
)
from domicile.engine.garbage import collect_garbage
from domicile.engine.guarded import GuardedSite
from domicile.engine.health import SiteHealth, probe_sites
from domicile.engine.keysource import open_keyring
from domicile.engine.lockapi import LockApi
from domicile.engine.lockmirror import check_sites, mirror_all
from domicile.engine.multipart import CompositeChecksums
from domicile.engine.names import check_bucket_name, check_key
from domicile.engine.plan import OnStep, PlanSummary, make_plan
from domicile.engine.policylog import record_policy_changes
from domicile.engine.reader import iter_range
from domicile.engine.rebuild import RebuildReport, rebuild_catalog
from domicile.engine.records import (
    CopyInfo,
    Deletion,
    Digester,
    ListResult,
    ObjectInfo,
    ObjectMeta,
    ObjectReader,
    PartInfo,
    PartsPage,
    SiteView,
    UploadInfo,
    UploadsPage,
    VersionsList,
)
from domicile.engine.refusals import ACTOR as REFUSALS_ACTOR
from domicile.engine.refusals import RefusalTally
from domicile.engine.registries import warnings_for, world_of
from domicile.engine.repair import RepairReport, repair
from domicile.engine.residency import copies_of, site_views
from domicile.engine.rewrap import RewrapReport, rewrap_bucket_keys
from domicile.engine.shred import ShredPlan, ShredReceipt, plan_shred, shred_bucket
from domicile.engine.sitelog import record_site_changes
from domicile.engine.sweep import DEFAULT_GRACE, SweepReport, sweep_leftovers, sweep_orphans
from domicile.engine.tlog import TreeLog, Witness, origin_for
from domicile.engine.verify import Level, VerifyReport, verify
from domicile.engine.versions import check_version_id, object_info
from domicile.engine.writer import Body, Checksums, put_object
from domicile.errors import BucketNotEmpty, ConfigError, CryptoError, InvalidName, InvalidRange
from domicile.policy import Decision, check_copy, decide
from domicile.sites import RetryingSite, Site, open_site


def open(config: Config | str | os.PathLike[str], *, passphrase: str | None = None) -> Domicile:
    """Open the deployment described by ``config`` (a :class:`Config` or a TOML file path).

    The keyring passphrase, if the keyring has one, comes from ``passphrase`` or the
    ``DOMICILE_PASSPHRASE`` environment variable.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    return Domicile(cfg, passphrase=passphrase)


class Domicile(LockApi):
    """One deployment: store, read, list and locate objects under residency policies."""

    def __init__(self, config: Config, *, passphrase: str | None = None) -> None:
        self.config = config
        world = world_of(config)
        secret = passphrase if passphrase is not None else os.environ.get(PASSPHRASE_ENV)
        keyring = open_keyring(config, Secret(secret) if secret else None)
        _check_recipients(world.policies, config.path)
        catalog = open_catalog(config.catalog_url)
        sites: dict[str, Site] = {
            site_id: RetryingSite(open_site(site_id, spec.backend, base_dir=config.base_dir))
            for site_id, spec in world.sites.items()
        }
        self._ctx = EngineContext(
            catalog=catalog,
            world=world,
            sites=sites,
            keyring=keyring,
            executor=ThreadPoolExecutor(config.deployment.workers, "domicile"),
            segment_size=config.segment_size,
            registry_warnings=warnings_for(config, world.registry),
            lease_seconds=config.deployment.lease_seconds,
        )
        self._ctx.bucket_keys = BucketKeyring(catalog, keyring, on_made=self._key_made)
        try:
            check_sites(self._ctx)  # lock = "mirror" on a store that cannot: refused now
        except BaseException:
            self._ctx.executor.shutdown()
            catalog.close()
            raise
        self._ctx.prober.start()
        audit_key, created = open_audit_key(config.base_dir / config.deployment.audit_key)
        # Checkpoints go to every active site some policy allows: a site no policy allows,
        # or a suspended one, gets no byte from us, not even a signature.
        # Each behind its breaker: sealing on close is never held by a hung site.
        evidence_sites: dict[str, Site] = {
            sid: GuardedSite(site, self._ctx.prober)
            for sid, site in sites.items()
            if world.sites[sid].status.writable
            and any(check_copy(p, world, sid).compliant for p in world.policies.values())
        }
        self._ctx.audit = AuditLog(
            catalog,
            audit_key,
            evidence_sites,
            actor=cli_actor(),
            policy=CheckpointPolicy(every_records=config.deployment.checkpoint_every),
            # one kind per file: the classic identities (stock age 1.1 reads the history),
            # the post-quantum ones only in a keyring that has nothing else
            history=(
                keyring.recipients_of(post_quantum=False) or keyring.recipients
                if config.deployment.audit_history
                else ()
            ),
            tree=TreeLog(
                catalog,
                audit_key,
                config.audit.origin or origin_for(config.deployment.name, audit_key.key_id),
                evidence_sites,
                [Witness.of(w) for w in config.audit.witnesses],
                quorum=config.audit.needed,
                timeout=config.audit.witness_timeout,
            ),
        )
        if created:
            self._ctx.record("audit_key_created", detail={"key_id": audit_key.key_id})
            for recipient in keyring.recipients:  # made before the log began (domicile init)
                self._ctx.record(
                    "key_created", detail={"recipient": str(recipient), "source": "keyring"}
                )
        self._refusals = RefusalTally(self._record_refusals)
        audit_cache = config.base_dir / f"{config.deployment.audit_key}.policies.json"
        record_policy_changes(self._ctx.audit, world.policies, audit_cache)
        sites_cache = config.base_dir / f"{config.deployment.audit_key}.sites.json"
        record_site_changes(self._ctx.audit, world, sites_cache)
        for name, section in config.buckets.items():
            self._ensure_bucket(name, section.policy, section.tenant)

    # --- life cycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Record the pending refusals and sign the audit head, then release threads,
        connections and the catalog.

        Raises :class:`~domicile.errors.AuditAltered` (after releasing everything) when
        the audit chain does not verify: then nothing was signed."""
        try:
            try:
                self._refusals.flush(everything=True)
            except Exception:  # the counts are a side channel: they never cost the seal
                logging.getLogger("domicile.audit").exception("recording refusals failed")
            if self._ctx.audit is not None:
                self._ctx.audit.seal()
        finally:
            self._ctx.prober.stop()
            self._ctx.executor.shutdown(wait=True)
            for site in self._ctx.sites.values():
                site.close()
            self._ctx.catalog.close()
            self._ctx.keyring.close()

    def __enter__(self) -> Domicile:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def context(self) -> EngineContext:
        """The shared run-time state (for the engine's own services and tests)."""
        return self._ctx

    # --- buckets ------------------------------------------------------------------------

    def create_bucket(
        self, name: str, policy: str, tenant: str = "default", *, object_lock: bool = False
    ) -> Bucket:
        """Create a bucket bound to ``policy``; the policy must exist and be satisfiable.
        ``object_lock``: its versions can be locked (see docs/object-lock.md); this cannot
        be turned off."""
        check_bucket_name(name)
        self._ctx.policy(policy)
        build, made = None, list[Record]()
        if self._ctx.audit is not None:
            detail: dict[str, Scalar] = {"tenant": tenant}
            if object_lock:  # versioning on, for good: a locked version is never replaced
                detail |= {"object_lock": True, "versioning": "Enabled"}
            build, made = self._ctx.audit.builder(
                "bucket_create", bucket=name, policy=policy, detail=detail
            )
        bucket = self._ctx.catalog.create_bucket(
            name, policy, tenant, object_lock=object_lock, audit=build
        )
        if self._ctx.audit is not None:
            self._ctx.audit.appended(made)
        return bucket

    def bucket(self, name: str) -> Bucket:
        return self._ctx.catalog.get_bucket(name)

    def list_buckets(self, tenant: str | None = None) -> list[Bucket]:
        return list(self._ctx.catalog.list_buckets(tenant))

    def delete_bucket(self, name: str) -> None:
        """Delete an empty bucket (BucketNotEmpty while it holds an object); multipart
        uploads in progress into it are aborted and their parts' blobs removed. Refusing a
        bucket with Object Lock is audited (``bucket_delete``, ``refused``)."""
        try:
            aborted = self._ctx.catalog.delete_bucket(name)
        except BucketNotEmpty as exc:
            if self._ctx.catalog.get_bucket(name).object_lock:
                self._ctx.record(
                    "bucket_delete", bucket=name, result="refused", detail={"reason": exc.message}
                )
            raise
        self._ctx.record("bucket_delete", bucket=name, detail={"uploads_aborted": len(aborted)})
        if aborted:
            collect_garbage(self._ctx)

    def _ensure_bucket(self, name: str, policy: str, tenant: str) -> None:
        if any(b.name == name for b in self._ctx.catalog.list_buckets(None)):
            return
        try:
            self.create_bucket(name, policy, tenant)
        except (InvalidName, ConfigError) as exc:
            raise ConfigError(
                f"{self.config.path}: buckets.{name}: {exc.message}",
                hint=exc.hint,
                file=str(self.config.path),
                key=f"buckets.{name}",
            ) from None

    # --- objects ------------------------------------------------------------------------

    def put(
        self,
        bucket: str,
        key: str,
        body: Body,
        *,
        content_type: str = "application/octet-stream",
        metadata: Mapping[str, str] | None = None,
        meta: ObjectMeta | None = None,
        checksums: Checksums | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        """Store ``body`` (bytes, a binary file, or an iterable of bytes) as bucket/key.

        ``checksums``, called once the body has been read to its end, gives named
        checksums (name -> encoded value) stored with the version as full-object ones.

        Conditional writes, decided atomically with the commit: ``if_none_match`` stores
        only if the key has no object, ``if_match`` only if its object's ETag is that
        one (``*``: any object). Else PreconditionFailed (ObjectNotFound for ``if_match``
        on a key without object), and nothing written remains on any site."""
        meta = meta or ObjectMeta(content_type=content_type, user=dict(metadata or {}))
        expect = conditions(if_match, if_none_match)
        return put_object(self._ctx, bucket, key, body, meta, checksums=checksums, expect=expect)

    def lock_of(self, info: ObjectInfo) -> VersionLock | None:
        """The Object Lock of the version ``info`` describes (None: it has none)."""
        return self._ctx.catalog.version_lock(info.version_id)

    def head(self, bucket: str, key: str, *, version_id: str | None = None) -> ObjectInfo:
        """The object's current version, or its version ``version_id`` (an S3 id: ``null``
        or one a versioned write returned), delete markers included. ObjectNotFound
        (``delete_marker`` in its context when the current version is one),
        VersionNotFound, InvalidName for a malformed id."""
        check_key(key, bucket=bucket)
        if version_id is None:
            return object_info(self._ctx.catalog.current_version(bucket, key))
        check_version_id(version_id, bucket=bucket, key=key)
        return object_info(self._ctx.catalog.find_version(bucket, key, version_id))

    def get(
        self,
        bucket: str,
        key: str,
        start: int = 0,
        end: int | None = None,
        *,
        version_id: str | None = None,
    ) -> ObjectReader:
        """Stream bytes ``[start, end)`` of the object (``end=None``: to its end), of its
        version ``version_id`` if given (VersionIsDeleteMarker if that is a delete
        marker; errors otherwise as :meth:`head`)."""
        check_key(key, bucket=bucket)
        if version_id is not None:
            check_version_id(version_id, bucket=bucket, key=key)
        found = self._ctx.catalog.lookup(bucket, key, version_id)  # one snapshot
        version = found.version
        size = version.size
        stop = size if end is None else min(end, size)
        if start < 0 or stop < start or 0 < size <= start:
            raise InvalidRange(
                f"range [{start}, {end}) is outside {bucket}/{key} ({size} bytes)",
                hint="ask for a range that starts before the object's size",
                bucket=bucket,
                key=key,
            )
        policy = self._ctx.policy(found.bucket.policy)
        if policy.audit_reads:
            self._ctx.record(
                "get",
                bucket=bucket,
                key=key,
                version=version.version_id,
                policy=policy.name,
                detail={"start": start, "end": stop},
            )
        chunks = iter_range(self._ctx, found, start, stop)
        return ObjectReader(object_info(version), start, stop, chunks)

    def delete(self, bucket: str, key: str, *, bypass_governance: bool = False) -> bool:
        """Remove the object (in a versioned bucket: write a delete marker); ``False`` if
        there was nothing to remove (deleting is idempotent). See :meth:`remove`."""
        removed = self.remove(bucket, key, bypass_governance=bypass_governance)
        return removed.version_id is not None

    def remove(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None = None,
        bypass_governance: bool = False,
    ) -> Deletion:
        """Delete the object: an unversioned bucket forgets it and removes its blobs; a
        versioned (or suspended) one writes a delete marker, placed by the bucket's
        policy like any version. With ``version_id`` (an S3 id), remove that version or
        delete marker for good, from every site; the key's newest remaining version
        becomes current. Deleting what does not exist does nothing. Removing a version
        under legal hold or retention is ObjectLocked (audited); GOVERNANCE retention is
        bypassed with ``bypass_governance`` (the caller checks the right)."""
        return versions.remove(
            self._ctx, bucket, key, version_id, bypass_governance=bypass_governance
        )

    def versioning(self, bucket: str) -> str | None:
        """The bucket's versioning status: ``Enabled``, ``Suspended`` or None (never
        enabled)."""
        return self._ctx.catalog.get_bucket(bucket).versioning

    def set_versioning(self, bucket: str, status: str) -> Bucket:
        """Turn versioning ``Enabled`` or ``Suspended`` (ValueError otherwise; a bucket
        never goes back to unversioned), recorded in the audit log."""
        return versions.set_versioning(self._ctx, bucket, status)

    def list_versions(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        key_marker: str = "",
        version_id_marker: str = "",
        limit: int = 1000,
    ) -> VersionsList:
        """One page of versions and delete markers, by key then newest first (S3
        ListObjectVersions); continue from ``next_key_marker`` and
        ``next_version_id_marker`` while ``is_truncated``."""
        return versions.list_versions(
            self._ctx,
            bucket,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_id_marker,
            limit=limit,
        )

    def list(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        start_after: str = "",
        limit: int = 1000,
    ) -> ListResult:
        """One page of objects in key order (S3 ListObjectsV2 semantics)."""
        page = self._ctx.catalog.list_objects(
            bucket, prefix=prefix, delimiter=delimiter, start_after=start_after, limit=limit
        )
        return ListResult(
            objects=[object_info(v) for v in page.objects],
            common_prefixes=list(page.common_prefixes),
            is_truncated=page.is_truncated,
            next_start_after=page.next_start_after,
        )

    def copy(
        self,
        src_bucket: str,
        src_key: str,
        dst_bucket: str,
        dst_key: str,
        *,
        meta: ObjectMeta | None = None,
        digester: Digester | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
        src_version_id: str | None = None,
    ) -> ObjectInfo:
        """Copy an object (its version ``src_version_id``, if given), placed and
        encrypted under the destination bucket's policy;
        ``meta`` None keeps the source's metadata (S3 COPY), else replaces it (REPLACE).
        The source's checksums are carried over, unless ``digester`` (fed the copy's
        plaintext) gives full-object ones instead. ``if_match`` / ``if_none_match``
        make the write of the destination conditional, as for :meth:`put`."""
        check_key(dst_key, bucket=dst_bucket)
        source = self.get(src_bucket, src_key, version_id=src_version_id)
        try:
            return copy_object(
                self._ctx,
                source,
                dst_bucket,
                dst_key,
                meta,
                digester=digester,
                expect=conditions(if_match, if_none_match),
            )
        finally:
            close = getattr(source.chunks, "close", None)
            if close is not None:
                close()

    # --- multipart uploads --------------------------------------------------------------

    def create_multipart(
        self, bucket: str, key: str, *, meta: ObjectMeta, checksum: str | None = None
    ) -> UploadInfo:
        """Begin a multipart upload; its sites are decided now, as a PUT's would be
        (PlacementRefused before anything is recorded). Every part must then carry the
        named ``checksum``, if one is given."""
        return multipart.create_upload(self._ctx, bucket, key, meta, checksum)

    def upload(self, bucket: str, key: str, upload_id: str) -> UploadInfo:
        """The upload in progress ``upload_id`` of bucket/key. UploadNotFound."""
        return multipart.upload_info(multipart.find_upload(self._ctx, bucket, key, upload_id))

    def upload_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        body: Body,
        *,
        checksums: Checksums | None = None,
    ) -> PartInfo:
        """Store part ``part_number`` (1..10,000; InvalidPartNumber otherwise), replacing
        any earlier part of that number, with the named ``checksums()`` (asked once the
        body has ended). UploadNotFound; PlacementRefused if a site of the upload is no
        longer active and compliant; MissingChecksum without the upload's checksum."""
        info = multipart.upload_part(
            self._ctx, bucket, key, upload_id, number=part_number, body=body, checksums=checksums
        )
        collect_garbage(self._ctx, origins=[upload_id])  # a part replaced
        return info

    def upload_part_copy(  # noqa: PLR0917 (S3's UploadPartCopy, as the gateway calls it)
        self,
        bucket: str,
        key: str,
        upload_id: str,
        part_number: int,
        src_bucket: str,
        src_key: str,
        start: int = 0,
        end: int | None = None,
        *,
        digester: Digester | None = None,
        src_version_id: str | None = None,
    ) -> PartInfo:
        """Store bytes ``[start, end)`` of an object (of its version ``src_version_id``,
        if given) as a part (see :meth:`upload_part`); the part's checksums are
        ``digester``'s, fed the bytes copied."""
        multipart.check_part_number(part_number)
        multipart.find_upload(self._ctx, bucket, key, upload_id)
        source = self.get(src_bucket, src_key, start, end, version_id=src_version_id)
        if digester is None:
            return self.upload_part(bucket, key, upload_id, part_number, source.chunks)
        chunks = fed(source.chunks, digester)
        return self.upload_part(
            bucket, key, upload_id, part_number, chunks, checksums=digester.results
        )

    def complete_multipart(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        parts: Sequence[tuple[int, str]],
        *,
        checksums: CompositeChecksums | None = None,
        if_match: str | None = None,
        if_none_match: bool = False,
    ) -> ObjectInfo:
        """Make the listed ``(part number, ETag)`` parts, in ascending order, the object.
        UploadNotFound, InvalidPart (a part missing, an ETag differing, or the list not
        ascending), EntityTooSmall (a part but the last under ``multipart.MIN_PART_SIZE``),
        PlacementRefused (a site no longer allowed). ``checksums(upload, chosen parts)``
        gives the object's composite checksums (it may raise to refuse the completion).

        A completion repeated with the same parts (a retry whose first answer was lost)
        answers what the first one made, for ``[deployment] multipart_expiry_hours``
        after it; with other parts, UploadNotFound. ``if_match`` / ``if_none_match`` as
        for :meth:`put`; a refused completion leaves the upload in progress."""
        return multipart.complete_upload(
            self._ctx,
            bucket,
            key,
            upload_id,
            parts,
            checksums=checksums,
            expect=conditions(if_match, if_none_match),
        )

    def abort_multipart(self, bucket: str, key: str, upload_id: str) -> None:
        """Forget the upload and remove its parts from the sites. UploadNotFound."""
        upload = multipart.find_upload(self._ctx, bucket, key, upload_id)
        multipart.abort_upload(self._ctx, upload, "aborted")
        collect_garbage(self._ctx, origins=[upload_id])

    def list_parts(
        self, bucket: str, key: str, upload_id: str, *, after: int = 0, limit: int = 1000
    ) -> PartsPage:
        """Up to ``limit`` (at most 1,000) parts numbered above ``after``. UploadNotFound."""
        upload = multipart.find_upload(self._ctx, bucket, key, upload_id)
        limit = max(0, min(limit, 1000))
        found = self._ctx.catalog.list_parts(upload_id, after=after, limit=limit + 1)
        shown = found[:limit]
        return PartsPage(
            upload=multipart.upload_info(upload),
            parts=[multipart.part_info(p) for p in shown],
            is_truncated=len(found) > limit,
            next_after=shown[-1].part_number if shown else None,
        )

    def list_uploads(
        self,
        bucket: str,
        *,
        prefix: str = "",
        key_marker: str = "",
        upload_id_marker: str = "",
        limit: int = 1000,
    ) -> UploadsPage:
        """Up to ``limit`` (at most 1,000) uploads in progress, by key then initiation,
        after the markers (S3 ListMultipartUploads; no delimiter). BucketNotFound."""
        limit = max(0, min(limit, 1000))
        found = self._ctx.catalog.list_uploads(
            bucket,
            prefix=prefix,
            key_marker=key_marker,
            upload_id_marker=upload_id_marker,
            limit=limit + 1,
        )
        shown = found[:limit]
        return UploadsPage(
            uploads=[multipart.upload_info(u) for u in shown],
            is_truncated=len(found) > limit,
            next_key_marker=shown[-1].key if shown else None,
            next_upload_id_marker=shown[-1].upload_id if shown else None,
        )

    def sweep_uploads(self, *, older_than: float) -> int:
        """Abort the uploads initiated more than ``older_than`` seconds ago; how many.

        Then retry the garbage queue (blobs a site that was down could not delete): a PUT
        collects garbage only when it replaced a version, so this sweep (``domicile
        sweep``, and the gateway's periodic one) is what retries the rest."""
        aborted = multipart.sweep_uploads(self._ctx, older_than=older_than)
        collect_garbage(self._ctx)
        return aborted

    # --- residency ----------------------------------------------------------------------

    def where(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> builtins.list[CopyInfo]:
        """Every copy of the object (of its version ``version_id``, a delete marker's
        too): site, country, operator, legal exposure, compliance."""
        version = self.head(bucket, key, version_id=version_id)
        policy = self._ctx.policy(self._ctx.catalog.get_bucket(bucket).policy)
        return copies_of(self._ctx, policy, self._ctx.catalog.placements(version.version_id))

    def explain(self, bucket: str) -> Decision:
        """The placement decision a PUT into ``bucket`` would get right now (sites probed
        if not recently: a site that does not answer is passed over)."""
        return self.explain_policy(self._ctx.catalog.get_bucket(bucket).policy)

    def explain_policy(self, policy: str) -> Decision:
        """The placement decision a PUT under ``policy`` would get right now (sites probed
        if not recently). ConfigError (context ``policy``) if no such policy exists."""
        rules = self._ctx.policy(policy)
        probe_sites(self._ctx.prober)
        return decide(rules, self._ctx.world, self._ctx.health.snapshot(self._ctx.world.sites))

    def registry_warnings(self) -> tuple[str, ...]:
        """What is out of date in the residency registry in use (its age past ``[registry]
        max_age_days``, facts past their ``valid_until``), as of when the engine opened."""
        return self._ctx.registry_warnings

    def site_failures(self) -> dict[str, str]:
        """Why each site whose breaker is open is failing (the sites that are up: absent)."""
        return {
            site_id: failure
            for site_id in sorted(self._ctx.world.sites)
            if (failure := self._ctx.health.failure(site_id)) is not None
        }

    def site_errors(self) -> dict[str, int]:
        """Failures seen per site since this engine started (reads, writes and probes)."""
        return self._ctx.health.error_counts()

    def site_health(self) -> builtins.list[SiteHealth]:
        """Each configured site's breaker state and latency as last observed (no probe)."""
        return [self._ctx.health.describe(site_id) for site_id in sorted(self._ctx.world.sites)]

    def policy_names(self) -> builtins.list[str]:
        """The residency policies this deployment defines, by name."""
        return sorted(self._ctx.world.policies)

    def site_holdings(self, site_id: str) -> tuple[int, int]:
        """What the catalog records on ``site_id``: (object copies, multipart upload parts)."""
        copies = sum(1 for _ in self._ctx.catalog.versions_on_site(site_id))
        return copies, len(self._ctx.catalog.upload_blobs_on_site(site_id))

    def sites(self, *, probe: bool = True) -> builtins.list[SiteView]:
        """Each configured site with its country, operator, status and health (probed now,
        concurrently, unless ``probe`` is False)."""
        if probe:
            probe_sites(self._ctx.prober, ttl=0)
        return site_views(self._ctx)

    # --- upkeep -------------------------------------------------------------------------

    def verify(
        self,
        level: Level | str = Level.QUICK,
        *,
        bucket: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> VerifyReport:
        """Check every copy (quick: size; full: SHA-256; deep: decrypt); mark bad ones."""
        report = verify(self._ctx, Level(level), bucket=bucket, progress=progress)
        self._ctx.record(
            "verify",
            bucket=bucket,
            result="ok" if report.ok else "problems",
            detail={
                "level": report.level,
                "copies": report.copies,
                "problems": len(report.problems),
            },
        )
        return report

    def repair(
        self, *, bucket: str | None = None, progress: Callable[[int], None] | None = None
    ) -> RepairReport:
        """Restore every version's copy count from healthy copies, under its policy."""
        report = repair(self._ctx, bucket=bucket, progress=progress)
        collect_garbage(self._ctx)
        mirror_all(self._ctx)  # copies of locked versions made on mirror sites
        return report

    def _key_made(self, key: BucketKey) -> None:
        detail = {"version": key.version, "kind": key.kind, "recipient": key.recipient}
        self._ctx.record("bucket_key_created", bucket=key.bucket, sites=key.sites, detail=detail)

    def bucket_key_copies(self, bucket: str) -> builtins.list[tuple[str, str]]:
        """``(site id, blob id)`` of each site copy of ``bucket``'s newest data identity
        (none for a bucket never written since bucket identities, or shredded)."""
        keys = self._ctx.catalog.bucket_keys(bucket)
        if not keys:
            return []
        return [(site, key_blob_id(bucket, keys[-1].version)) for site in keys[-1].sites]

    def rewrap_bucket_keys(self, *, drop: Sequence[str] = ()) -> RewrapReport:
        """Root rotation: wrap every bucket identity again to the keyring's root
        recipients except ``drop`` (``engine/rewrap.py``)."""
        return rewrap_bucket_keys(self._ctx, drop=drop)

    def plan_shred(self, bucket: str) -> ShredPlan:
        """What shredding ``bucket`` would make unreadable and where its copies rest;
        ObjectLocked while a retention or legal hold is in force on one of its versions."""
        return plan_shred(self._ctx, bucket)

    def shred(self, bucket: str) -> ShredReceipt:
        """Crypto-shred ``bucket``: destroy its data identity everywhere, delete what can
        be deleted, and sign a receipt listing what could not (``engine/shred.py``)."""
        return shred_bucket(self._ctx, bucket)

    def rebuild_catalog(self, progress: Callable[[int], None] | None = None) -> RebuildReport:
        """Fill this (empty) catalog from the manifests on the sites."""
        return rebuild_catalog(self._ctx, progress=progress)

    def plan(self, *, bucket: str | None = None, on_step: OnStep | None = None) -> PlanSummary:
        """What must change for every copy to comply with its policy today (a dry run):
        a summary, in bounded memory; each step (and each object that cannot comply) also
        goes to ``on_step`` as it is found."""
        return make_plan(self._ctx, bucket=bucket, on_step=on_step)

    def apply(
        self,
        *,
        bucket: str | None = None,
        confirm: Confirm | None = None,
        progress: Callable[[int], None] | None = None,
        on_step: OnStep | None = None,
        on_result: OnResult | None = None,
        concurrency: int = 4,
        bandwidth: float | None = None,
    ) -> ApplyReport:
        """Plan (into jobs in the catalog), ask ``confirm`` with the summary, then carry
        the plan out, ``concurrency`` objects at a time within ``bandwidth`` bytes/s, each
        step re-checked when it runs; safe to interrupt and run again. LeaseHeld while
        another apply runs on an overlapping scope."""
        report = apply_plan(
            self._ctx,
            bucket=bucket,
            confirm=confirm,
            progress=progress,
            on_step=on_step,
            on_result=on_result,
            concurrency=concurrency,
            bandwidth=bandwidth,
        )
        if not report.cancelled:  # copies of locked versions on mirror sites
            problems = mirror_all(self._ctx)
            report.failed += len(problems)
            report.failures += problems[: max(0, 20 - len(report.failures))]
        return report

    def sweep(self, *, grace: float = DEFAULT_GRACE, dry_run: bool = False) -> SweepReport:
        """Remove the scratch of dead writers (temp files, unfinished S3 uploads) and the
        blobs no catalog entry references, once older than ``grace`` seconds."""
        return sweep_orphans(self._ctx, grace=grace, dry_run=dry_run)

    def sweep_leftovers(self, *, grace: float = DEFAULT_GRACE) -> SweepReport:
        """Remove only the scratch of dead writers older than ``grace`` seconds (the
        gateway's periodic sweep; never a live writer's, see ``SweepsTemp``)."""
        return sweep_leftovers(self._ctx, grace=grace)

    @property
    def audit(self) -> AuditLog:
        """The deployment's audit log."""
        assert self._ctx.audit is not None
        return self._ctx.audit

    def acting_as(self, actor: str) -> contextlib.AbstractContextManager[None]:
        """Within the block, audit records made on this thread/context name ``actor``
        (``tenant:ACCESSKEY`` for the gateway); elsewhere they name ``cli:<user>``."""
        return acting_as(actor)

    def record_event(self, action: str, **fields: Any) -> None:
        """Append an audit event for a change made outside the engine (e.g. a config edit)."""
        self._ctx.record(action, **fields)

    def count_refusal(self, who: str, code: str) -> None:
        """Count a refused request (``who``: ``tenant:ACCESSKEY``, ``unknown`` or
        ``anonymous``; ``code``: its S3 code) for the per-minute ``request_refused`` audit
        records (:mod:`domicile.engine.refusals`)."""
        self._refusals.count(who, code)

    def flush_refusals(self, *, everything: bool = False) -> int:
        """Append the ``request_refused`` records of closed minutes (of every minute with
        ``everything``); return how many were appended."""
        return self._refusals.flush(everything=everything)

    def _record_refusals(self, events: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        if self._ctx.audit is not None:
            with acting_as(REFUSALS_ACTOR):
                self._ctx.audit.record_many(events)

    def count_versions(self, bucket: str | None = None) -> int:
        """How many object versions the catalog holds (for progress bars)."""
        return sum(1 for _ in self._ctx.catalog.iter_versions(bucket))

    def report(
        self, *, bucket: str | None = None, tenant: str | None = None, details: bool = False
    ) -> Report:
        """The residency report of one bucket, one tenant's buckets, or everything: where
        copies rest, compliance, copy counts, verification and audit chain status. Its
        memory does not grow with the objects: violations and shortfalls are counted, and
        kept as rows only with ``details`` (:meth:`report_rows` streams them instead)."""
        return build_report(
            self._ctx,
            deployment=self.config.deployment.name,
            bucket=bucket,
            tenant=tenant,
            details=details,
        )

    def report_rows(
        self, *, bucket: str | None = None, tenant: str | None = None
    ) -> Iterator[Violation | Shortfall]:
        """Every violation and shortfall in the report's scope, streamed from the catalog."""
        return report_rows(self._ctx, bucket=bucket, tenant=tenant)

    def history_report(
        self,
        start: float,
        end: float,
        *,
        bucket: str | None = None,
        tenant: str | None = None,
    ) -> HistoryReport:
        """Where every copy rested over ``[start, end]`` (epoch seconds, UTC) and when its
        bucket's policy, as it was then, refused the site: from the verified audit chain
        only (AuditAltered if it does not verify; see docs/reports.md)."""
        return build_history(
            self._ctx,
            deployment=self.config.deployment.name,
            start=start,
            end=end,
            bucket=bucket,
            tenant=tenant,
        )


def conditions(if_match: str | None, if_none_match: bool) -> Expect | None:
    """The catalog's :class:`Expect` of a write's conditions; None when it has none."""
    if if_match is None and not if_none_match:
        return None
    return Expect(absent=if_none_match, etag=if_match)


def _check_recipients(policies: Mapping[str, object], path: Path) -> None:
    for name, policy in policies.items():
        pq = bool(getattr(policy, "pq", False))
        for text in getattr(policy, "recipients", ()):
            try:
                recipient = parse_recipient(text)
            except CryptoError as exc:
                raise ConfigError(
                    f"{path}: policies.{name}.recipients: {exc.message}",
                    hint="recipients are age public keys (age1..., or age1pq1... for "
                    "post-quantum); 'domicile keys recipient' prints yours",
                    file=str(path),
                    key=f"policies.{name}.recipients",
                ) from None
            if recipient.post_quantum != pq:
                error = recipient_kind_error(name, text, pq=pq)
                raise ConfigError(
                    f"{path}: policies.{name}.recipients: {error.message}",
                    hint=error.hint,
                    file=str(path),
                    key=f"policies.{name}.recipients",
                )
