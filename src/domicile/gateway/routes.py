"""Which handler serves a request: S3 routes by level (service, bucket, object), method and
query subresource, not by path patterns. :func:`route` returns the operation's name (for
logs and metrics) and its handler, or raises the S3 error a client expects:

- a subresource S3 defines and this gateway does not serve (``?tagging``, ``?cors``...):
  ``NotImplemented`` (501), with the subresource named;
- a served subresource (:data:`~.request.SERVED`) on a method or level with no rule for it
  (``PUT /bucket?location``, ``GET /bucket/key?uploads``): ``MethodNotAllowed`` (405).
  The plain rule of a method (PutObject, CreateBucket...) never takes a request carrying
  one, so no subresource is ever answered as if it had not been sent."""

from __future__ import annotations

from collections.abc import Callable

from domicile.gateway.call import Call, Reply
from domicile.gateway.handlers import (
    buckets,
    lifecycle,
    listing,
    lock,
    multipart,
    objects,
    versions,
)
from domicile.gateway.request import SERVED, UNSUPPORTED, S3Request, subresources
from domicile.gateway.s3errors import reject

Handler = Callable[[Call], Reply]


def route(req: S3Request) -> tuple[str, Handler]:
    """``(operation, handler)`` for ``req``; ``NotImplemented`` / ``MethodNotAllowed``."""
    subs = subresources(req.query)
    unsupported = sorted(subs & UNSUPPORTED)
    if unsupported:
        raise reject(
            "NotImplemented",
            f"the ?{unsupported[0]} subresource is not supported by this gateway",
            hint="domicile serves objects, buckets, listings and multipart uploads",
        )
    if req.bucket is None:
        if req.method == "GET" and not subs & SERVED:
            return "ListBuckets", buckets.list_buckets
        raise _not_allowed(req)
    return _match(req, subs, _BUCKET if req.key is None else _OBJECT)


#: ``(method, subresource, predicate, operation, handler)``: the first rule whose method
#: matches, whose subresource is present (or, for ``None``, no served subresource is) and
#: whose predicate (if any) holds wins.
Rule = tuple[str, str | None, "Callable[[S3Request], bool] | None", str, Handler]


def _copy(req: S3Request) -> bool:
    return req.header("x-amz-copy-source") is not None


def _v2(req: S3Request) -> bool:
    return req.params.get("list-type") == "2"


_BUCKET: tuple[Rule, ...] = (
    ("GET", "location", None, "GetBucketLocation", buckets.get_location),
    ("GET", "versioning", None, "GetBucketVersioning", lock.get_versioning),
    ("PUT", "versioning", None, "PutBucketVersioning", lock.put_versioning),
    ("GET", "versions", None, "ListObjectVersions", versions.list_object_versions),
    ("GET", "object-lock", None, "GetObjectLockConfiguration", lock.get_object_lock),
    ("PUT", "object-lock", None, "PutObjectLockConfiguration", lock.put_object_lock),
    ("GET", "lifecycle", None, "GetBucketLifecycleConfiguration", lifecycle.get_lifecycle),
    ("PUT", "lifecycle", None, "PutBucketLifecycleConfiguration", lifecycle.put_lifecycle),
    ("DELETE", "lifecycle", None, "DeleteBucketLifecycle", lifecycle.delete_lifecycle),
    ("GET", "acl", None, "GetBucketAcl", lock.get_bucket_acl),
    ("PUT", "acl", None, "PutBucketAcl", lock.put_bucket_acl),
    ("GET", "uploads", None, "ListMultipartUploads", multipart.list_uploads),
    ("GET", None, _v2, "ListObjectsV2", listing.list_objects_v2),
    ("GET", None, None, "ListObjects", listing.list_objects_v1),
    ("PUT", None, None, "CreateBucket", buckets.create_bucket),
    ("HEAD", None, None, "HeadBucket", buckets.head_bucket),
    ("DELETE", None, None, "DeleteBucket", buckets.delete_bucket),
    ("POST", "delete", None, "DeleteObjects", objects.delete_objects),
)
_OBJECT: tuple[Rule, ...] = (
    ("GET", "acl", None, "GetObjectAcl", lock.get_object_acl),
    ("PUT", "acl", None, "PutObjectAcl", lock.put_object_acl),
    ("GET", "retention", None, "GetObjectRetention", lock.get_retention),
    ("PUT", "retention", None, "PutObjectRetention", lock.put_retention),
    ("GET", "legal-hold", None, "GetObjectLegalHold", lock.get_legal_hold),
    ("PUT", "legal-hold", None, "PutObjectLegalHold", lock.put_legal_hold),
    ("PUT", "uploadId", _copy, "UploadPartCopy", multipart.upload_part_copy),
    ("PUT", "uploadId", None, "UploadPart", multipart.upload_part),
    ("PUT", None, _copy, "CopyObject", objects.copy_object),
    ("PUT", None, None, "PutObject", objects.put_object),
    ("GET", "uploadId", None, "ListParts", multipart.list_parts),
    ("GET", None, None, "GetObject", objects.get_object),
    ("HEAD", None, None, "HeadObject", objects.head_object),
    ("DELETE", "uploadId", None, "AbortMultipartUpload", multipart.abort_upload),
    ("DELETE", None, None, "DeleteObject", objects.delete_object),
    ("POST", "uploads", None, "CreateMultipartUpload", multipart.create_upload),
    ("POST", "uploadId", None, "CompleteMultipartUpload", multipart.complete_upload),
)


def _match(req: S3Request, subs: frozenset[str], rules: tuple[Rule, ...]) -> tuple[str, Handler]:
    for method, sub, predicate, operation, handler in rules:
        present = sub in subs if sub is not None else not subs & SERVED
        if method == req.method and present and (predicate is None or predicate(req)):
            return operation, handler
    raise _not_allowed(req)


def _not_allowed(req: S3Request) -> Exception:
    served = sorted(subresources(req.query) & SERVED)
    what = f"{req.resource}?{served[0]}" if served else req.resource
    return reject("MethodNotAllowed", f"{req.method} is not allowed on {what}", method=req.method)
