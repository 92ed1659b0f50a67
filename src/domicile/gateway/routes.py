"""Which handler serves a request: S3 routes by level (service, bucket, object), method and
query subresource, not by path patterns. :func:`route` returns the operation's name (for
logs and metrics) and its handler, or raises the S3 error a client expects."""

from __future__ import annotations

from collections.abc import Callable

from domicile.gateway.call import Call, Reply
from domicile.gateway.handlers import buckets, listing, multipart, objects
from domicile.gateway.request import UNSUPPORTED, S3Request, subresources
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
        if req.method == "GET":
            return "ListBuckets", buckets.list_buckets
        raise _not_allowed(req)
    return _match(req, subs, _BUCKET if req.key is None else _OBJECT)


#: ``(method, condition, operation, handler)``: the first rule whose method and condition
#: match wins. A condition is a query subresource that must be present, ``None`` (anything
#: else), or a callable for the two cases that look further.
Rule = tuple[str, "str | Callable[[S3Request], bool] | None", str, Handler]


def _copy(req: S3Request) -> bool:
    return req.header("x-amz-copy-source") is not None


def _part_copy(req: S3Request) -> bool:
    return "uploadId" in req.params and _copy(req)


_BUCKET: tuple[Rule, ...] = (
    ("GET", "location", "GetBucketLocation", buckets.get_location),
    ("GET", "versioning", "GetBucketVersioning", buckets.get_versioning),
    ("GET", "uploads", "ListMultipartUploads", multipart.list_uploads),
    ("GET", lambda r: r.params.get("list-type") == "2", "ListObjectsV2", listing.list_objects_v2),
    ("GET", None, "ListObjects", listing.list_objects_v1),
    ("PUT", None, "CreateBucket", buckets.create_bucket),
    ("HEAD", None, "HeadBucket", buckets.head_bucket),
    ("DELETE", None, "DeleteBucket", buckets.delete_bucket),
    ("POST", "delete", "DeleteObjects", objects.delete_objects),
)
_OBJECT: tuple[Rule, ...] = (
    ("PUT", _part_copy, "UploadPartCopy", multipart.upload_part_copy),
    ("PUT", "uploadId", "UploadPart", multipart.upload_part),
    ("PUT", _copy, "CopyObject", objects.copy_object),
    ("PUT", None, "PutObject", objects.put_object),
    ("GET", "uploadId", "ListParts", multipart.list_parts),
    ("GET", None, "GetObject", objects.get_object),
    ("HEAD", None, "HeadObject", objects.head_object),
    ("DELETE", "uploadId", "AbortMultipartUpload", multipart.abort_upload),
    ("DELETE", None, "DeleteObject", objects.delete_object),
    ("POST", "uploads", "CreateMultipartUpload", multipart.create_upload),
    ("POST", "uploadId", "CompleteMultipartUpload", multipart.complete_upload),
)


def _match(req: S3Request, subs: frozenset[str], rules: tuple[Rule, ...]) -> tuple[str, Handler]:
    for method, condition, operation, handler in rules:
        if method != req.method:
            continue
        if condition is None or (
            condition in subs if isinstance(condition, str) else condition(req)
        ):
            return operation, handler
    raise _not_allowed(req)


def _not_allowed(req: S3Request) -> Exception:
    return reject(
        "MethodNotAllowed",
        f"{req.method} is not allowed on {req.resource}",
        method=req.method,
    )
