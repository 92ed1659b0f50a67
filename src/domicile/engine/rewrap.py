"""Root rotation for the key hierarchy: every bucket identity wrapped again to the root
identities now in the keyring, leaving out the ones being retired.

With bucket identities, rotating a root touches only the small ``bkey-`` blobs, never the
data: each version of a bucket identity is unwrapped, encrypted again to the keyring's root
recipients of its kind except ``drop``, stored as a new version (the same identity: the
bucket's blobs stay as they are) with its copies on the sites, and only then the old
version's row is deleted and its site copies removed (a copy that cannot be removed is an
orphan for ``sweep``, its row being gone). Killed at any point it is safe: the old version
goes only after the new one is stored; running it again finishes the work.

Not covered: blobs written before bucket identities, wrapped straight to the root
identities (their headers keep listing the old root until the data re-wrap of issue #19
item 2 exists).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domicile.catalog.records import BucketKey
from domicile.crypto import AnyRecipient, encrypt_bytes
from domicile.engine.bucketkeys import key_blob_id
from domicile.engine.context import EngineContext
from domicile.errors import CatalogConflict, KeyringError, SiteError


@dataclass
class RewrapReport:
    """Bucket identity versions wrapped again, and the old copies left on sites."""

    keys: int = 0
    buckets: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)


def rewrap_bucket_keys(ctx: EngineContext, *, drop: Sequence[str] = ()) -> RewrapReport:
    """Wrap every bucket identity again to the keyring's root recipients except ``drop``
    (recipient strings); KeyringError, before anything changes, when a kind in use would
    be left with no root recipient."""
    assert ctx.bucket_keys is not None
    report = RewrapReport()
    buckets = ctx.catalog.list_buckets(None)
    for bucket in buckets:
        keys = ctx.catalog.bucket_keys(bucket.name)
        for key in keys:
            _roots(ctx, key, drop)  # fail before any change
    for bucket in buckets:
        policy = ctx.world.policies.get(bucket.policy)
        for key in ctx.catalog.bucket_keys(bucket.name):
            identity = ctx.bucket_keys.unwrap(key.wrapped)
            text = identity.to_secret().reveal().encode() + b"\n"
            wrapped = encrypt_bytes(text, _roots(ctx, key, drop))
            version = ctx.catalog.bucket_keys(bucket.name)[-1].version + 1
            blob_id = key_blob_id(bucket.name, version)
            sites = (
                ctx.place_key(policy, blob_id, wrapped) if policy is not None else list(key.sites)
            )
            new = BucketKey(bucket.name, version, key.kind, key.recipient, wrapped, tuple(sites))
            try:
                ctx.catalog.add_bucket_key(new)
            except CatalogConflict:  # a writer made a version meanwhile: next run redoes it
                continue
            ctx.catalog.forget_bucket_key(bucket.name, key.version)
            for site_id in key.sites:
                try:
                    ctx.site(site_id).delete(key_blob_id(bucket.name, key.version))
                except SiteError:
                    report.left.append(f"{site_id}/{key_blob_id(bucket.name, key.version)}")
            ctx.record(
                "bucket_key_rewrapped",
                bucket=bucket.name,
                sites=sites,
                detail={"version": version, "replaces": key.version, "kind": key.kind},
            )
            report.keys += 1
        ctx.bucket_keys.forget(bucket.name)
        report.buckets.append(bucket.name)
    return report


def _roots(ctx: EngineContext, key: BucketKey, drop: Sequence[str]) -> list[AnyRecipient]:
    roots = [
        r
        for r in ctx.keyring.recipients_of(post_quantum=key.kind != "x25519")
        if str(r) not in drop
    ]
    if not roots:
        raise KeyringError(
            f"no root identity of kind {key.kind} would be left to wrap bucket "
            f"{key.bucket!r}'s identity to: nothing was changed",
            hint="add a new root identity first ('domicile keys new"
            + (" --pq" if key.kind != "x25519" else "")
            + "'), then rotate",
            bucket=key.bucket,
        )
    return roots
