"""Object metadata between HTTP headers and the engine's :class:`ObjectMeta`.

In: ``Content-Type``, ``Content-Encoding``, ``Content-Disposition``, ``Content-Language``,
``Cache-Control``, ``Expires`` and ``x-amz-meta-*`` (user metadata, names lowercase, at most
2 KiB in all, as on S3). Out: the same, plus ``ETag``, ``Last-Modified`` and
``Content-Length``; a GET may override the content headers with ``response-*`` query
parameters. Values come back byte for byte as they were sent (``deflate, gzip`` stays
``deflate, gzip``); the one change is ``aws-chunked`` taken out of ``Content-Encoding``,
where it describes the transfer, not the object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Final

from domicile.engine import ObjectInfo, ObjectMeta
from domicile.gateway.request import S3Request
from domicile.gateway.s3errors import reject
from domicile.gateway.s3xml import quote_etag

USER_PREFIX: Final = "x-amz-meta-"
#: S3's limit on user metadata: names and values together.
MAX_USER_METADATA: Final = 2048
#: ``response-*`` query parameters and the header each one overrides.
OVERRIDES: Final = {
    "response-content-type": "content-type",
    "response-content-language": "content-language",
    "response-expires": "expires",
    "response-cache-control": "cache-control",
    "response-content-disposition": "content-disposition",
    "response-content-encoding": "content-encoding",
}


def meta_from_request(req: S3Request) -> ObjectMeta:
    """The metadata a PUT, a CopyObject with REPLACE or a CreateMultipartUpload sets."""
    user: dict[str, str] = {}
    for name, value in req.headers:
        if name.startswith(USER_PREFIX) and len(name) > len(USER_PREFIX):
            key = name[len(USER_PREFIX) :]
            user[key] = f"{user[key]},{value}" if key in user else value
    size = sum(len(k.encode()) + len(v.encode()) for k, v in user.items())
    if size > MAX_USER_METADATA:
        raise reject(
            "MetadataTooLarge",
            f"user metadata is {size} bytes; the limit is {MAX_USER_METADATA}",
            hint="keep x-amz-meta-* names and values under 2 KiB in all",
        )
    return ObjectMeta(
        content_type=req.header("content-type") or "binary/octet-stream",
        content_encoding=_content_encoding(req.header("content-encoding")),
        content_disposition=req.header("content-disposition"),
        cache_control=req.header("cache-control"),
        expires=req.header("expires"),
        user=user,
        content_language=req.header("content-language"),
    )


def _content_encoding(value: str | None) -> str | None:
    """``Content-Encoding`` without ``aws-chunked``, which describes the transfer only;
    the other codings exactly as sent (their spacing and case kept)."""
    if value is None:
        return None
    tokens = value.split(",")
    if not any(t.strip().lower() == "aws-chunked" for t in tokens):
        return value
    kept = [t for t in tokens if t.strip().lower() != "aws-chunked"]
    return ",".join(kept).strip() or None


def object_headers(
    info: ObjectInfo, params: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    """The headers of a GET or HEAD of ``info`` (``response-*`` overrides from ``params``)."""
    meta = info.meta
    out: dict[str, str] = {
        "etag": quote_etag(info.etag),
        "last-modified": http_date(info.created_at),
        "accept-ranges": "bytes",
        "content-type": meta.content_type,
    }
    for name, value in (
        ("content-encoding", meta.content_encoding),
        ("content-disposition", meta.content_disposition),
        ("content-language", meta.content_language),
        ("cache-control", meta.cache_control),
        ("expires", meta.expires),
    ):
        if value is not None:
            out[name] = value
    for param, header in OVERRIDES.items():
        if params and param in params:
            out[header] = params[param]
    headers = list(out.items())
    headers += [(USER_PREFIX + k, v) for k, v in sorted(meta.user.items())]
    return headers


def http_date(when: float) -> str:
    """``when`` (epoch seconds) as an HTTP date: ``Tue, 01 Dec 2026 09:25:50 GMT``."""
    return format_datetime(datetime.fromtimestamp(int(when), UTC), usegmt=True)


def parse_http_date(value: str) -> float | None:
    """Epoch seconds of an HTTP date, or None if it is not one (S3 ignores such headers)."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
