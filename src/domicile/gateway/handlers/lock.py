"""Versioning, Object Lock and ACL subresources: what S3 answers for a bucket whose
versioning was never enabled, which has no Object Lock configuration, and whose ACLs are
disabled (bucket owner enforced). Each request that would change that is refused, never
answered 200 (docs/gateway.md says which code and why):

- PutBucketVersioning ``Enabled`` or ``Suspended`` (or MFA delete): ``NotImplemented``;
  GetBucketVersioning answers the empty configuration (never enabled).
- PutObjectLockConfiguration: ``InvalidBucketState`` (409), S3's answer for a bucket
  without versioning; GetObjectLockConfiguration: ``ObjectLockConfigurationNotFoundError``.
- Put/GetObjectRetention, Put/GetObjectLegalHold: ``InvalidRequest``, S3's answer for a
  bucket without an Object Lock configuration.
- Get{Bucket,Object}Acl: the owner's FULL_CONTROL; Put{Bucket,Object}Acl: accepted only
  for an ACL that says the same thing (:mod:`domicile.gateway.acl`).
"""

from __future__ import annotations

from domicile.gateway import acl
from domicile.gateway.call import Call, Reply
from domicile.gateway.s3bodies import parse_xml
from domicile.gateway.s3errors import reject

_LOCK_HINT = "domicile has no versioning or Object Lock yet: buckets hold one version per key"


def get_versioning(call: Call) -> Reply:
    """Buckets are unversioned: an empty ``VersioningConfiguration``, as S3 answers for a
    bucket whose versioning was never enabled."""
    call.bucket()
    return Reply.xml(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    )


def put_versioning(call: Call) -> Reply:
    call.bucket()
    root = parse_xml(call.read_xml(), max_size=64 * 1024)
    if root.name != "VersioningConfiguration":
        raise reject("MalformedXML", "the body must be a <VersioningConfiguration>")
    status, mfa = root.text_of("Status"), root.text_of("MfaDelete")
    if status not in ("Enabled", "Suspended") or mfa not in (None, "Enabled", "Disabled"):
        raise reject("MalformedXML", "<Status> must be Enabled or Suspended")
    raise reject(
        "NotImplemented",
        f"versioning cannot be {status.lower()} on this gateway: buckets keep one version per key",
        hint=_LOCK_HINT,
        bucket=call.bucket_name,
    )


def get_object_lock(call: Call) -> Reply:
    call.bucket()
    raise reject(
        "ObjectLockConfigurationNotFoundError",
        "Object Lock configuration does not exist for this bucket",
        bucket=call.bucket_name,
    )


def put_object_lock(call: Call) -> Reply:
    call.bucket()
    raise reject(
        "InvalidBucketState",
        "versioning must be 'Enabled' on the bucket to apply an Object Lock configuration, "
        "and this gateway cannot enable it",
        hint=_LOCK_HINT,
        bucket=call.bucket_name,
    )


def object_lock_setting(call: Call) -> Reply:
    """Get/PutObjectRetention and Get/PutObjectLegalHold: the bucket has no Object Lock."""
    call.bucket()
    call.engine.head(call.bucket_name, call.key)
    raise reject(
        "InvalidRequest",
        "bucket is missing Object Lock configuration",
        hint=_LOCK_HINT,
        bucket=call.bucket_name,
        key=call.key,
    )


def get_bucket_acl(call: Call) -> Reply:
    call.bucket()
    return Reply.xml(acl.owner_policy(call.tenant))


def get_object_acl(call: Call) -> Reply:
    call.bucket()
    call.engine.head(call.bucket_name, call.key)
    return Reply.xml(acl.owner_policy(call.tenant))


def put_bucket_acl(call: Call) -> Reply:
    call.bucket()
    _put_acl(call)
    return Reply(200)


def put_object_acl(call: Call) -> Reply:
    call.bucket()
    call.engine.head(call.bucket_name, call.key)
    _put_acl(call)
    return Reply(200)


def _put_acl(call: Call) -> None:
    """Accept an ACL that grants the owner full control and nothing else (already the
    case: nothing to store), refuse any other."""
    headers = acl.check_headers(call.req, call.tenant)
    body = call.read_xml()
    if body.strip():
        if headers:
            raise reject("InvalidRequest", "send an ACL in headers or in the body, not both")
        acl.check_policy(body, call.tenant)
    elif not headers:
        raise reject(
            "MalformedACLError",
            "no ACL given: send x-amz-acl or an AccessControlPolicy body",
        )
