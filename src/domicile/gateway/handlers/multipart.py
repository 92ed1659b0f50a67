"""Multipart uploads: Create, UploadPart, UploadPartCopy, Complete, Abort, ListParts and
ListMultipartUploads. Parts go through the engine straight to the sites the upload's
policy chose at its creation, as encrypted segments; nothing is staged here.

Checksums: CreateMultipartUpload's ``x-amz-checksum-algorithm`` is kept with the upload
(COMPOSITE only); every UploadPart must then carry that checksum (``InvalidRequest``
before its body is read otherwise), which is stored with the part and listed by
ListParts; CompleteMultipartUpload checks any part checksum it lists (``InvalidPart``) and
gives the object the composite checksum ``base64(alg(digests of the parts))-N``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import quote

from domicile.engine.records import PartInfo, UploadInfo
from domicile.gateway import s3xml
from domicile.gateway.call import Call, Reply
from domicile.gateway.checksums import HEADERS as CHECKSUM_HEADERS
from domicile.gateway.checksums import ChecksumSet, check_encoded, new_checksum
from domicile.gateway.conditions import copy_range, part_number, write_conditions
from domicile.gateway.handlers.listing import encoding_type, max_count
from domicile.gateway.handlers.objects import (
    copy_source,
    require_length,
    source_version_headers,
    upload_reply,
)
from domicile.gateway.handlers.versions import version_headers
from domicile.gateway.headers import meta_from_request
from domicile.gateway.lockheaders import with_lock
from domicile.gateway.s3bodies import CompletedPart, parse_complete_multipart
from domicile.gateway.s3errors import reject


def _when(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _upload_id(call: Call) -> str:
    upload_id = call.req.params.get("uploadId", "")
    if not upload_id:
        raise reject("NoSuchUpload", "the uploadId parameter is empty", key=call.key)
    return upload_id


def _part_number(call: Call) -> int:
    return part_number(call.req.params.get("partNumber", ""))


def create_upload(call: Call) -> Reply:
    call.bucket()
    algorithm = _upload_algorithm(call)
    upload = call.engine.create_multipart(
        call.bucket_name,
        call.key,
        meta=with_lock(meta_from_request(call.req), call.req),
        checksum=algorithm,
    )
    reply = Reply.xml(s3xml.initiate_multipart_upload(call.bucket_name, call.key, upload.upload_id))
    if algorithm is not None:
        reply.headers += [
            ("x-amz-checksum-algorithm", algorithm),
            ("x-amz-checksum-type", "COMPOSITE"),
        ]
    return reply


def _upload_algorithm(call: Call) -> str | None:
    """The ``x-amz-checksum-algorithm`` of a CreateMultipartUpload; FULL_OBJECT refused."""
    asked = call.req.header("x-amz-checksum-algorithm")
    kind = (call.req.header("x-amz-checksum-type") or "COMPOSITE").strip().upper()
    if kind != "COMPOSITE":
        raise reject(
            "NotImplemented" if kind == "FULL_OBJECT" else "InvalidRequest",
            f"x-amz-checksum-type {kind[:20]} is not supported for multipart uploads",
            hint="use COMPOSITE checksums (the default), or none",
        )
    return new_checksum(asked.strip()).algorithm if asked else None


def _require_checksum(upload: UploadInfo, announced: Sequence[str], number: int) -> None:
    if upload.checksum is not None and upload.checksum not in announced:
        raise reject(
            "InvalidRequest",
            f"part {number} has no {upload.checksum} checksum; the upload was created with "
            f"x-amz-checksum-algorithm {upload.checksum}",
            hint=f"send every part with its x-amz-checksum-{upload.checksum.lower()}",
        )


def upload_part(call: Call) -> Reply:
    call.bucket()
    number = _part_number(call)
    upload_id = _upload_id(call)
    require_length(call)
    body = call.payload()
    upload = call.engine.upload(call.bucket_name, call.key, upload_id)
    _require_checksum(upload, body.algorithms, number)
    part = call.engine.upload_part(
        call.bucket_name, call.key, upload_id, number, body, checksums=lambda: body.checksums
    )
    return upload_reply(part.etag, body.checksums)


def upload_part_copy(call: Call) -> Reply:
    call.bucket()
    number = _part_number(call)
    upload_id = _upload_id(call)
    src_bucket, src_key, info = copy_source(call)
    start, end = 0, info.size
    wanted = call.req.header("x-amz-copy-source-range")
    if wanted is not None:
        start, end = copy_range(wanted, info.size)
    upload = call.engine.upload(call.bucket_name, call.key, upload_id)
    part = call.engine.upload_part_copy(
        call.bucket_name,
        call.key,
        upload_id,
        number,
        src_bucket,
        src_key,
        start,
        end,
        digester=ChecksumSet([upload.checksum]) if upload.checksum else None,
        src_version_id=None if info.is_latest else info.s3_version_id,
    )
    when = _when(part.last_modified)
    reply = Reply.xml(
        s3xml.copy_object_result(part.etag, when, part=True, checksums=part.checksums)
    )
    reply.headers += source_version_headers(call, src_bucket, info)
    return reply


def complete_upload(call: Call) -> Reply:
    bucket = call.bucket()
    upload_id = _upload_id(call)
    if_match, if_none_match = write_conditions(call.req)
    parts = parse_complete_multipart(call.read_xml())
    info = call.engine.complete_multipart(
        call.bucket_name,
        call.key,
        upload_id,
        [(p.part_number, p.etag) for p in parts],
        checksums=lambda upload, chosen: composite(upload, chosen, parts),
        if_match=if_match,
        if_none_match=if_none_match,
    )
    location = f"{call.req.scheme}://{call.req.host}/{call.bucket_name}/{quote(call.key)}"
    reply = Reply.xml(
        s3xml.complete_multipart_upload(
            location,
            call.bucket_name,
            call.key,
            info.etag,
            checksums={n: v for n, v in info.checksums.items() if n in CHECKSUM_HEADERS},
            checksum_type=info.checksum_type.upper() if info.checksum_type else None,
        )
    )
    reply.headers += version_headers(bucket, info)
    return reply


def composite(
    upload: UploadInfo, chosen: Sequence[PartInfo], listed: Sequence[CompletedPart]
) -> Mapping[str, str]:
    """The object's checksum, ``base64(alg(raw digests of the parts in order))-N``, after
    every checksum the client listed with a part is found equal to the stored one."""
    for part, named in zip(chosen, listed, strict=True):
        for algorithm, value in named.checksums.items():
            if part.checksums.get(algorithm) != value:
                raise reject(
                    "InvalidPart",
                    f"part {part.part_number}'s {algorithm} checksum is not {value[:64]!r}",
                    hint="list each part with the checksum its UploadPart returned",
                )
    if upload.checksum is None:
        return {}
    algorithm = upload.checksum
    combined = new_checksum(algorithm)
    for part in chosen:
        combined.update(check_encoded(algorithm, part.checksums[algorithm]))
    return {algorithm: f"{combined.b64digest()}-{len(chosen)}"}


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
                s3xml.PartEntry(
                    p.part_number, _when(p.last_modified), p.etag, p.size, dict(p.checksums)
                )
                for p in page.parts
            ],
            part_number_marker=int(marker),
            next_part_number_marker=page.next_after if page.is_truncated else None,
            max_parts=limit,
            is_truncated=page.is_truncated,
            owner=owner,
            checksum_algorithm=page.upload.checksum,
            checksum_type="COMPOSITE",
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
