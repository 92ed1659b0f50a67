"""Versioning, Object Lock and ACL subresources. Versioning is served; a bucket has no
Object Lock configuration and its ACLs are disabled (bucket owner enforced): each request
that would change that is refused, never answered 200 (docs/gateway.md says which code
and why):

- PutBucketVersioning ``Enabled`` or ``Suspended``: stored, with an audit record;
  ``MfaDelete`` ``Enabled`` is ``NotImplemented`` (there is no MFA device to check a
  permanent deletion against; ``Disabled`` is accepted, it is what is true).
  GetBucketVersioning answers the status, or the empty configuration when versioning was
  never enabled.
- PutObjectLockConfiguration: ``InvalidBucketState`` (409), S3's answer for a bucket
  where Object Lock cannot be enabled; GetObjectLockConfiguration:
  ``ObjectLockConfigurationNotFoundError``.
- Put/GetObjectRetention, Put/GetObjectLegalHold: ``InvalidRequest``, S3's answer for a
  bucket without an Object Lock configuration.
- Get{Bucket,Object}Acl: the owner's FULL_CONTROL; Put{Bucket,Object}Acl: accepted only
  for an ACL that says the same thing (:mod:`domicile.gateway.acl`).
"""

from __future__ import annotations

from domicile.errors import ObjectNotFound
from domicile.gateway import acl
from domicile.gateway.call import Call, Reply
from domicile.gateway.handlers.versions import version_param, with_marker_headers
from domicile.gateway.s3bodies import parse_xml
from domicile.gateway.s3errors import reject

_LOCK_HINT = "domicile has no Object Lock yet"


def get_versioning(call: Call) -> Reply:
    """The bucket's ``Status``; the empty configuration S3 answers for a bucket whose
    versioning was never enabled. ``MfaDelete`` is never shown: it was never enabled."""
    status = call.bucket().versioning
    inner = f"<Status>{status}</Status>" if status else ""
    return Reply.xml(
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        + inner.encode()
        + b"</VersioningConfiguration>"
    )


def put_versioning(call: Call) -> Reply:
    call.bucket()
    root = parse_xml(call.read_xml(), max_size=64 * 1024)
    if root.name != "VersioningConfiguration":
        raise reject("MalformedXML", "the body must be a <VersioningConfiguration>")
    status, mfa = root.text_of("Status"), root.text_of("MfaDelete")
    if status not in ("Enabled", "Suspended") or mfa not in (None, "Enabled", "Disabled"):
        raise reject("MalformedXML", "<Status> must be Enabled or Suspended")
    if mfa == "Enabled":
        raise reject(
            "NotImplemented",
            "MFA delete is not supported: this gateway has no MFA device to check",
            hint="send <MfaDelete>Disabled</MfaDelete> or leave it out; deletions of versions "
            "are recorded in the audit log",
            bucket=call.bucket_name,
        )
    call.engine.set_versioning(call.bucket_name, status)
    return Reply(200)


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
        "Object Lock cannot be enabled on this gateway's buckets",
        hint=_LOCK_HINT,
        bucket=call.bucket_name,
    )


def object_lock_setting(call: Call) -> Reply:
    """Get/PutObjectRetention and Get/PutObjectLegalHold: the bucket has no Object Lock."""
    call.bucket()
    _object(call)
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
    _object(call)
    return Reply.xml(acl.owner_policy(call.tenant))


def put_bucket_acl(call: Call) -> Reply:
    call.bucket()
    _put_acl(call)
    return Reply(200)


def put_object_acl(call: Call) -> Reply:
    call.bucket()
    _object(call)
    _put_acl(call)
    return Reply(200)


def _object(call: Call) -> None:
    """The addressed object (its ``versionId`` if given) exists: NoSuchKey (with the
    delete marker's headers) or NoSuchVersion otherwise."""
    try:
        call.engine.head(call.bucket_name, call.key, version_id=version_param(call))
    except ObjectNotFound as exc:
        raise with_marker_headers(exc) from None


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
