"""Bucket operations: ListBuckets, CreateBucket, HeadBucket, GetBucketLocation,
GetBucketVersioning and DeleteBucket.

A bucket's ``LocationConstraint`` is the name of its residency policy. CreateBucket refuses
an unknown policy, and a policy that no site can satisfy right now, with
``InvalidLocationConstraint`` (or ``ServiceUnavailable`` when only site health stands in
the way) and the reason per site, before the bucket exists.
"""

from __future__ import annotations

from datetime import UTC, datetime

from domicile.errors import BucketAlreadyExists, BucketNotFound
from domicile.gateway import s3xml
from domicile.gateway.call import Call, Reply
from domicile.gateway.s3bodies import parse_create_bucket
from domicile.gateway.s3errors import reject


def list_buckets(call: Call) -> Reply:
    buckets = call.engine.list_buckets(call.tenant)
    entries = [
        s3xml.BucketEntry(b.name, datetime.fromtimestamp(b.created_at, UTC)) for b in buckets
    ]
    return Reply.xml(s3xml.list_buckets(s3xml.Owner(call.tenant, call.tenant), entries))


def create_bucket(call: Call) -> Reply:
    name = call.bucket_name
    location = parse_create_bucket(call.read_xml())
    policy = location or call.settings.default_policy
    known = call.engine.policy_names()
    if not policy and len(known) == 1:
        policy = known[0]
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
        call.engine.create_bucket(name, policy, call.tenant)
    except BucketAlreadyExists:
        raise reject("BucketAlreadyExists", f"bucket {name} exists already", bucket=name) from None
    return Reply(200, [("location", f"/{name}")])


def head_bucket(call: Call) -> Reply:
    bucket = call.bucket()
    return Reply(200, [("x-amz-bucket-region", bucket.policy)])


def get_location(call: Call) -> Reply:
    return Reply.xml(s3xml.bucket_location(call.bucket().policy))


def get_versioning(call: Call) -> Reply:
    """Buckets are unversioned: an empty ``VersioningConfiguration``, as S3 answers then."""
    call.bucket()
    return Reply.xml(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    )


def delete_bucket(call: Call) -> Reply:
    call.bucket()
    call.engine.delete_bucket(call.bucket_name)
    return Reply(204)
