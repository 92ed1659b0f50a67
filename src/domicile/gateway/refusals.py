"""Request headers that ask for what this gateway does not do, refused before any handler
runs, so that no such request is answered 200 with the header silently ignored.

:func:`check_request` runs on every routed request with its operation's name. Each rule
answers with the code S3 itself uses for that situation where one exists, else
``NotImplemented`` (501: "a header you provided implies functionality that is not
implemented"). docs/gateway.md's support table lists each one; a test walks that table.

- ACL headers (``x-amz-acl``, ``x-amz-grant-*``): see :mod:`.acl`.
- CreateBucket with an ``x-amz-object-ownership`` other than ``BucketOwnerEnforced``:
  ``NotImplemented``. (Object Lock headers are served: :mod:`.lockheaders`.)
- Object tags, storage classes other than ``STANDARD``, website redirects, SSE-KMS and
  SSE-C on an upload or copy: ``NotImplemented``. ``x-amz-server-side-encryption: AES256``
  (SSE-S3) is accepted: every byte at rest is encrypted by domicile with keys the
  deployment holds, which is what SSE-S3 promises.
- SSE-C headers on a read: ``InvalidRequest`` (no object here is encrypted with a
  customer-provided key).
- ``x-amz-expected-bucket-owner`` naming another owner than the caller's tenant:
  ``AccessDenied`` (403), as S3 does.
"""

from __future__ import annotations

from typing import Final

from domicile.gateway import acl
from domicile.gateway.request import S3Request
from domicile.gateway.s3errors import reject

#: Operations that write an object from a request (the headers of a new object).
WRITES: Final = frozenset({"PutObject", "CopyObject", "CreateMultipartUpload"})
#: Operations that read an object's bytes or metadata.
READS: Final = frozenset({"GetObject", "HeadObject"})
SSE_C_HEADERS: Final = tuple(
    f"{prefix}server-side-encryption-customer-{part}"
    for prefix in ("x-amz-", "x-amz-copy-source-")
    for part in ("algorithm", "key", "key-md5")
)
#: S3's conditional deletes; DeleteObject here takes no condition.
CONDITIONAL_DELETE: Final = (
    "if-match",
    "x-amz-if-match-last-modified-time",
    "x-amz-if-match-size",
)
#: Headers of an object write that name a feature this gateway lacks.
NOT_IMPLEMENTED_ON_WRITE: Final = (
    ("x-amz-tagging", "object tags are not supported"),
    ("x-amz-website-redirect-location", "website redirects are not supported"),
    ("x-amz-write-offset-bytes", "appends are not supported"),
)
#: Every header some rule below looks at.
WATCHED: Final = frozenset(
    {
        "x-amz-expected-bucket-owner", "x-amz-acl", *acl.GRANT_HEADERS,
        *SSE_C_HEADERS, *CONDITIONAL_DELETE, *(name for name, _ in NOT_IMPLEMENTED_ON_WRITE),
        "x-amz-tagging-directive", "x-amz-storage-class", "x-amz-server-side-encryption",
        "x-amz-object-ownership",
    }
)  # fmt: skip


def check_request(operation: str, req: S3Request, owner: str) -> None:
    """Refuse ``req`` (routed to ``operation``, sent by tenant ``owner``) when a header
    or parameter asks for something this gateway would otherwise silently not do."""
    if not any(name in WATCHED for name, _ in req.headers):
        return  # the common case: one pass over the headers, nothing to refuse
    expected = req.header("x-amz-expected-bucket-owner")
    if expected is not None and req.bucket is not None and expected.strip() != owner:
        raise reject(
            "AccessDenied", "the bucket's owner is not the expected bucket owner", bucket=req.bucket
        )
    if operation == "CreateBucket":
        _create_bucket(req, owner)
    elif operation in WRITES:
        _object_write(req, owner, operation)
    elif operation == "DeleteObject" and any(req.header(h) is not None for h in CONDITIONAL_DELETE):
        raise reject(
            "NotImplemented",
            "conditional deletes (If-Match, x-amz-if-match-*) are not supported",
            hint="delete without a condition, or compare the ETag first",
        )
    elif (operation == "UploadPart" or operation in READS) and any(
        req.header(h) is not None for h in SSE_C_HEADERS
    ):
        raise reject(
            "InvalidRequest",
            "the encryption parameters are not applicable to this object",
            hint="objects are encrypted by domicile; send no customer key",
        )


def _create_bucket(req: S3Request, owner: str) -> None:
    acl.check_headers(req, owner, create_bucket=True)
    ownership = req.header("x-amz-object-ownership")
    if ownership is not None and ownership.strip() != "BucketOwnerEnforced":
        raise reject(
            "NotImplemented",
            f"object ownership {ownership.strip()[:40]!r} is not supported: ACLs are "
            "disabled and the bucket owner owns every object (BucketOwnerEnforced)",
        )


def _object_write(req: S3Request, owner: str, operation: str) -> None:
    acl.check_headers(req, owner)
    for name, problem in NOT_IMPLEMENTED_ON_WRITE:
        if req.header(name) is not None:
            raise reject("NotImplemented", f"{problem} ({name})")
    if (
        operation == "CopyObject"
        and (req.header("x-amz-tagging-directive") or "").strip().upper() == "REPLACE"
    ):
        raise reject("NotImplemented", "object tags are not supported (x-amz-tagging-directive)")
    storage = (req.header("x-amz-storage-class") or "STANDARD").strip()
    if storage != "STANDARD":
        raise reject(
            "NotImplemented",
            f"storage class {storage[:40]!r} is not supported; objects are STANDARD",
        )
    sse = (req.header("x-amz-server-side-encryption") or "AES256").strip()
    if sse != "AES256":
        raise reject(
            "NotImplemented",
            f"server-side encryption {sse[:40]!r} is not supported; domicile encrypts "
            "every object with the deployment's own keys (AES256 is accepted)",
        )
    if any(req.header(name) is not None for name in SSE_C_HEADERS):
        raise reject(
            "NotImplemented",
            "customer-provided encryption keys (SSE-C) are not supported",
            hint="objects are encrypted by domicile with the deployment's keys",
        )
