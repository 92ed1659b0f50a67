"""S3 XML response documents, encoded from plain values.

Every document is UTF-8 with the XML declaration, in the S3 namespace
(``http://s3.amazonaws.com/doc/2006-03-01/``); dates are ISO 8601 in UTC with milliseconds
and ``Z`` (``2026-01-02T03:04:05.000Z``); ETags are sent quoted. With
``encoding_type="url"`` the fields AWS encodes are URL-encoded (form style: space as
``+``, ``/`` kept), as botocore decodes them: ``Key``, ``Prefix``, ``Delimiter``,
``StartAfter`` (V2), ``Marker``/``NextMarker`` (V1), ``KeyMarker``/``NextKeyMarker``
(multipart uploads) and each common prefix; continuation tokens and upload ids are opaque
and never encoded. Request bodies are parsed by :mod:`.s3bodies`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final
from urllib.parse import quote_plus

from domicile.gateway._xmltext import element, xml_text

NAMESPACE: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
_DECLARATION: Final = '<?xml version="1.0" encoding="UTF-8"?>\n'


@dataclass(frozen=True, slots=True)
class Owner:
    """A bucket or object owner as S3 shows it (the tenant, for domicile)."""

    id: str
    display_name: str | None = None


@dataclass(frozen=True, slots=True)
class ObjectEntry:
    """One object of a listing."""

    key: str
    last_modified: datetime
    etag: str
    size: int
    storage_class: str = "STANDARD"
    owner: Owner | None = None


@dataclass(frozen=True, slots=True)
class BucketEntry:
    """One bucket of ListBuckets."""

    name: str
    created: datetime
    #: The bucket's region: for domicile, its residency policy (``None``: not shown).
    region: str | None = None


@dataclass(frozen=True, slots=True)
class PartEntry:
    """One uploaded part of ListParts."""

    part_number: int
    last_modified: datetime
    etag: str
    size: int
    #: The part's checksums by algorithm (``SHA256`` -> base64), shown as ``ChecksumSHA256``.
    checksums: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class UploadEntry:
    """One multipart upload in progress, for ListMultipartUploads."""

    key: str
    upload_id: str
    initiated: datetime
    owner: Owner | None = None
    storage_class: str = "STANDARD"


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One entry of ListObjectVersions: a ``Version``, or a ``DeleteMarker`` (which has no
    ETag, size or storage class)."""

    key: str
    version_id: str
    is_latest: bool
    last_modified: datetime
    etag: str = ""
    size: int = 0
    delete_marker: bool = False
    owner: Owner | None = None


@dataclass(frozen=True, slots=True)
class Deleted:
    """A key DeleteObjects deleted: the ``version_id`` asked for (removed for good), and
    the delete marker written or removed, if any (``DeleteMarker``,
    ``DeleteMarkerVersionId``)."""

    key: str
    version_id: str | None = None
    delete_marker: bool = False
    marker_version_id: str | None = None


@dataclass(frozen=True, slots=True)
class DeleteError:
    """A key DeleteObjects could not delete, with its S3 code and message."""

    key: str
    code: str
    message: str
    version_id: str | None = None


def iso8601(when: datetime) -> str:
    """``when`` (timezone-aware) as S3 writes dates: UTC, milliseconds, ``Z``."""
    if when.tzinfo is None:
        raise ValueError("S3 dates must be timezone-aware")
    utc = when.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def quote_etag(etag: str) -> str:
    """The ETag in double quotes (kept as is when already quoted)."""
    return etag if len(etag) >= 2 and etag[0] == etag[-1] == '"' else f'"{etag}"'


def _url(value: str, encoding_type: str | None) -> str:
    if encoding_type is None:
        return value
    if encoding_type != "url":
        raise ValueError(f"unknown encoding type {encoding_type!r}")
    return quote_plus(value.encode("utf-8", "surrogateescape"), safe="/")


def document(root: str, parts: Iterable[str]) -> bytes:
    """A response document: the declaration, then ``root`` in the S3 namespace around
    ``parts`` (already encoded XML)."""
    body = f'{_DECLARATION}<{root} xmlns="{NAMESPACE}">{"".join(parts)}</{root}>'
    return body.encode("utf-8")


#: The algorithms of ``Checksum<ALG>`` elements, in S3's order.
_CHECKSUM_ELEMENTS: Final = ("CRC32", "CRC32C", "SHA1", "SHA256")


def _checksums(checksums: Mapping[str, str], kind: str | None = None) -> str:
    """``<ChecksumCRC32>`` ... for each algorithm S3 names, then ``<ChecksumType>``."""
    out = "".join(
        element(f"Checksum{name}", checksums[name])
        for name in _CHECKSUM_ELEMENTS
        if name in checksums
    )
    return out + (_opt("ChecksumType", kind) if out else "")


def _opt(name: str, value: str | int | None) -> str:
    return "" if value is None else element(name, str(value))


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _owner(tag: str, owner: Owner | None) -> str:
    if owner is None:
        return ""
    return f"<{tag}>{element('ID', owner.id)}{_opt('DisplayName', owner.display_name)}</{tag}>"


def _contents(entries: Sequence[ObjectEntry], encoding_type: str | None) -> str:
    return "".join(
        "<Contents>"
        + element("Key", _url(o.key, encoding_type))
        + element("LastModified", iso8601(o.last_modified))
        + element("ETag", quote_etag(o.etag))
        + element("Size", str(o.size))
        + _owner("Owner", o.owner)
        + element("StorageClass", o.storage_class)
        + "</Contents>"
        for o in entries
    )


def _prefixes(prefixes: Sequence[str], encoding_type: str | None) -> str:
    return "".join(
        f"<CommonPrefixes>{element('Prefix', _url(p, encoding_type))}</CommonPrefixes>"
        for p in prefixes
    )


def list_objects_v2(
    bucket: str,
    contents: Sequence[ObjectEntry],
    *,
    prefix: str = "",
    delimiter: str | None = None,
    max_keys: int = 1000,
    common_prefixes: Sequence[str] = (),
    is_truncated: bool = False,
    continuation_token: str | None = None,
    next_continuation_token: str | None = None,
    start_after: str | None = None,
    encoding_type: str | None = None,
) -> bytes:
    """``ListBucketResult`` for ListObjectsV2 (``KeyCount`` counts keys and prefixes)."""
    e = encoding_type
    parts = [
        element("Name", bucket),
        element("Prefix", _url(prefix, e)),
        _opt("Delimiter", None if delimiter is None else _url(delimiter, e)),
        element("MaxKeys", str(max_keys)),
        element("KeyCount", str(len(contents) + len(common_prefixes))),
        element("IsTruncated", _bool(is_truncated)),
        _opt("ContinuationToken", continuation_token),
        _opt("NextContinuationToken", next_continuation_token),
        _opt("StartAfter", None if start_after is None else _url(start_after, e)),
        _opt("EncodingType", e),
        _contents(contents, e),
        _prefixes(common_prefixes, e),
    ]
    return document("ListBucketResult", parts)


def list_objects_v1(
    bucket: str,
    contents: Sequence[ObjectEntry],
    *,
    prefix: str = "",
    marker: str = "",
    delimiter: str | None = None,
    max_keys: int = 1000,
    common_prefixes: Sequence[str] = (),
    is_truncated: bool = False,
    next_marker: str | None = None,
    encoding_type: str | None = None,
) -> bytes:
    """``ListBucketResult`` for ListObjects (V1); ``next_marker`` only with a delimiter."""
    e = encoding_type
    parts = [
        element("Name", bucket),
        element("Prefix", _url(prefix, e)),
        element("Marker", _url(marker, e)),
        _opt("NextMarker", None if next_marker is None else _url(next_marker, e)),
        element("MaxKeys", str(max_keys)),
        _opt("Delimiter", None if delimiter is None else _url(delimiter, e)),
        element("IsTruncated", _bool(is_truncated)),
        _opt("EncodingType", e),
        _contents(contents, e),
        _prefixes(common_prefixes, e),
    ]
    return document("ListBucketResult", parts)


#: The version id of every object in a bucket without versioning, as S3 names it.
NULL_VERSION: Final = "null"


def list_object_versions(
    bucket: str,
    versions: Sequence[VersionEntry],
    *,
    prefix: str = "",
    key_marker: str = "",
    version_id_marker: str = "",
    next_key_marker: str | None = None,
    next_version_id_marker: str | None = None,
    delimiter: str | None = None,
    max_keys: int = 1000,
    common_prefixes: Sequence[str] = (),
    is_truncated: bool = False,
    encoding_type: str | None = None,
) -> bytes:
    """``ListVersionsResult`` of ListObjectVersions: each entry a ``Version`` or a
    ``DeleteMarker``, in the order given (S3's: key ascending, newest first).
    ``KeyMarker``, ``NextKeyMarker``, ``Prefix``, ``Delimiter`` and each ``Key`` and common
    prefix are URL-encoded with ``encoding_type="url"``; version ids never."""
    e = encoding_type
    items = "".join(_version_entry(v, e) for v in versions)
    parts = [
        element("Name", bucket),
        element("Prefix", _url(prefix, e)),
        element("KeyMarker", _url(key_marker, e)),
        element("VersionIdMarker", version_id_marker),
        _opt("NextKeyMarker", None if next_key_marker is None else _url(next_key_marker, e)),
        _opt("NextVersionIdMarker", next_version_id_marker),
        element("MaxKeys", str(max_keys)),
        _opt("Delimiter", None if delimiter is None else _url(delimiter, e)),
        element("IsTruncated", _bool(is_truncated)),
        _opt("EncodingType", e),
        items,
        _prefixes(common_prefixes, e),
    ]
    return document("ListVersionsResult", parts)


def _version_entry(v: VersionEntry, e: str | None) -> str:
    head = (
        element("Key", _url(v.key, e))
        + element("VersionId", v.version_id)
        + element("IsLatest", _bool(v.is_latest))
        + element("LastModified", iso8601(v.last_modified))
    )
    if v.delete_marker:
        return f"<DeleteMarker>{head}{_owner('Owner', v.owner)}</DeleteMarker>"
    return (
        f"<Version>{head}"
        + element("ETag", quote_etag(v.etag))
        + element("Size", str(v.size))
        + element("StorageClass", "STANDARD")
        + _owner("Owner", v.owner)
        + "</Version>"
    )


def list_buckets(
    owner: Owner,
    buckets: Sequence[BucketEntry],
    *,
    prefix: str | None = None,
    continuation_token: str | None = None,
) -> bytes:
    """``ListAllMyBucketsResult``: the tenant's buckets; ``ContinuationToken`` (the token
    of the next page, when the list was cut at ``max-buckets``) and ``Prefix`` (as asked)
    follow ``Buckets``."""
    items = "".join(
        "<Bucket>"
        + element("Name", b.name)
        + element("CreationDate", iso8601(b.created))
        + _opt("BucketRegion", b.region)
        + "</Bucket>"
        for b in buckets
    )
    parts = [
        _owner("Owner", owner),
        f"<Buckets>{items}</Buckets>",
        _opt("ContinuationToken", continuation_token),
        _opt("Prefix", prefix),
    ]
    return document("ListAllMyBucketsResult", parts)


def bucket_location(location: str | None) -> bytes:
    """``LocationConstraint``: for domicile, the bucket's policy name (empty: none)."""
    text = xml_text(location or "")
    body = f'{_DECLARATION}<LocationConstraint xmlns="{NAMESPACE}">{text}</LocationConstraint>'
    return body.encode("utf-8")


def delete_result(
    deleted: Sequence[Deleted], errors: Sequence[DeleteError], *, quiet: bool
) -> bytes:
    """``DeleteResult`` of DeleteObjects: ``deleted`` left out in quiet mode (errors are
    always listed)."""
    parts = (
        []
        if quiet
        else [
            "<Deleted>"
            + element("Key", d.key)
            + _opt("VersionId", d.version_id)
            + (element("DeleteMarker", "true") if d.delete_marker else "")
            + _opt("DeleteMarkerVersionId", d.marker_version_id)
            + "</Deleted>"
            for d in deleted
        ]
    )
    parts += [
        "<Error>"
        + element("Key", err.key)
        + _opt("VersionId", err.version_id)
        + element("Code", err.code)
        + element("Message", err.message)
        + "</Error>"
        for err in errors
    ]
    return document("DeleteResult", parts)


def copy_object_result(
    etag: str,
    last_modified: datetime,
    *,
    part: bool = False,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """``CopyObjectResult`` (or ``CopyPartResult`` for UploadPartCopy), with the copy's
    checksums (``checksum_type`` is shown for an object only, as S3 does)."""
    root = "CopyPartResult" if part else "CopyObjectResult"
    parts = [element("LastModified", iso8601(last_modified)), element("ETag", quote_etag(etag))]
    parts.append(_checksums(checksums or {}, None if part else checksum_type))
    return document(root, parts)


def initiate_multipart_upload(bucket: str, key: str, upload_id: str) -> bytes:
    """``InitiateMultipartUploadResult`` of CreateMultipartUpload."""
    parts = [element("Bucket", bucket), element("Key", key), element("UploadId", upload_id)]
    return document("InitiateMultipartUploadResult", parts)


def complete_multipart_upload(
    location: str,
    bucket: str,
    key: str,
    etag: str,
    *,
    checksums: Mapping[str, str] | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """``CompleteMultipartUploadResult``: the object's URL, bucket, key, ETag, checksums."""
    parts = [
        element("Location", location),
        element("Bucket", bucket),
        element("Key", key),
        element("ETag", quote_etag(etag)),
        _checksums(checksums or {}, checksum_type),
    ]
    return document("CompleteMultipartUploadResult", parts)


def list_parts(
    bucket: str,
    key: str,
    upload_id: str,
    parts: Sequence[PartEntry],
    *,
    part_number_marker: int = 0,
    next_part_number_marker: int | None = None,
    max_parts: int = 1000,
    is_truncated: bool = False,
    owner: Owner | None = None,
    storage_class: str = "STANDARD",
    checksum_algorithm: str | None = None,
    checksum_type: str | None = None,
) -> bytes:
    """``ListPartsResult`` of ListParts (``owner`` is also shown as the initiator); each
    part with its checksums, and the upload's checksum algorithm and type if it has one."""
    items = "".join(
        "<Part>"
        + element("PartNumber", str(p.part_number))
        + element("LastModified", iso8601(p.last_modified))
        + element("ETag", quote_etag(p.etag))
        + element("Size", str(p.size))
        + _checksums(p.checksums)
        + "</Part>"
        for p in parts
    )
    body = [
        element("Bucket", bucket),
        element("Key", key),
        element("UploadId", upload_id),
        _owner("Initiator", owner),
        _owner("Owner", owner),
        element("StorageClass", storage_class),
        _opt("ChecksumAlgorithm", checksum_algorithm),
        _opt("ChecksumType", checksum_type if checksum_algorithm else None),
        element("PartNumberMarker", str(part_number_marker)),
        _opt("NextPartNumberMarker", next_part_number_marker),
        element("MaxParts", str(max_parts)),
        element("IsTruncated", _bool(is_truncated)),
        items,
    ]
    return document("ListPartsResult", body)


def list_multipart_uploads(
    bucket: str,
    uploads: Sequence[UploadEntry],
    *,
    prefix: str = "",
    delimiter: str | None = None,
    key_marker: str = "",
    upload_id_marker: str = "",
    next_key_marker: str | None = None,
    next_upload_id_marker: str | None = None,
    max_uploads: int = 1000,
    is_truncated: bool = False,
    common_prefixes: Sequence[str] = (),
    encoding_type: str | None = None,
) -> bytes:
    """``ListMultipartUploadsResult`` of ListMultipartUploads."""
    e = encoding_type
    items = "".join(
        "<Upload>"
        + element("Key", _url(u.key, e))
        + element("UploadId", u.upload_id)
        + _owner("Initiator", u.owner)
        + _owner("Owner", u.owner)
        + element("StorageClass", u.storage_class)
        + element("Initiated", iso8601(u.initiated))
        + "</Upload>"
        for u in uploads
    )
    body = [
        element("Bucket", bucket),
        element("KeyMarker", _url(key_marker, e)),
        element("UploadIdMarker", upload_id_marker),
        _opt("NextKeyMarker", None if next_key_marker is None else _url(next_key_marker, e)),
        _opt("NextUploadIdMarker", next_upload_id_marker),
        _opt("Delimiter", None if delimiter is None else _url(delimiter, e)),
        element("Prefix", _url(prefix, e)),
        element("MaxUploads", str(max_uploads)),
        element("IsTruncated", _bool(is_truncated)),
        _opt("EncodingType", e),
        items,
        _prefixes(common_prefixes, e),
    ]
    return document("ListMultipartUploadsResult", body)
