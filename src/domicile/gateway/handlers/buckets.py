"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, GetBucketLocation and
DeleteBucket (GetBucketVersioning is in :mod:`.lock`).

A bucket's ``LocationConstraint`` is the name of its residency policy. CreateBucket refuses
an unknown policy, and a policy that no site can satisfy right now, with
``InvalidLocationConstraint`` (or ``ServiceUnavailable`` when only site health stands in
the way) and the reason per site, before the bucket exists. A policy the tenant may not use
(``[tenants.<name>] policies``) is ``AccessDenied``, the message listing those it may.
"""

from __future__ import annotations

from datetime import UTC, datetime

from domicile.errors import BucketAlreadyExists, BucketNotFound
from domicile.gateway import s3xml
from domicile.gateway.call import Call, Reply
from domicile.gateway.handlers.listing import to_token, untoken
from domicile.gateway.s3bodies import parse_create_bucket
from domicile.gateway.s3errors import reject

#: The most buckets one ListBuckets page may hold (``max-buckets``), as on S3.
MAX_BUCKETS = 10_000


def list_buckets(call: Call) -> Reply:
    """The tenant's buckets in name order; ``prefix`` and ``bucket-region`` (a policy
    name) filter them, ``max-buckets`` (1 to 10,000) cuts the list and the answer's
    ``ContinuationToken`` (the last name returned, opaque) asks for the rest."""
    p = call.req.params
    prefix, region = p.get("prefix", ""), p.get("bucket-region", "")
    limit = _max_buckets(p.get("max-buckets"))
    token = p.get("continuation-token")
    after = untoken(token) if token else ""
    chosen = sorted(
        (
            b
            for b in call.engine.list_buckets(call.tenant)
            if b.name.startswith(prefix) and b.name > after and (not region or b.policy == region)
        ),
        key=lambda b: b.name,
    )
    page = chosen if limit is None else chosen[:limit]
    following = page[-1].name if limit is not None and len(chosen) > limit else None
    entries = [
        s3xml.BucketEntry(b.name, datetime.fromtimestamp(b.created_at, UTC), b.policy) for b in page
    ]
    return Reply.xml(
        s3xml.list_buckets(
            s3xml.Owner(call.tenant, call.tenant),
            entries,
            prefix=p.get("prefix"),
            continuation_token=to_token(following) if following else None,
        )
    )


def _max_buckets(value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_BUCKETS:
        raise reject("InvalidArgument", f"max-buckets must be 1 to {MAX_BUCKETS:,}, not {value!r}")
    return int(value)


def create_bucket(call: Call) -> Reply:
    name = call.bucket_name
    location = parse_create_bucket(call.read_xml())
    policy = location or call.settings.default_policy
    known = call.engine.policy_names()
    allowed = call.policies
    if not policy and len(known) == 1:
        policy = known[0]
    elif not policy and allowed is not None and len(allowed) == 1:
        policy = allowed[0]
    if not policy:
        raise reject(
            "InvalidLocationConstraint",
            "a new bucket needs a LocationConstraint naming its residency policy; "
            f"this deployment defines {', '.join(known) or 'no policy'}",
            hint="create the bucket with LocationConstraint=<policy> "
            "(aws s3 mb s3://name --region <policy>)",
            bucket=name,
        )
    if policy not in known:
        raise reject(
            "InvalidLocationConstraint",
            f"no residency policy named {policy!r}; this deployment defines "
            f"{', '.join(known) or 'no policy'}",
            hint="name one of the configured policies as the bucket's LocationConstraint",
            bucket=name,
            policy=policy,
        )
    if allowed is not None and policy not in allowed:
        raise reject(
            "AccessDenied",
            f"tenant {call.tenant} may not bind a bucket to policy {policy!r}; its allowed "
            f"policies are {', '.join(allowed) or 'none'}",
            hint="name one of the tenant's policies as the LocationConstraint, or ask the "
            f"operator to add {policy!r} to [tenants.{call.tenant}] policies",
            bucket=name,
            policy=policy,
        )
    try:
        existing = call.engine.bucket(name)
    except BucketNotFound:
        existing = None
    if existing is not None:
        code = (
            "BucketAlreadyOwnedByYou" if existing.tenant == call.tenant else "BucketAlreadyExists"
        )
        raise reject(code, f"bucket {name} exists already", bucket=name)
    call.engine.explain_policy(policy).raise_if_refused()
    try:
        call.engine.create_bucket(name, policy, call.tenant, object_lock=_object_lock(call))
    except BucketAlreadyExists:
        raise reject("BucketAlreadyExists", f"bucket {name} exists already", bucket=name) from None
    return Reply(200, [("location", f"/{name}")])


def _object_lock(call: Call) -> bool:
    """``x-amz-bucket-object-lock-enabled``: ``true`` creates the bucket with Object Lock."""
    value = (call.req.header("x-amz-bucket-object-lock-enabled") or "false").strip().lower()
    if value not in ("true", "false"):
        raise reject(
            "InvalidArgument",
            f"x-amz-bucket-object-lock-enabled must be true or false, not {value[:20]!r}",
        )
    return value == "true"


def head_bucket(call: Call) -> Reply:
    bucket = call.bucket()
    return Reply(200, [("x-amz-bucket-region", bucket.policy)])


def get_location(call: Call) -> Reply:
    return Reply.xml(s3xml.bucket_location(call.bucket().policy))


def delete_bucket(call: Call) -> Reply:
    call.bucket()
    call.engine.delete_bucket(call.bucket_name)
    return Reply(204)
