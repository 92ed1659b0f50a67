"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects and
CopyObject. Each parses the request, calls the engine once, and encodes the answer.

Checksums (docs/gateway.md, "Checksums"): a PUT stores the ``x-amz-checksum-*`` values the
client sent, once the body has proven them; a GET or HEAD of the whole object with
``x-amz-checksum-mode: ENABLED`` returns them with ``x-amz-checksum-type``; a copy carries
the source's, or computes the algorithm ``x-amz-checksum-algorithm`` names (or a composite
source's algorithm, over the whole copy) as it streams."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from domicile.catalog import Bucket
from domicile.engine import ObjectInfo
from domicile.engine.records import COMPOSITE
from domicile.errors import DomicileError, ObjectNotFound
from domicile.gateway import s3xml
from domicile.gateway.bridge import close_stream
from domicile.gateway.call import Call, Reply
from domicile.gateway.checksums import HEADERS as CHECKSUM_HEADERS
from domicile.gateway.checksums import ChecksumSet, new_checksum
from domicile.gateway.conditions import (
    check_preconditions,
    copy_range,
    parse_range,
    part_span,
    write_conditions,
)
from domicile.gateway.handlers.versions import (
    MARKER_HEADER,
    VERSION_HEADER,
    checked_id,
    head_version,
    version_headers,
    version_param,
    with_marker_headers,
)
from domicile.gateway.headers import http_date, meta_from_request, object_headers
from domicile.gateway.lockheaders import bypass, lock_headers, lock_requested, with_lock
from domicile.gateway.s3bodies import parse_delete
from domicile.gateway.s3errors import code_for, message_for, reject

#: A GET whose object is replaced between its HEAD and its read is retried this often.
_READ_ATTEMPTS = 3
#: Headers a GET must judge against the object's size, ETag or date before reading it.
_NEEDS_HEAD = ("range", "if-match", "if-none-match", "if-modified-since", "if-unmodified-since")
#: The query parameter that asks a GET or HEAD for one part of the object.
PART_NUMBER = "partNumber"


def require_length(call: Call) -> None:
    """S3 needs a ``Content-Length`` (or a decoded length for aws-chunked) on uploads."""
    if call.req.header("content-length") is None and not call.auth.payload_mode.chunked:
        raise reject(
            "MissingContentLength",
            "an upload needs a Content-Length header",
            hint="send the body's size; for a stream of unknown size use a multipart upload",
        )


def upload_reply(
    etag: str, checksums: dict[str, str], version: list[tuple[str, str]] | None = None
) -> Reply:
    """The headers of a stored body: its ETag, every checksum verified over it, and the
    ``version`` headers of the version it made (see :func:`.versions.version_headers`)."""
    headers = [("etag", s3xml.quote_etag(etag))]
    headers += [(CHECKSUM_HEADERS[name], value) for name, value in checksums.items()]
    return Reply(200, headers + (version or []))


def put_object(call: Call) -> Reply:
    bucket = call.bucket()
    require_length(call)
    meta = with_lock(meta_from_request(call.req), call.req, body=True)
    if_match, if_none_match = write_conditions(call.req)
    body = call.payload()
    info = call.engine.put(
        call.bucket_name,
        call.key,
        body,
        meta=meta,
        checksums=lambda: body.checksums,
        if_match=if_match,
        if_none_match=if_none_match,
    )
    return upload_reply(info.etag, body.checksums, version_headers(bucket, info))


def stored_checksums(info: ObjectInfo) -> list[tuple[str, str]]:
    """``x-amz-checksum-<alg>`` of each checksum stored with ``info``, and its type."""
    headers = [
        (CHECKSUM_HEADERS[name], value)
        for name, value in info.checksums.items()
        if name in CHECKSUM_HEADERS
    ]
    if headers and info.checksum_type:
        headers.append(("x-amz-checksum-type", info.checksum_type.upper()))
    return headers


def head_object(call: Call) -> Reply:
    """What a GET would answer, without reading (or auditing a read of) the object."""
    bucket = call.bucket()
    info = head_version(call, bucket, version_param(call))
    start, end, ranged = _span(call, info)
    status, headers = _object_head(call, info, start, end, ranged=ranged)
    return Reply(status, headers + _about(call, bucket, info), b"")


def _about(call: Call, bucket: Bucket, info: ObjectInfo) -> list[tuple[str, str]]:
    """The version's headers, and its Object Lock's (none asked for in a bucket without)."""
    locked = lock_headers(call.engine.lock_of(info)) if bucket.object_lock else []
    return version_headers(bucket, info) + locked


def _part_asked(call: Call) -> bool:
    """Whether the request names a ``partNumber`` (no query at all: the common GET)."""
    return bool(call.req.raw_query) and PART_NUMBER in call.req.params


def _common_get(call: Call) -> bool:
    """A plain GET of the whole object: no condition, range or part to judge first."""
    return not _part_asked(call) and not any(call.req.header(name) for name in _NEEDS_HEAD)


def get_object(call: Call) -> Reply:
    """The object, or its range, after its preconditions hold, all from one version."""
    bucket = call.bucket()
    version_id = version_param(call)
    if version_id is None and _common_get(call):
        try:
            reader = call.engine.get(call.bucket_name, call.key)
        except ObjectNotFound as exc:
            raise with_marker_headers(exc) from None
        info = reader.info
        status, headers = _object_head(call, info, 0, info.size, ranged=False)
        return Reply(
            status,
            headers + _about(call, bucket, info),
            iter(reader),
        )
    info = head_version(call, bucket, version_id)
    for _ in range(_READ_ATTEMPTS):
        start, end, ranged = _span(call, info)
        reader = call.engine.get(
            call.bucket_name, call.key, start, end, version_id=version_id or None
        )
        if reader.info.version_id == info.version_id:
            status, headers = _object_head(call, info, start, end, ranged=ranged)
            return Reply(
                status,
                headers + _about(call, bucket, info),
                iter(reader),
            )
        close_stream(reader.chunks)  # replaced meanwhile: judge the new version instead
        info = reader.info
    raise reject("SlowDown", "the object is being replaced too often to be read")


def _span(call: Call, info: ObjectInfo) -> tuple[int, int, bool]:
    """``[start, end)`` to serve, and whether a range (or a part) was asked; preconditions
    first. A part of an object written whole: part 1 is all of it."""
    check_preconditions(
        call.req, info.etag, info.created_at, not_modified_headers=not_modified_headers(info)
    )
    number = call.req.params.get(PART_NUMBER)
    if number is not None:
        start, end = part_span(number, call.req.header("range"), info.part_sizes or (info.size,))
        return start, end, end > start
    span = parse_range(call.req.header("range"), info.size)
    start, end = span if span is not None else (0, info.size)
    return start, end, span is not None


def not_modified_headers(info: ObjectInfo) -> list[tuple[str, str]]:
    """What a 304 carries: the object's ETag and Last-Modified, as S3 sends them, and its
    Cache-Control and Expires, which RFC 9110 asks a 304 to repeat."""
    headers = [("etag", s3xml.quote_etag(info.etag)), ("last-modified", http_date(info.created_at))]
    for name, value in (("cache-control", info.meta.cache_control), ("expires", info.meta.expires)):
        if value is not None:
            headers.append((name, value))
    return headers


def _object_head(
    call: Call, info: ObjectInfo, start: int, end: int, *, ranged: bool
) -> tuple[int, list[tuple[str, str]]]:
    """The status and headers of a GET or HEAD of ``[start, end)`` of ``info``."""
    headers = object_headers(info, call.req.params)
    mode = (call.req.header("x-amz-checksum-mode") or "").upper()
    part = _part_asked(call)
    whole = not ranged and not part
    if mode == "ENABLED" and whole:  # as S3: a range has no checksum of its own
        headers += stored_checksums(info)
    if ranged:
        headers.append(("content-range", f"bytes {start}-{end - 1}/{info.size}"))
    if part and info.part_sizes:
        headers.append(("x-amz-mp-parts-count", str(len(info.part_sizes))))
    headers.append(("content-length", str(end - start)))
    return (206 if ranged else 200), headers


def delete_object(call: Call) -> Reply:
    """Delete the object (a delete marker in a versioned bucket), or with ``versionId``
    that version for good; S3's headers say which (204 whether or not it existed)."""
    bucket = call.bucket()
    version_id = version_param(call)
    done = call.engine.remove(
        call.bucket_name,
        call.key,
        version_id=version_id,
        bypass_governance=bypass(call.req, call.may_bypass),
    )
    headers: list[tuple[str, str]] = []
    if done.delete_marker:
        headers.append((MARKER_HEADER, "true"))
    shown = version_id or (done.version_id if bucket.versioning is not None else None)
    if shown is not None:
        headers.append((VERSION_HEADER, shown))
    return Reply(204, headers)


def delete_objects(call: Call) -> Reply:
    call.bucket()
    request = parse_delete(call.read_xml())
    skip_governance = bypass(call.req, call.may_bypass)
    deleted: list[s3xml.Deleted] = []
    errors: list[s3xml.DeleteError] = []
    for key, version in request.objects:
        try:
            if version is not None:
                checked_id(version)
            done = call.engine.remove(
                call.bucket_name, key, version_id=version, bypass_governance=skip_governance
            )
        except DomicileError as exc:
            code = code_for(exc)
            errors.append(s3xml.DeleteError(key, code, message_for(exc, code), version))
            continue
        if version is not None:  # that version, removed for good (a marker, maybe)
            marker_id = version if done.delete_marker else None
            deleted.append(s3xml.Deleted(key, version, done.delete_marker, marker_id))
        elif done.delete_marker:
            deleted.append(s3xml.Deleted(key, None, True, done.version_id))
        else:
            deleted.append(s3xml.Deleted(key))
    return Reply.xml(s3xml.delete_result(deleted, errors, quiet=request.quiet))


def copy_source(call: Call) -> tuple[str, str, ObjectInfo]:
    """The ``x-amz-copy-source`` object (owned by this tenant), of the version its
    ``?versionId=`` names if any, its preconditions checked."""
    raw = call.req.header("x-amz-copy-source") or ""
    path, _, query = raw.partition("?")
    try:
        source = unquote(path, errors="strict").lstrip("/")
    except UnicodeDecodeError:
        source = ""
    bucket, slash, key = source.partition("/")
    if not bucket or not slash or not key:
        raise reject(
            "InvalidArgument",
            f"x-amz-copy-source {raw[:200]!r} does not name an object (or is not UTF-8)",
            hint="send x-amz-copy-source: <bucket>/<url-encoded UTF-8 key>",
        )
    call.bucket(bucket)
    asked = dict(p.partition("=")[::2] for p in query.split("&") if p).get("versionId")
    version_id = None if asked is None else checked_id(unquote(asked))
    try:
        info = call.engine.head(bucket, key, version_id=version_id)
    except ObjectNotFound as exc:
        raise with_marker_headers(exc) from None
    if info.delete_marker:
        raise reject(
            "InvalidRequest",
            "the source of a copy request may not specifically refer to a delete marker "
            "by version id",
            key=key,
        )
    check_preconditions(call.req, info.etag, info.created_at, copy_source=True)
    return bucket, key, info


def source_version_headers(call: Call, bucket: str, info: ObjectInfo) -> list[tuple[str, str]]:
    """``x-amz-copy-source-version-id`` of a copy's source (when its bucket is versioned)."""
    return [
        ("x-amz-copy-source-version-id", value)
        for _, value in version_headers(call.engine.bucket(bucket), info)
    ]


def copy_object(call: Call) -> Reply:
    bucket = call.bucket()
    src_bucket, src_key, source = copy_source(call)
    directive = (call.req.header("x-amz-metadata-directive") or "COPY").upper()
    if directive not in {"COPY", "REPLACE"}:
        raise reject("InvalidArgument", f"unknown x-amz-metadata-directive {directive!r}")
    if (src_bucket, src_key) == (call.bucket_name, call.key) and directive == "COPY":
        raise reject(
            "InvalidRequest",
            "copying an object onto itself must change something",
            hint="send x-amz-metadata-directive: REPLACE with the new metadata",
        )
    meta = meta_from_request(call.req) if directive == "REPLACE" else None
    if lock_requested(call.req):  # the copy's own lock; a source's lock is never copied
        meta = with_lock(meta or source.meta, call.req)
    _whole_copy_range(call.req.header("x-amz-copy-source-range"), source.size)
    if_match, if_none_match = write_conditions(call.req)
    digester = copy_digester(call, source)
    info = call.engine.copy(
        src_bucket,
        src_key,
        call.bucket_name,
        call.key,
        meta=meta,
        digester=digester,
        if_match=if_match,
        if_none_match=if_none_match,
        src_version_id=None if source.is_latest else source.s3_version_id,
    )
    when = datetime.fromtimestamp(info.created_at, UTC)
    kind = info.checksum_type.upper() if info.checksum_type else None
    reply = Reply.xml(
        s3xml.copy_object_result(info.etag, when, checksums=_s3_named(info), checksum_type=kind)
    )
    reply.headers += version_headers(bucket, info)
    reply.headers += source_version_headers(call, src_bucket, source)
    return reply


def _whole_copy_range(value: str | None, size: int) -> None:
    """CopyObject copies whole objects: an ``x-amz-copy-source-range`` is checked as
    UploadPartCopy checks it (past the end: InvalidRange; malformed: InvalidArgument) and
    must then cover the whole source; a part of it is NotImplemented, never a whole copy
    made silently."""
    if value is None:
        return
    start, end = copy_range(value, size)
    if (start, end) != (0, size):
        raise reject(
            "NotImplemented",
            f"CopyObject copies whole objects; x-amz-copy-source-range {value.strip()!r} "
            f"names part of a {size}-byte source",
            hint="copy a range with UploadPartCopy into a multipart upload",
        )


def copy_digester(call: Call, source: ObjectInfo) -> ChecksumSet | None:
    """What computes a copy's checksums: the algorithm ``x-amz-checksum-algorithm`` names;
    else, for a source whose checksums are composite (a multipart upload's, which say
    nothing of a one-part copy), the same algorithm over the whole copy; else None (the
    source's checksums are carried: the plaintext is the same)."""
    asked = call.req.header("x-amz-checksum-algorithm")
    if asked:
        return ChecksumSet([new_checksum(asked.strip()).algorithm])
    if source.checksum_type == COMPOSITE:
        return ChecksumSet([n for n in source.checksums if n in CHECKSUM_HEADERS])
    return None


def _s3_named(info: ObjectInfo) -> dict[str, str]:
    return {n: v for n, v in info.checksums.items() if n in CHECKSUM_HEADERS}
