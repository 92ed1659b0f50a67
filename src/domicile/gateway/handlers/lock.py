"""Versioning, Object Lock and ACL subresources (docs/gateway.md says which code and why
for each refusal; nothing is answered 200 and ignored):

- PutBucketVersioning ``Enabled`` or ``Suspended``: stored, with an audit record;
  ``MfaDelete`` ``Enabled`` is ``NotImplemented`` (there is no MFA device to check a
  permanent deletion against; ``Disabled`` is accepted, it is what is true).
  GetBucketVersioning answers the status, or the empty configuration when versioning was
  never enabled. A bucket with Object Lock cannot be suspended (``InvalidBucketState``).
- Object Lock (docs/object-lock.md): Get/PutObjectLockConfiguration, Get/PutObjectRetention,
  Get/PutObjectLegalHold. A bucket created without Object Lock answers
  ``ObjectLockConfigurationNotFoundError`` (GET), ``InvalidBucketState`` (PUT: Object Lock
  is enabled only at creation here) and ``InvalidRequest`` for a version's retention or
  legal hold (``LockNotEnabled``); a version without retention or hold
  ``NoSuchObjectLockConfiguration``.
- Get{Bucket,Object}Acl: the owner's FULL_CONTROL; Put{Bucket,Object}Acl: accepted only
  for an ACL that says the same thing (:mod:`domicile.gateway.acl`).
"""

from __future__ import annotations

from domicile.catalog import VersionLock
from domicile.errors import ObjectNotFound
from domicile.gateway import acl, lockxml
from domicile.gateway.call import Call, Reply
from domicile.gateway.handlers.versions import version_param, with_marker_headers
from domicile.gateway.lockheaders import bypass, require_integrity
from domicile.gateway.s3bodies import parse_xml
from domicile.gateway.s3errors import reject


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
    """The bucket's Object Lock configuration; ``ObjectLockConfigurationNotFoundError`` for
    a bucket created without Object Lock."""
    call.bucket()
    lock = call.engine.bucket_lock(call.bucket_name)
    if lock is None:
        raise reject(
            "ObjectLockConfigurationNotFoundError",
            "Object Lock configuration does not exist for this bucket",
            bucket=call.bucket_name,
        )
    return Reply.xml(lockxml.lock_configuration(lock))


def put_object_lock(call: Call) -> Reply:
    """Set the default retention of a bucket created with Object Lock. A bucket created
    without is ``InvalidBucketState`` (409): Object Lock is enabled only at creation here."""
    call.bucket()
    if call.engine.bucket_lock(call.bucket_name) is None:
        raise reject(
            "InvalidBucketState",
            "Object Lock can only be enabled when the bucket is created",
            hint="create a new bucket with x-amz-bucket-object-lock-enabled: true "
            "(aws s3api create-bucket --object-lock-enabled-for-bucket) and copy the objects",
            bucket=call.bucket_name,
        )
    require_integrity(call.req)
    lock = lockxml.parse_lock_configuration(call.read_xml(), call.bucket_name)
    call.engine.set_bucket_lock(call.bucket_name, lock.mode, days=lock.days, years=lock.years)
    return Reply(200)


def get_retention(call: Call) -> Reply:
    lock = _object_lock(call)
    if lock is None or lock.mode is None:
        raise _no_lock("retention")
    return Reply.xml(lockxml.retention(lock))


def put_retention(call: Call) -> Reply:
    _require_lock(call)
    require_integrity(call.req)
    mode, until = lockxml.parse_retention(call.read_xml())
    call.engine.set_retention(
        call.bucket_name,
        call.key,
        mode,
        until,
        version_id=_version(call),
        bypass_governance=bypass(call.req, call.may_bypass),
    )
    return Reply(200)


def get_legal_hold(call: Call) -> Reply:
    lock = _object_lock(call)
    if lock is None:
        raise _no_lock("legal hold")
    return Reply.xml(lockxml.legal_hold(lock.legal_hold))


def put_legal_hold(call: Call) -> Reply:
    _require_lock(call)
    require_integrity(call.req)
    on = lockxml.parse_legal_hold(call.read_xml())
    call.engine.set_legal_hold(call.bucket_name, call.key, on, version_id=_version(call))
    return Reply(200)


def _require_lock(call: Call) -> None:
    """``InvalidRequest`` for a bucket created without Object Lock, before the body."""
    call.bucket()
    if call.engine.bucket_lock(call.bucket_name) is None:
        raise reject(
            "InvalidRequest",
            "Bucket is missing Object Lock Configuration",
            hint="Object Lock is enabled when a bucket is created",
            bucket=call.bucket_name,
        )


def _object_lock(call: Call) -> VersionLock | None:
    call.bucket()
    return call.engine.object_lock(call.bucket_name, call.key, version_id=_version(call))


def _version(call: Call) -> str | None:
    """The ``versionId`` asked for (an S3 id, ``null`` included; None: the current one);
    InvalidArgument for one that cannot be an id."""
    return version_param(call)


def _no_lock(what: str) -> Exception:
    return reject(
        "NoSuchObjectLockConfiguration",
        f"The specified object does not have a ObjectLock configuration ({what})",
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
