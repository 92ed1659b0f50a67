"""S3 XML documents, read back by botocore's own parsers; request bodies botocore writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import botocore.session
import pytest
from botocore import handlers
from botocore.parsers import RestXMLParser
from botocore.serialize import create_serializer
from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.errors import RequestRejected
from domicile.gateway import s3bodies, s3xml
from domicile.gateway.s3xml import (
    BucketEntry,
    DeleteError,
    ObjectEntry,
    Owner,
    PartEntry,
    UploadEntry,
)
from tests.examples import examples

MODEL = botocore.session.get_session().get_service_model("s3")
WHEN = datetime(2026, 3, 4, 5, 6, 7, 891234, tzinfo=UTC)
OWNER = Owner("acme", "Acme Corp")
KEYS = ["plain.txt", "dir/ä b+c&<>\"'.bin", "sp ace/", "%41 literal percent"]


def _parse(operation: str, body: bytes) -> dict[str, Any]:
    shape = MODEL.operation_model(operation).output_shape
    assert shape is not None
    parsed: dict[str, Any] = RestXMLParser().parse(
        {"status_code": 200, "headers": {}, "body": body}, shape
    )
    parsed.pop("ResponseMetadata", None)
    return parsed


def _entries(keys: list[str]) -> list[ObjectEntry]:
    return [ObjectEntry(k, WHEN, f"etag{i}", 10 * i, owner=OWNER) for i, k in enumerate(keys)]


def test_dates_and_etags() -> None:
    assert s3xml.iso8601(WHEN) == "2026-03-04T05:06:07.891Z"
    plus_two = WHEN.astimezone(timezone(timedelta(hours=2)))
    assert s3xml.iso8601(plus_two) == "2026-03-04T05:06:07.891Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        s3xml.iso8601(datetime(2026, 1, 1))
    assert s3xml.quote_etag("abc") == '"abc"' and s3xml.quote_etag('"abc"') == '"abc"'


def test_list_objects_v2_round_trip() -> None:
    body = s3xml.list_objects_v2(
        "bkt",
        _entries(KEYS),
        prefix="",
        delimiter="/",
        max_keys=4,
        common_prefixes=["dir/", "sp ace/"],
        is_truncated=True,
        continuation_token="tok+/=",
        next_continuation_token="next+/=",
        start_after="a",
    )
    parsed = _parse("ListObjectsV2", body)
    assert parsed["Name"] == "bkt" and parsed["KeyCount"] == 6 and parsed["MaxKeys"] == 4
    assert parsed["IsTruncated"] is True and parsed["Delimiter"] == "/"
    assert parsed["ContinuationToken"] == "tok+/=" and parsed["NextContinuationToken"] == "next+/="
    assert [c["Key"] for c in parsed["Contents"]] == KEYS
    first = parsed["Contents"][1]
    assert first["ETag"] == '"etag1"' and first["Size"] == 10
    assert first["LastModified"] == WHEN.replace(microsecond=891000)
    assert first["Owner"] == {"ID": "acme", "DisplayName": "Acme Corp"}
    assert first["StorageClass"] == "STANDARD"
    assert [p["Prefix"] for p in parsed["CommonPrefixes"]] == ["dir/", "sp ace/"]


@settings(max_examples=examples(40), deadline=None)
@given(
    keys=st.lists(st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1), max_size=5),
    prefix=st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=10),
)
def test_encoding_type_url_round_trips_through_botocore(keys: list[str], prefix: str) -> None:
    body = s3xml.list_objects_v2(
        "b",
        _entries(keys),
        prefix=prefix,
        delimiter="/",
        common_prefixes=[prefix + "/"],
        start_after=prefix,
        next_continuation_token="t+/=",
        encoding_type="url",
    )
    parsed = _parse("ListObjectsV2", body)
    assert parsed["EncodingType"] == "url"
    handlers.decode_list_object_v2(parsed, {"encoding_type_auto_set": True})
    assert [c["Key"] for c in parsed.get("Contents", [])] == keys
    assert parsed["Prefix"] == prefix and parsed["StartAfter"] == prefix
    assert parsed["CommonPrefixes"] == [{"Prefix": prefix + "/"}]
    assert parsed["NextContinuationToken"] == "t+/="  # opaque: never encoded


def test_control_characters_in_keys_need_url_encoding() -> None:
    key = "tab\tand\x01ctl"
    parsed = _parse(
        "ListObjectsV2", s3xml.list_objects_v2("b", _entries([key]), encoding_type="url")
    )
    handlers.decode_list_object_v2(parsed, {"encoding_type_auto_set": True})
    assert parsed["Contents"][0]["Key"] == key
    with pytest.raises(ValueError, match="encoding type"):
        s3xml.list_objects_v2("b", [], encoding_type="base64")


def test_list_objects_v1_round_trip() -> None:
    body = s3xml.list_objects_v1(
        "bkt",
        _entries(KEYS[:2]),
        prefix="d i/",
        marker="m a",
        delimiter="/",
        is_truncated=True,
        next_marker="n+x",
        encoding_type="url",
    )
    parsed = _parse("ListObjects", body)
    handlers.decode_list_object(parsed, {"encoding_type_auto_set": True})
    # AWS documents Prefix as encoded in V1 too, but botocore leaves it to the caller.
    assert parsed["Prefix"] == "d+i/" and parsed["Marker"] == "m a"
    assert parsed["NextMarker"] == "n+x" and parsed["IsTruncated"] is True
    assert [c["Key"] for c in parsed["Contents"]] == KEYS[:2]


def test_list_buckets_and_location() -> None:
    body = s3xml.list_buckets(OWNER, [BucketEntry("a", WHEN), BucketEntry("b-2", WHEN)])
    parsed = _parse("ListBuckets", body)
    assert parsed["Owner"] == {"ID": "acme", "DisplayName": "Acme Corp"}
    assert [b["Name"] for b in parsed["Buckets"]] == ["a", "b-2"]
    assert parsed["Buckets"][0]["CreationDate"] == WHEN.replace(microsecond=891000)
    for location in ("eu-only", None):
        body = s3xml.bucket_location(location)
        parsed = _parse("GetBucketLocation", body)
        handlers.parse_get_bucket_location(parsed, SimpleNamespace(raw=b"", content=body))
        assert parsed == {"LocationConstraint": location}


def test_delete_result_verbose_and_quiet() -> None:
    errors = [DeleteError("x&y", "AccessDenied", "no")]
    deleted = [s3xml.Deleted("a"), s3xml.Deleted("b", "v1"), s3xml.Deleted("c", None, True, "m1")]
    verbose = _parse("DeleteObjects", s3xml.delete_result(deleted, errors, quiet=False))
    assert verbose["Deleted"] == [
        {"Key": "a"},
        {"Key": "b", "VersionId": "v1"},
        {"Key": "c", "DeleteMarker": True, "DeleteMarkerVersionId": "m1"},
    ]
    assert verbose["Errors"] == [{"Key": "x&y", "Code": "AccessDenied", "Message": "no"}]
    quiet = _parse("DeleteObjects", s3xml.delete_result([s3xml.Deleted("a")], errors, quiet=True))
    assert "Deleted" not in quiet and len(quiet["Errors"]) == 1


def test_list_object_versions_with_markers() -> None:
    entries = [
        s3xml.VersionEntry("k", "m1", True, WHEN, delete_marker=True),
        s3xml.VersionEntry("k", "v1", False, WHEN, etag="abc", size=3),
    ]
    parsed = _parse("ListObjectVersions", s3xml.list_object_versions("b", entries))
    [marker] = parsed["DeleteMarkers"]
    assert (marker["Key"], marker["VersionId"], marker["IsLatest"]) == ("k", "m1", True)
    [version] = parsed["Versions"]
    assert (version["VersionId"], version["IsLatest"], version["Size"]) == ("v1", False, 3)
    assert version["ETag"] == '"abc"'


def test_copy_results() -> None:
    parsed = _parse("CopyObject", s3xml.copy_object_result("abc", WHEN))
    assert parsed["CopyObjectResult"]["ETag"] == '"abc"'
    assert parsed["CopyObjectResult"]["LastModified"] == WHEN.replace(microsecond=891000)
    parsed = _parse("UploadPartCopy", s3xml.copy_object_result("def", WHEN, part=True))
    assert parsed["CopyPartResult"]["ETag"] == '"def"'


def test_multipart_documents() -> None:
    parsed = _parse("CreateMultipartUpload", s3xml.initiate_multipart_upload("b", "k/ü", "u-1"))
    assert parsed == {"Bucket": "b", "Key": "k/ü", "UploadId": "u-1"}
    done = s3xml.complete_multipart_upload("http://gw/b/k", "b", "k", "aa-2")
    parsed = _parse("CompleteMultipartUpload", done)
    assert parsed["ETag"] == '"aa-2"' and parsed["Location"] == "http://gw/b/k"
    parts = [PartEntry(1, WHEN, "e1", 5 << 20), PartEntry(2, WHEN, "e2", 7)]
    body = s3xml.list_parts(
        "b", "k", "u-1", parts, next_part_number_marker=2, is_truncated=True, owner=OWNER
    )
    parsed = _parse("ListParts", body)
    assert [p["PartNumber"] for p in parsed["Parts"]] == [1, 2]
    assert parsed["Parts"][0]["Size"] == 5 << 20 and parsed["Parts"][1]["ETag"] == '"e2"'
    assert parsed["NextPartNumberMarker"] == 2 and parsed["IsTruncated"] is True
    assert parsed["Initiator"]["ID"] == "acme" and parsed["UploadId"] == "u-1"
    uploads = [UploadEntry("k 1", "u-1", WHEN, owner=OWNER), UploadEntry("k2", "u-2", WHEN)]
    body = s3xml.list_multipart_uploads(
        "b", uploads, prefix="k", common_prefixes=["k/"], next_key_marker="k2"
    )
    parsed = _parse("ListMultipartUploads", body)
    assert [u["Key"] for u in parsed["Uploads"]] == ["k 1", "k2"]
    assert parsed["Uploads"][0]["Initiated"] == WHEN.replace(microsecond=891000)
    assert parsed["NextKeyMarker"] == "k2" and parsed["CommonPrefixes"] == [{"Prefix": "k/"}]


SHA = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


def test_checksums_in_multipart_and_copy_documents() -> None:
    parts = [
        PartEntry(1, WHEN, "e1", 5 << 20, {"SHA256": SHA, "CRC32": "AAAAAA=="}),
        PartEntry(2, WHEN, "e2", 7),
    ]
    body = s3xml.list_parts(
        "b", "k", "u-1", parts, owner=OWNER, checksum_algorithm="SHA256", checksum_type="COMPOSITE"
    )
    parsed = _parse("ListParts", body)
    assert parsed["Parts"][0]["ChecksumSHA256"] == SHA
    assert parsed["Parts"][0]["ChecksumCRC32"] == "AAAAAA=="
    assert "ChecksumSHA256" not in parsed["Parts"][1]
    assert parsed["ChecksumAlgorithm"] == "SHA256" and parsed["ChecksumType"] == "COMPOSITE"
    assert "ChecksumAlgorithm" not in _parse("ListParts", s3xml.list_parts("b", "k", "u", parts))
    done = s3xml.complete_multipart_upload(
        "http://gw/b/k",
        "b",
        "k",
        "aa-2",
        checksums={"SHA256": SHA + "-2"},
        checksum_type="COMPOSITE",
    )
    parsed = _parse("CompleteMultipartUpload", done)
    assert parsed["ChecksumSHA256"] == SHA + "-2" and parsed["ChecksumType"] == "COMPOSITE"
    copied = s3xml.copy_object_result(
        "abc", WHEN, checksums={"CRC32C": "AAAAAA=="}, checksum_type="FULL_OBJECT"
    )
    result = _parse("CopyObject", copied)["CopyObjectResult"]
    assert result["ChecksumCRC32C"] == "AAAAAA==" and result["ChecksumType"] == "FULL_OBJECT"
    part = s3xml.copy_object_result("d", WHEN, part=True, checksums={"SHA1": "x"})
    assert _parse("UploadPartCopy", part)["CopyPartResult"]["ChecksumSHA1"] == "x"


# --- request bodies, as botocore serialises them ----------------------------------------


def _serialize(operation: str, params: dict[str, Any]) -> bytes:
    request = create_serializer("rest-xml").serialize_to_request(
        params, MODEL.operation_model(operation)
    )
    body: bytes = request["body"]
    return body


def test_parse_delete_from_botocore() -> None:
    objects = [{"Key": " spaced key "}, {"Key": "a&b<c>", "VersionId": "v1"}]
    body = _serialize(
        "DeleteObjects", {"Bucket": "b", "Delete": {"Objects": objects, "Quiet": True}}
    )
    parsed = s3bodies.parse_delete(body)
    assert parsed.objects == ((" spaced key ", None), ("a&b<c>", "v1"))
    assert parsed.quiet is True
    body = _serialize("DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "k"}]}})
    assert s3bodies.parse_delete(body).quiet is False


def test_parse_complete_multipart_from_botocore() -> None:
    parts = [{"ETag": '"e1"', "PartNumber": 1}, {"ETag": '"e3"', "PartNumber": 3}]
    params = {"Bucket": "b", "Key": "k", "UploadId": "u", "MultipartUpload": {"Parts": parts}}
    parsed = s3bodies.parse_complete_multipart(_serialize("CompleteMultipartUpload", params))
    assert parsed == (s3bodies.CompletedPart(1, "e1"), s3bodies.CompletedPart(3, "e3"))
    parts[0]["ChecksumSHA256"] = SHA
    parts[1]["ChecksumCRC32"] = "AAAAAA=="
    parsed = s3bodies.parse_complete_multipart(_serialize("CompleteMultipartUpload", params))
    assert [p.checksums for p in parsed] == [{"SHA256": SHA}, {"CRC32": "AAAAAA=="}]


def test_parse_create_bucket_from_botocore() -> None:
    params = {"Bucket": "b", "CreateBucketConfiguration": {"LocationConstraint": "eu-only"}}
    assert s3bodies.parse_create_bucket(_serialize("CreateBucket", params)) == "eu-only"
    assert s3bodies.parse_create_bucket(b"") is None
    assert s3bodies.parse_create_bucket(b"<CreateBucketConfiguration/>") is None


def _code(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(RequestRejected) as info:
        call()
    return info.value.code


LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>
<Delete><Object><Key>&lol2;</Key></Object></Delete>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>"""


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (LAUGHS, "MalformedXML"),
        (EXTERNAL, "MalformedXML"),
        (b"<?pi x?><Delete><Object><Key>k</Key></Object></Delete>", "MalformedXML"),
        (b"<Delete><Object><Key>k</Key></Object>", "MalformedXML"),
        (b"<Delete></Delete>", "MalformedXML"),
        (b"<Delete><Object><Key></Key></Object></Delete>", "MalformedXML"),
        (b"<Delete><Object><Key>a</Key><Key>b</Key></Object></Delete>", "MalformedXML"),
        (b"<Delete><Quiet>maybe</Quiet><Object><Key>k</Key></Object></Delete>", "MalformedXML"),
        (b"<Remove><Object><Key>k</Key></Object></Remove>", "MalformedXML"),
        (b"not xml at all", "MalformedXML"),
        (b"", "MalformedXML"),
        (b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1001 + b"</Delete>", "MalformedXML"),
        (b"<Delete>" + b" " * (3 << 20) + b"</Delete>", "MaxMessageLengthExceeded"),
    ],
)
def test_hostile_or_malformed_delete_bodies(body: bytes, code: str) -> None:
    assert _code(lambda: s3bodies.parse_delete(body)) == code


def test_a_thousand_keys_are_accepted() -> None:
    body = b"<Delete>" + b"<Object><Key>k</Key></Object>" * 1000 + b"</Delete>"
    assert len(s3bodies.parse_delete(body).objects) == 1000


@pytest.mark.parametrize(
    ("parts", "code"),
    [
        ([(2, "a"), (1, "b")], "InvalidPartOrder"),
        ([(1, "a"), (1, "b")], "InvalidPartOrder"),
        ([(0, "a")], "InvalidArgument"),
        ([(10001, "a")], "InvalidArgument"),
        ([], "MalformedXML"),
    ],
)
def test_complete_multipart_errors(parts: list[tuple[int, str]], code: str) -> None:
    inner = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in parts)
    body = f"<CompleteMultipartUpload>{inner}</CompleteMultipartUpload>".encode()
    assert _code(lambda: s3bodies.parse_complete_multipart(body)) == code
    missing = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>"  # noqa: E501
    assert _code(lambda: s3bodies.parse_complete_multipart(missing)) == "MalformedXML"
