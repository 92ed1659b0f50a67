"""Object operations: PutObject, GetObject, HeadObject, DeleteObject, DeleteObjects and
CopyObject. Each parses the request, calls the engine once, and encodes the answer."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from domicile.engine import ObjectInfo, ObjectReader
from domicile.errors import DomicileError
from domicile.gateway import s3xml
from domicile.gateway.call import Call, Reply
from domicile.gateway.checksums import HEADERS as CHECKSUM_HEADERS
from domicile.gateway.conditions import check_preconditions, parse_range
from domicile.gateway.headers import meta_from_request, object_headers
from domicile.gateway.s3bodies import parse_delete
from domicile.gateway.s3errors import code_for, message_for, reject

#: A GET whose object is replaced between its HEAD and its read is retried this often.
_READ_ATTEMPTS = 3


def require_length(call: Call) -> None:
    """S3 needs a ``Content-Length`` (or a decoded length for aws-chunked) on uploads."""
    if call.req.header("content-length") is None and not call.auth.payload_mode.chunked:
        raise reject(
            "MissingContentLength",
            "an upload needs a Content-Length header",
            hint="send the body's size; for a stream of unknown size use a multipart upload",
        )


def upload_reply(etag: str, checksums: dict[str, str]) -> Reply:
    """The headers of a stored body: its ETag and every checksum verified over it."""
    headers = [("etag", s3xml.quote_etag(etag))]
    headers += [(CHECKSUM_HEADERS[name], value) for name, value in checksums.items()]
    return Reply(200, headers)


def put_object(call: Call) -> Reply:
    call.bucket()
    require_length(call)
    meta = meta_from_request(call.req)
    body = call.payload()
    info = call.engine.put(call.bucket_name, call.key, body, meta=meta)
    return upload_reply(info.etag, body.checksums)


def head_object(call: Call) -> Reply:
    reader, ranged = _open(call)
    _close(reader)
    return _object_reply(call, reader, ranged=ranged, body=False)


def get_object(call: Call) -> Reply:
    reader, ranged = _open(call)
    return _object_reply(call, reader, ranged=ranged, body=True)


def _open(call: Call) -> tuple[ObjectReader, bool]:
    """Read the object (its range, and whether one was asked), after its preconditions
    hold, all from one version."""
    call.bucket()
    info = call.engine.head(call.bucket_name, call.key)
    for _ in range(_READ_ATTEMPTS):
        check_preconditions(call.req, info.etag, info.created_at)
        span = parse_range(call.req.header("range"), info.size)
        start, end = span if span is not None else (0, info.size)
        reader = call.engine.get(call.bucket_name, call.key, start, end)
        if reader.info.version_id == info.version_id:
            return reader, span is not None
        _close(reader)  # replaced meanwhile: judge the new version instead
        info = reader.info
    raise reject("SlowDown", "the object is being replaced too often to be read")


def _object_reply(call: Call, reader: ObjectReader, *, ranged: bool, body: bool) -> Reply:
    info = reader.info
    headers = object_headers(info, call.req.params)
    length = reader.end - reader.start
    status = 200
    if ranged:
        status = 206
        headers.append(("content-range", f"bytes {reader.start}-{reader.end - 1}/{info.size}"))
    headers.append(("content-length", str(length)))
    if not body:
        return Reply(status, headers, b"")
    return Reply(status, headers, iter(reader))


def _close(reader: ObjectReader) -> None:
    close = getattr(reader.chunks, "close", None)
    if close is not None:
        close()


def delete_object(call: Call) -> Reply:
    call.bucket()
    call.engine.delete(call.bucket_name, call.key)
    return Reply(204)


def delete_objects(call: Call) -> Reply:
    call.bucket()
    request = parse_delete(call.read_xml())
    deleted: list[tuple[str, str | None]] = []
    errors: list[s3xml.DeleteError] = []
    for key, version in request.objects:
        try:
            call.engine.delete(call.bucket_name, key)
        except DomicileError as exc:
            code = code_for(exc)
            errors.append(s3xml.DeleteError(key, code, message_for(exc, code), version))
        else:
            deleted.append((key, version))
    return Reply.xml(s3xml.delete_result(deleted, errors, quiet=request.quiet))


def copy_source(call: Call) -> tuple[str, str, ObjectInfo]:
    """The ``x-amz-copy-source`` object (owned by this tenant), its preconditions checked."""
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
    info = call.engine.head(bucket, key)
    version = dict(p.partition("=")[::2] for p in query.split("&") if p).get("versionId")
    if version and version != info.version_id:
        raise reject("NoSuchVersion", f"{bucket}/{key} has no version {version}", key=key)
    check_preconditions(call.req, info.etag, info.created_at, copy_source=True)
    return bucket, key, info


def copy_object(call: Call) -> Reply:
    call.bucket()
    src_bucket, src_key, _ = copy_source(call)
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
    info = call.engine.copy(src_bucket, src_key, call.bucket_name, call.key, meta=meta)
    when = datetime.fromtimestamp(info.created_at, UTC)
    return Reply.xml(s3xml.copy_object_result(info.etag, when))
