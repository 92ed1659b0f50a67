"""Ranges and preconditions of GET and HEAD, as S3 applies them (RFC 9110 with S3's order).

:func:`parse_range` reads one ``Range: bytes=...`` (``a-b``, open-ended ``a-``, suffix
``-n``); a header that is not a single byte range is ignored, as S3 does, and a range that
starts at or after the end of the object is ``InvalidRange`` (416).

:func:`check_preconditions` evaluates ``If-Match`` / ``If-Unmodified-Since`` (412
``PreconditionFailed``) and ``If-None-Match`` / ``If-Modified-Since`` (304 ``NotModified``):
when ``If-Match`` is present ``If-Unmodified-Since`` is not looked at, and when
``If-None-Match`` is present ``If-Modified-Since`` is not, exactly as S3 documents. A 304
carries the object's ``ETag`` and ``Last-Modified`` (and its ``Cache-Control`` and
``Expires``, which RFC 9110 asks a 304 to repeat), as S3's does.

:func:`write_conditions` reads the conditions of a PutObject or CompleteMultipartUpload
(``If-None-Match: *``, ``If-Match: <etag>``), which the engine decides atomically with the
commit. ``If-None-Match`` with anything but ``*`` is ``NotImplemented``, as on S3.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
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


_COPY_RANGE: Final = re.compile(r"bytes=(\d+)-(\d+)")


def copy_range(value: str, size: int) -> tuple[int, int]:
    """``[start, end)`` of an ``x-amz-copy-source-range`` (``bytes=first-last``, both
    given, as S3 requires) of a source of ``size`` bytes: InvalidArgument when malformed,
    InvalidRange (416) when it reaches past the source's end, never silently shortened."""
    match = _COPY_RANGE.fullmatch(value.strip())
    if match is None or int(match[2]) < int(match[1]):
        raise reject(
            "InvalidArgument",
            f"x-amz-copy-source-range {value[:80]!r} is not bytes=first-last",
            hint="send x-amz-copy-source-range: bytes=<first byte>-<last byte>, both included",
        )
    first, last = int(match[1]), int(match[2])
    if last >= size:
        raise reject(
            "InvalidRange",
            f"x-amz-copy-source-range {value.strip()!r} reaches past the source's end "
            f"({size} bytes: the last byte is {size - 1})",
            hint="copy bytes that exist: the last byte is the source's size - 1",
            size=size,
        )
    return first, last + 1


#: Part numbers run from 1 to this (S3's rule).
MAX_PART_NUMBER: Final = 10_000


def part_number(value: str) -> int:
    """A ``partNumber`` query parameter: an integer from 1 to 10,000 (InvalidArgument)."""
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_PART_NUMBER:
        raise reject(
            "InvalidArgument",
            f"Part number must be an integer between 1 and {MAX_PART_NUMBER}, inclusive "
            f"(not {value[:20]!r})",
        )
    return int(value)


def part_span(value: str, range_header: str | None, sizes: Sequence[int]) -> tuple[int, int]:
    """``[start, end)`` of part ``value`` (a GET or HEAD's ``partNumber``) of an object
    whose parts have ``sizes``: InvalidRequest beside a ``Range``, InvalidPartNumber (416)
    past the last part."""
    number = part_number(value)
    if range_header is not None:
        raise reject(
            "InvalidRequest",
            "Cannot specify both Range header and partNumber query parameter",
            hint="ask for a part or for a range, not both",
        )
    if number > len(sizes):
        raise reject(
            "InvalidPartNumber",
            f"part {number} does not exist: the object has {len(sizes)} part(s)",
            hint="x-amz-mp-parts-count of part 1 says how many parts there are",
        )
    start = sum(sizes[: number - 1])
    return start, start + sizes[number - 1]


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


def write_conditions(req: S3Request) -> tuple[str | None, bool]:
    """``(If-Match, If-None-Match: *)`` of a write: the ETag it must replace (``*``: any
    object), and whether the key must have no object."""
    if_none = req.header("if-none-match")
    if if_none is not None and if_none.strip() != "*":
        raise reject(
            "NotImplemented",
            f"If-None-Match {if_none.strip()[:80]!r} on a write: only '*' is supported",
            hint="send If-None-Match: * to write only if the key has no object, or "
            "If-Match: <etag> to replace only that version",
        )
    if_match = req.header("if-match")
    return (if_match.strip() if if_match is not None else None), if_none is not None


def check_preconditions(
    req: S3Request,
    etag: str,
    last_modified: float,
    *,
    copy_source: bool = False,
    not_modified_headers: Sequence[tuple[str, str]] = (),
) -> None:
    """Raise ``PreconditionFailed`` or ``NotModified`` when the request's conditions say so.

    With ``copy_source`` the ``x-amz-copy-source-if-*`` headers are read instead, and every
    failed condition is ``PreconditionFailed`` (a copy has nothing to answer 304 with).
    A ``NotModified`` carries ``not_modified_headers`` (sent with the 304)."""
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
            raise _unmodified(
                not_modified, "the object's ETag matches If-None-Match", not_modified_headers
            )
    elif (
        since := _date(req.header(prefix + "if-modified-since"))
    ) is not None and modified <= since:
        raise _unmodified(
            not_modified,
            "the object was not modified after If-Modified-Since",
            not_modified_headers,
        )


def _unmodified(code: str, message: str, headers: Sequence[tuple[str, str]]) -> Exception:
    refusal = reject(code, message)
    if code == "NotModified":
        refusal.headers = list(headers)
    return refusal


def _date(value: str | None) -> int | None:
    if value is None:
        return None
    parsed = parse_http_date(value)
    return None if parsed is None else int(parsed)
