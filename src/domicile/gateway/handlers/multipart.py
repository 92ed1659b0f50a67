"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts and
ListMultipartUploads. Parts go through the engine straight to the sites the upload's
policy chose at its creation, as encrypted segments; nothing is staged here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote

from domicile.gateway import s3xml
from domicile.gateway.call import Call, Reply
from domicile.gateway.conditions import parse_range
from domicile.gateway.handlers.listing import encoding_type, max_count
from domicile.gateway.handlers.objects import copy_source, require_length, upload_reply
from domicile.gateway.headers import meta_from_request
from domicile.gateway.s3bodies import parse_complete_multipart
from domicile.gateway.s3errors import reject

MAX_PART_NUMBER: Final = 10_000


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _upload_id(call: Call) -> str:
    upload_id = call.req.params.get("uploadId", "")
    if not upload_id:
        raise reject("NoSuchUpload", "the uploadId parameter is empty", key=call.key)
    return upload_id


def _part_number(call: Call) -> int:
    value = call.req.params.get("partNumber", "")
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_PART_NUMBER:
        raise reject(
            "InvalidArgument",
            f"partNumber must be an integer from 1 to {MAX_PART_NUMBER}, not {value[:20]!r}",
        )
    return int(value)


def create_upload(call: Call) -> Reply:
    call.bucket()
    upload = call.engine.create_multipart(
        call.bucket_name, call.key, meta=meta_from_request(call.req)
    )
    return Reply.xml(s3xml.initiate_multipart_upload(call.bucket_name, call.key, upload.upload_id))


def upload_part(call: Call) -> Reply:
    call.bucket()
    number = _part_number(call)
    upload_id = _upload_id(call)
    require_length(call)
    body = call.payload()
    part = call.engine.upload_part(call.bucket_name, call.key, upload_id, number, body)
    return upload_reply(part.etag, body.checksums)


def upload_part_copy(call: Call) -> Reply:
    call.bucket()
    number = _part_number(call)
    upload_id = _upload_id(call)
    src_bucket, src_key, info = copy_source(call)
    start, end = 0, info.size
    wanted = call.req.header("x-amz-copy-source-range")
    if wanted is not None:
        span = parse_range(wanted, info.size)
        if span is None:
            raise reject("InvalidArgument", f"x-amz-copy-source-range {wanted!r} is not a range")
        start, end = span
    part = call.engine.upload_part_copy(
        call.bucket_name, call.key, upload_id, number, src_bucket, src_key, start, end
    )
    return Reply.xml(s3xml.copy_object_result(part.etag, _when(part.last_modified), part=True))


def complete_upload(call: Call) -> Reply:
    call.bucket()
    upload_id = _upload_id(call)
    parts = parse_complete_multipart(call.read_xml())
    info = call.engine.complete_multipart(
        call.bucket_name, call.key, upload_id, [(p.part_number, p.etag) for p in parts]
    )
    location = f"{call.req.scheme}://{call.req.host}/{call.bucket_name}/{quote(call.key)}"
    return Reply.xml(
        s3xml.complete_multipart_upload(location, call.bucket_name, call.key, info.etag)
    )


def abort_upload(call: Call) -> Reply:
    call.bucket()
    call.engine.abort_multipart(call.bucket_name, call.key, _upload_id(call))
    return Reply(204)


def list_parts(call: Call) -> Reply:
    call.bucket()
    upload_id = _upload_id(call)
    marker = call.req.params.get("part-number-marker", "0") or "0"
    if not marker.isascii() or not marker.isdigit():
        raise reject("InvalidArgument", f"part-number-marker {marker[:20]!r} is not a number")
    limit = max_count(call.req.params.get("max-parts"), "max-parts")
    page = call.engine.list_parts(
        call.bucket_name, call.key, upload_id, after=int(marker), limit=limit
    )
    owner = s3xml.Owner(call.tenant, call.tenant)
    return Reply.xml(
        s3xml.list_parts(
            call.bucket_name,
            call.key,
            upload_id,
            [
                s3xml.PartEntry(p.part_number, _when(p.last_modified), p.etag, p.size)
                for p in page.parts
            ],
            part_number_marker=int(marker),
            next_part_number_marker=page.next_after if page.is_truncated else None,
            max_parts=limit,
            is_truncated=page.is_truncated,
            owner=owner,
        )
    )


def list_uploads(call: Call) -> Reply:
    call.bucket()
    p = call.req.params
    prefix, key_marker = p.get("prefix", ""), p.get("key-marker", "")
    id_marker = p.get("upload-id-marker", "") if key_marker else ""
    limit = max_count(p.get("max-uploads"), "max-uploads")
    page = call.engine.list_uploads(
        call.bucket_name,
        prefix=prefix,
        key_marker=key_marker,
        upload_id_marker=id_marker,
        limit=limit,
    )
    owner = s3xml.Owner(call.tenant, call.tenant)
    return Reply.xml(
        s3xml.list_multipart_uploads(
            call.bucket_name,
            [
                s3xml.UploadEntry(u.key, u.upload_id, _when(u.initiated), owner)
                for u in page.uploads
            ],
            prefix=prefix,
            key_marker=key_marker,
            upload_id_marker=id_marker,
            next_key_marker=page.next_key_marker,
            next_upload_id_marker=page.next_upload_id_marker,
            max_uploads=limit,
            is_truncated=page.is_truncated,
            encoding_type=encoding_type(call),
        )
    )
