"""Ranges and preconditions of GET and HEAD, as S3 applies them (RFC 9110 with S3's order).

:func:`parse_range` reads one ``Range: bytes=...`` (``a-b``, open-ended ``a-``, suffix
``-n``); a header that is not a single byte range is ignored, as S3 does, and a range that
starts at or after the end of the object is ``InvalidRange`` (416).

:func:`check_preconditions` evaluates ``If-Match`` / ``If-Unmodified-Since`` (412
``PreconditionFailed``) and ``If-None-Match`` / ``If-Modified-Since`` (304 ``NotModified``):
when ``If-Match`` is present ``If-Unmodified-Since`` is not looked at, and when
``If-None-Match`` is present ``If-Modified-Since`` is not, exactly as S3 documents.
"""

from __future__ import annotations

import re
from typing import Final

from domicile.gateway.headers import parse_http_date
from domicile.gateway.request import S3Request
from domicile.gateway.s3errors import reject

_RANGE: Final = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


def parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """``[start, end)`` of the object a ``Range`` header asks for, or None for all of it."""
    if value is None:
        return None
    match = _RANGE.fullmatch(value)
    if match is None or (not match[1] and not match[2]):
        return None
    first, last = match[1], match[2]
    if not first:
        count = int(last)
        if count == 0:
            raise _unsatisfiable(value, size)
        return max(0, size - count), size
    start = int(first)
    end = size if not last else int(last) + 1
    if last and end <= start:
        return None  # "bytes=9-3" is not a valid range: ignored, like S3
    if start >= size:
        raise _unsatisfiable(value, size)
    return start, min(end, size)


def _unsatisfiable(value: str, size: int) -> Exception:
    return reject(
        "InvalidRange",
        f"the range {value.strip()!r} does not overlap the object ({size} bytes)",
        hint="ask for bytes that exist: the first byte is 0, the last is size - 1",
        size=size,
    )


def _etags(value: str) -> list[str]:
    return [v.strip().removeprefix("W/").strip('"') for v in value.split(",") if v.strip()]


def _matches(value: str, etag: str) -> bool:
    tags = _etags(value)
    return "*" in tags or etag.strip('"') in tags


def check_preconditions(
    req: S3Request, etag: str, last_modified: float, *, copy_source: bool = False
) -> None:
    """Raise ``PreconditionFailed`` or ``NotModified`` when the request's conditions say so.

    With ``copy_source`` the ``x-amz-copy-source-if-*`` headers are read instead, and every
    failed condition is ``PreconditionFailed`` (a copy has nothing to answer 304 with)."""
    prefix = "x-amz-copy-source-" if copy_source else ""
    not_modified = "PreconditionFailed" if copy_source else "NotModified"
    modified = int(last_modified)
    if_match = req.header(prefix + "if-match")
    if if_match is not None:
        if not _matches(if_match, etag):
            raise reject("PreconditionFailed", "If-Match does not match the object's ETag")
    elif (
        since := _date(req.header(prefix + "if-unmodified-since"))
    ) is not None and modified > since:
        raise reject("PreconditionFailed", "the object was modified after If-Unmodified-Since")
    if_none = req.header(prefix + "if-none-match")
    if if_none is not None:
        if _matches(if_none, etag):
            raise reject(not_modified, "the object's ETag matches If-None-Match")
    elif (
        since := _date(req.header(prefix + "if-modified-since"))
    ) is not None and modified <= since:
        raise reject(not_modified, "the object was not modified after If-Modified-Since")


def _date(value: str | None) -> int | None:
    if value is None:
        return None
    parsed = parse_http_date(value)
    return None if parsed is None else int(parsed)
