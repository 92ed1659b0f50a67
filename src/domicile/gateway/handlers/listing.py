"""ListObjectsV2 and ListObjects (V1): prefix, delimiter, max-keys, continuation-token,
start-after, marker and encoding-type=url, over the engine's one listing call.

The V2 continuation token is the last key or common prefix returned, base64url-encoded:
opaque to clients, stable across gateway restarts, and bound to nothing secret.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from domicile.engine import ListResult
from domicile.gateway import s3xml
from domicile.gateway.call import Call, Reply
from domicile.gateway.s3errors import reject

MAX_KEYS = 1000


def max_count(value: str | None, name: str = "max-keys") -> int:
    """A `max-keys`-like parameter: a count from 0, capped at 1,000 (S3 caps silently)."""
    if value is None:
        return MAX_KEYS
    if not value.isascii() or not value.lstrip("-").isdigit() or int(value) < 0:
        raise reject("InvalidArgument", f"{name} must be a non-negative integer, not {value!r}")
    return min(int(value), MAX_KEYS)


def encoding_type(call: Call) -> str | None:
    value = call.req.params.get("encoding-type")
    if value is None or value == "":
        return None
    if value.lower() != "url":
        raise reject("InvalidArgument", f"encoding-type {value!r} is not supported; use 'url'")
    return "url"


def to_token(after: str) -> str:
    """An opaque continuation token standing for "after ``after``" (base64url)."""
    return base64.urlsafe_b64encode(after.encode("utf-8", "surrogateescape")).decode("ascii")


def untoken(token: str) -> str:
    """The name a :func:`to_token` token stands for; ``InvalidArgument`` for any other."""
    try:
        name = base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True)
        if not name:
            raise ValueError(token)
        return name.decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise reject(
            "InvalidArgument",
            "the continuation token is not one this gateway issued",
            hint="pass back the NextContinuationToken of the previous page unchanged",
        ) from None


def list_page(
    call: Call, *, prefix: str, delimiter: str, start_after: str, limit: int
) -> ListResult:
    """One page of the addressed bucket (owned by the caller): the engine's listing."""
    call.bucket()
    if limit == 0:
        return ListResult([], [], False, None)
    return call.engine.list(
        call.bucket_name, prefix=prefix, delimiter=delimiter, start_after=start_after, limit=limit
    )


def entries(page: ListResult, owner: s3xml.Owner | None) -> list[s3xml.ObjectEntry]:
    """The listing entries of ``page``'s objects, with ``owner`` shown if given."""
    return [
        s3xml.ObjectEntry(
            key=o.key,
            last_modified=datetime.fromtimestamp(o.created_at, UTC),
            etag=o.etag,
            size=o.size,
            owner=owner,
        )
        for o in page.objects
    ]


def list_objects_v2(call: Call) -> Reply:
    p = call.req.params
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    token = p.get("continuation-token")
    start_after = p.get("start-after", "")
    after = max(start_after, untoken(token)) if token else start_after
    limit = max_count(p.get("max-keys"))
    page = list_page(call, prefix=prefix, delimiter=delimiter, start_after=after, limit=limit)
    owner = s3xml.Owner(call.tenant, call.tenant) if p.get("fetch-owner") == "true" else None
    following = page.next_start_after if page.is_truncated else None
    return Reply.xml(
        s3xml.list_objects_v2(
            call.bucket_name,
            entries(page, owner),
            prefix=prefix,
            delimiter=delimiter or None,
            max_keys=limit,
            common_prefixes=page.common_prefixes,
            is_truncated=page.is_truncated,
            continuation_token=token,
            next_continuation_token=to_token(following) if following else None,
            start_after=start_after or None,
            encoding_type=encoding_type(call),
        )
    )


def list_objects_v1(call: Call) -> Reply:
    p = call.req.params
    prefix, delimiter, marker = p.get("prefix", ""), p.get("delimiter", ""), p.get("marker", "")
    limit = max_count(p.get("max-keys"))
    page = list_page(call, prefix=prefix, delimiter=delimiter, start_after=marker, limit=limit)
    owner = s3xml.Owner(call.tenant, call.tenant)
    return Reply.xml(
        s3xml.list_objects_v1(
            call.bucket_name,
            entries(page, owner),
            prefix=prefix,
            marker=marker,
            delimiter=delimiter or None,
            max_keys=limit,
            common_prefixes=page.common_prefixes,
            is_truncated=page.is_truncated,
            next_marker=page.next_start_after if page.is_truncated and delimiter else None,
            encoding_type=encoding_type(call),
        )
    )
