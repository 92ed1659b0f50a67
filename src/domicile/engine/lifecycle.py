"""Lifecycle rules: what ``sweep`` expires on its own, and never what a lock protects.

A bucket's rules (S3's PutBucketLifecycleConfiguration, the kinds domicile enforces):

- ``noncurrent_days``: a noncurrent version is deleted that many days after it became
  noncurrent (S3's NoncurrentVersionExpiration);
- ``expired_delete_marker``: a delete marker with no other version of its key left is
  removed (ExpiredObjectDeleteMarker);
- ``abort_upload_days``: a multipart upload begun that many days ago is aborted
  (AbortIncompleteMultipartUpload).

Each rule applies to keys under its ``prefix`` when its status is ``Enabled``. Other S3
rule kinds (Expiration of current versions by days or date, transitions, tag and size
filters) are refused by the faces, never stored and ignored. Enforcement (:func:`enforce`)
deletes through the catalog like any client, so a version under retention or legal hold is
refused by the catalog's guard (and counted as kept), never expired.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field

from domicile.audit import Record
from domicile.engine import multipart, versions
from domicile.engine.context import EngineContext
from domicile.engine.records import ObjectInfo
from domicile.errors import InvalidRetention, ObjectLocked

DAY = 86_400.0
#: What "now" is for the rules (tests move it days ahead).
clock = time.time


@dataclass(frozen=True, slots=True)
class Rule:
    """One lifecycle rule (see the module docstring); at least one action is set."""

    id: str = ""
    prefix: str = ""
    enabled: bool = True
    noncurrent_days: int | None = None
    expired_delete_marker: bool = False
    abort_upload_days: int | None = None

    def check(self) -> None:
        """InvalidRetention for a rule with no action or a period below one day."""
        if (
            self.noncurrent_days is None
            and not self.expired_delete_marker
            and self.abort_upload_days is None
        ):
            raise InvalidRetention(
                f"lifecycle rule {self.id!r} has no action",
                hint="give NoncurrentVersionExpiration, ExpiredObjectDeleteMarker or "
                "AbortIncompleteMultipartUpload",
            )
        for days in (self.noncurrent_days, self.abort_upload_days):
            if days is not None and days < 1:
                raise InvalidRetention(
                    f"lifecycle rule {self.id!r}: a number of days must be at least 1",
                    hint="give a positive number of days",
                )


@dataclass
class LifecycleReport:
    """What one enforcement did: uploads aborted, versions and markers expired, and the
    versions kept because a lock protects them."""

    uploads_aborted: int = 0
    versions_expired: int = 0
    markers_expired: int = 0
    kept_locked: list[str] = field(default_factory=list)


def rules_of(ctx: EngineContext, bucket: str) -> list[Rule] | None:
    """The bucket's rules, or None when it has none. BucketNotFound."""
    text = ctx.catalog.lifecycle(bucket)
    if text is None:
        return None
    return [Rule(**doc) for doc in json.loads(text)]


def store(ctx: EngineContext, bucket: str, rules: list[Rule] | None) -> None:
    """Replace (None: remove) the bucket's rules, with a ``lifecycle`` audit record."""
    for rule in rules or ():
        rule.check()
    text = None if rules is None else json.dumps([asdict(r) for r in rules], sort_keys=True)
    build, made = None, list[Record]()
    if ctx.audit is not None:
        build, made = ctx.audit.builder(
            "lifecycle", bucket=bucket, detail={"rules": len(rules) if rules else 0}
        )
    ctx.catalog.set_lifecycle(bucket, text, audit=build)
    if ctx.audit is not None:
        ctx.audit.appended(made)


def enforce(ctx: EngineContext, *, now: float | None = None) -> LifecycleReport:
    """Apply every bucket's enabled rules once (``domicile sweep``)."""
    now = clock() if now is None else now
    report = LifecycleReport()
    for bucket in ctx.catalog.list_buckets(None):
        for rule in rules_of(ctx, bucket.name) or ():
            if not rule.enabled:
                continue
            if rule.abort_upload_days is not None:
                report.uploads_aborted += _abort_uploads(ctx, bucket.name, rule, now)
            if rule.noncurrent_days is not None or rule.expired_delete_marker:
                _expire_versions(ctx, bucket.name, rule, now, report)
    return report


def _expire_versions(
    ctx: EngineContext, bucket: str, rule: Rule, now: float, report: LifecycleReport
) -> None:
    """Noncurrent versions past ``noncurrent_days`` (counted from when the next newer
    version was written, as S3 counts), and delete markers left alone, removed by id:
    the catalog's guard refuses a locked version, which is counted as kept."""
    by_key: dict[str, list[ObjectInfo]] = {}
    for info in versions.every_version(ctx, bucket, prefix=rule.prefix):
        by_key.setdefault(info.key, []).append(info)
    for key_versions in by_key.values():  # newest first
        for info in _expired(key_versions, rule, now):
            try:
                versions.remove(ctx, bucket, info.key, info.s3_version_id)
            except ObjectLocked:  # audited by remove; never expired while locked
                report.kept_locked.append(f"{bucket}/{info.key}@{info.s3_version_id}")
                continue
            if info.delete_marker:
                report.markers_expired += 1
            else:
                report.versions_expired += 1


def _expired(newest_first: list[ObjectInfo], rule: Rule, now: float) -> list[ObjectInfo]:
    """The versions of one key (as listed, newest first) that ``rule`` expires at ``now``:
    a delete marker left alone goes only once every older version goes too."""
    out: list[ObjectInfo] = []
    successor: ObjectInfo | None = None
    for info in newest_first:
        if (
            rule.noncurrent_days is not None
            and not info.is_latest
            and successor is not None
            and successor.created_at + rule.noncurrent_days * DAY <= now
        ):
            out.append(info)
        successor = info
    if rule.expired_delete_marker and newest_first:
        latest = newest_first[0]
        alone = all(v in out for v in newest_first[1:])
        if latest.is_latest and latest.delete_marker and alone:
            out.append(latest)
    return out


def _abort_uploads(ctx: EngineContext, bucket: str, rule: Rule, now: float) -> int:
    assert rule.abort_upload_days is not None
    before = now - rule.abort_upload_days * DAY
    aborted = 0
    key_marker = upload_marker = ""
    while True:
        page = ctx.catalog.list_uploads(
            bucket,
            prefix=rule.prefix,
            key_marker=key_marker,
            upload_id_marker=upload_marker,
            limit=1000,
        )
        for upload in page:
            if upload.initiated < before:
                multipart.abort_upload(ctx, upload, "lifecycle")
                aborted += 1
        if len(page) < 1000:
            return aborted
        key_marker, upload_marker = page[-1].key, page[-1].upload_id
