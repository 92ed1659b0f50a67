"""Versions on the wire: ListObjectVersions (``GET /bucket?versions``), and what every
object handler needs of versioning: the ``versionId`` parameter, the ``x-amz-version-id``
header and the delete-marker answers.

- ``versionId`` (GetObject, HeadObject, DeleteObject, CopyObject's source...): ``null``
  or an id a versioned write returned; empty or malformed is ``InvalidArgument``, as on S3.
- ``x-amz-version-id`` is sent once the bucket's versioning has been set (``null`` for a
  null version), never for a bucket whose versioning was never enabled, as S3 does.
- A GET or HEAD of a key whose current version is a delete marker is ``404 NoSuchKey``
  with ``x-amz-delete-marker: true`` and the marker's id; of a delete marker by its id,
  ``405 MethodNotAllowed`` with the same headers and ``Last-Modified``.

ListObjectVersions returns versions and delete markers in S3's order (key ascending, then
newest first). ``key-marker`` starts after that key; with ``version-id-marker`` (only with
a key marker), after that version of the key. A truncated page names its last entry (a
version, a marker or a common prefix) as ``NextKeyMarker``, and its version as
``NextVersionIdMarker`` (none after a common prefix). A version marker deleted since
(an "empty the bucket" loop deletes what it lists) resumes at its key's newest remaining
version. ``prefix``, ``delimiter``,
``max-keys`` and ``encoding-type=url`` are those of ListObjects.
"""

from __future__ import annotations

from datetime import UTC, datetime

from domicile.engine import Bucket, ObjectInfo, VersionsList
from domicile.errors import DomicileError, ObjectNotFound
from domicile.gateway import s3xml
from domicile.gateway.call import Call, Reply
from domicile.gateway.handlers.listing import encoding_type, max_count
from domicile.gateway.headers import http_date
from domicile.gateway.s3errors import reject

VERSION_HEADER = "x-amz-version-id"
MARKER_HEADER = "x-amz-delete-marker"


def version_param(call: Call) -> str | None:
    """The request's ``versionId``, if it names one (InvalidArgument if it cannot)."""
    if not call.req.raw_query or "versionId" not in call.req.params:
        return None
    return checked_id(call.req.params["versionId"])


def checked_id(value: str) -> str:
    """``value`` if it can be a version id here, else InvalidArgument as S3 answers."""
    if value == "":
        raise reject("InvalidArgument", "version id cannot be the empty string")
    if value != s3xml.NULL_VERSION and (len(value) != 32 or value.strip("0123456789abcdef") != ""):
        raise reject(
            "InvalidArgument",
            f"invalid version id specified: {value[:100]!r}",
            hint="version ids are 'null' or the ids this gateway returned",
        )
    return value


def version_headers(bucket: Bucket, info: ObjectInfo) -> list[tuple[str, str]]:
    """``x-amz-version-id`` of ``info`` when the bucket's versioning was ever set (or the
    version has an id of its own)."""
    if bucket.versioning is None and info.null_version:
        return []
    return [(VERSION_HEADER, info.s3_version_id)]


def head_version(call: Call, bucket: Bucket, version_id: str | None) -> ObjectInfo:
    """The object HEAD/GET serves: its current version or ``version_id``, answering a
    delete marker as S3 does (404 NoSuchKey or 405 MethodNotAllowed, with its headers)."""
    try:
        info = call.engine.head(call.bucket_name, call.key, version_id=version_id)
    except ObjectNotFound as exc:
        raise with_marker_headers(exc) from None
    if info.delete_marker:
        refusal = reject(
            "MethodNotAllowed",
            f"version {info.s3_version_id} of {call.key} is a delete marker",
            hint="a delete marker has no bytes: read another version",
            method=call.req.method,
        )
        refusal.headers = [
            (MARKER_HEADER, "true"),
            (VERSION_HEADER, info.s3_version_id),
            ("last-modified", http_date(info.created_at)),
        ]
        raise refusal
    return info


def with_marker_headers(exc: DomicileError) -> DomicileError:
    """``exc``, or for the NoSuchKey of a key whose current version is a delete marker,
    the same refusal with ``x-amz-delete-marker: true`` and the marker's id."""
    if not exc.context.get("delete_marker"):
        return exc
    refusal = reject("NoSuchKey", exc.message, hint=exc.hint, **exc.context)
    refusal.headers = [(MARKER_HEADER, "true"), (VERSION_HEADER, str(exc.context["version"]))]
    return refusal


def list_object_versions(call: Call) -> Reply:
    p = call.req.params
    prefix, delimiter = p.get("prefix", ""), p.get("delimiter", "")
    key_marker, version_marker = p.get("key-marker", ""), p.get("version-id-marker", "")
    if version_marker and not key_marker:
        raise reject(
            "InvalidArgument",
            "a version-id-marker cannot be specified without a key-marker",
            hint="pass back NextKeyMarker and NextVersionIdMarker together",
        )
    if version_marker:
        checked_id(version_marker)
    limit = max_count(p.get("max-keys"))
    call.bucket()
    if limit == 0:
        found = VersionsList([], [], False, None, None)
    else:
        found = call.engine.list_versions(
            call.bucket_name,
            prefix=prefix,
            delimiter=delimiter,
            key_marker=key_marker,
            version_id_marker=version_marker,
            limit=limit,
        )
    owner = s3xml.Owner(call.tenant, call.tenant)
    return Reply.xml(
        s3xml.list_object_versions(
            call.bucket_name,
            [_entry(v, owner) for v in found.versions],
            prefix=prefix,
            key_marker=key_marker,
            version_id_marker=version_marker,
            next_key_marker=found.next_key_marker if found.is_truncated else None,
            next_version_id_marker=found.next_version_id_marker if found.is_truncated else None,
            delimiter=delimiter or None,
            max_keys=limit,
            common_prefixes=found.common_prefixes,
            is_truncated=found.is_truncated,
            encoding_type=encoding_type(call),
        )
    )


def _entry(v: ObjectInfo, owner: s3xml.Owner) -> s3xml.VersionEntry:
    return s3xml.VersionEntry(
        key=v.key,
        version_id=v.s3_version_id,
        is_latest=v.is_latest,
        last_modified=datetime.fromtimestamp(v.created_at, UTC),
        etag=v.etag,
        size=v.size,
        delete_marker=v.delete_marker,
        owner=owner,
    )
