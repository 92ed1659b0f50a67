"""ListObjectVersions (``GET /bucket?versions``) for buckets without versioning.

domicile's buckets keep one version per key (versioning is refused, see
:mod:`.refusals`), so each object is one version whose id is ``null`` and which is the
latest; there are no delete markers. That is what S3 answers for a bucket whose versioning
was never enabled, and what "empty the bucket" tools expect: list the versions, then
DeleteObjects with each ``VersionId`` (``null`` deletes the object).

Pagination follows S3: ``key-marker`` starts after that key; ``version-id-marker`` (only
with a key marker; the one id there is, ``null``) starts after that version of the key,
which for a key with one version is the same place. A truncated page names its last entry
(key or common prefix) as ``NextKeyMarker``, and its version as ``NextVersionIdMarker``.
``prefix``, ``delimiter``, ``max-keys`` and ``encoding-type=url`` are those of ListObjects.
"""

from __future__ import annotations

from domicile.gateway import s3xml
from domicile.gateway.call import Call, Reply
from domicile.gateway.handlers.listing import encoding_type, entries, list_page, max_count
from domicile.gateway.s3errors import reject


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
    if version_marker and version_marker != s3xml.NULL_VERSION:
        raise reject(
            "InvalidArgument",
            f"invalid version id specified: {version_marker[:100]!r}",
            hint="objects in this bucket have one version, whose id is 'null'",
        )
    limit = max_count(p.get("max-keys"))
    found = list_page(call, prefix=prefix, delimiter=delimiter, start_after=key_marker, limit=limit)
    last = found.next_start_after if found.is_truncated else None
    last_is_object = bool(found.objects) and last == found.objects[-1].key
    owner = s3xml.Owner(call.tenant, call.tenant)
    return Reply.xml(
        s3xml.list_object_versions(
            call.bucket_name,
            entries(found, owner),
            prefix=prefix,
            key_marker=key_marker,
            version_id_marker=version_marker,
            next_key_marker=last,
            next_version_id_marker=s3xml.NULL_VERSION if last_is_object else None,
            delimiter=delimiter or None,
            max_keys=limit,
            common_prefixes=found.common_prefixes,
            is_truncated=found.is_truncated,
            encoding_type=encoding_type(call),
        )
    )
