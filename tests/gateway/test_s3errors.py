"""The S3 error table, the error-tree map, and <Error> documents as botocore reads them."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.parsers import RestXMLParser

from domicile import errors as e
from domicile.gateway.s3errors import (
    ERROR_CODES,
    ERRORS,
    code_for,
    error_xml,
    message_for,
    reject,
    render_error,
    status_of,
)
from domicile.policy import decide
from tests.policy.conftest import FIVE_SITES, world

EXPECTED_STATUSES = {
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "BucketAlreadyExists": 409,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "InvalidBucketName": 400,
    "InvalidArgument": 400,
    "InvalidRange": 416,
    "PreconditionFailed": 412,
    "NotModified": 304,
    "SignatureDoesNotMatch": 403,
    "AccessDenied": 403,
    "InvalidAccessKeyId": 403,
    "RequestTimeTooSkewed": 403,
    "XAmzContentSHA256Mismatch": 400,
    "BadDigest": 400,
    "InvalidDigest": 400,
    "EntityTooLarge": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "MalformedXML": 400,
    "MethodNotAllowed": 405,
    "NotImplemented": 501,
    "InternalError": 500,
    "ServiceUnavailable": 503,
    "SlowDown": 503,
    "InvalidLocationConstraint": 400,
    "IllegalLocationConstraintException": 400,
    "KeyTooLongError": 400,
}


def test_the_table_holds_the_s3_statuses() -> None:
    for code, status in EXPECTED_STATUSES.items():
        assert status_of(code) == status, code
    for code, spec in ERRORS.items():
        assert 300 <= spec.status < 600 and spec.message.endswith("."), code


def test_reject_validates_codes() -> None:
    exc = reject("NoSuchUpload", hint="list uploads", bucket="b")
    assert exc.code == "NoSuchUpload" and exc.message == ERRORS["NoSuchUpload"].message
    assert exc.context == {"bucket": "b"} and exc.hint == "list uploads"
    with pytest.raises(ValueError, match="unknown S3 error code"):
        reject("NoSuchThing")


def _parse(body: bytes, status: int) -> dict[str, Any]:
    parsed: dict[str, Any] = RestXMLParser().parse(
        {"status_code": status, "headers": {}, "body": body},
        None,  # type: ignore[arg-type]  # error bodies need no shape
    )
    return parsed


def test_error_xml_is_what_botocore_parses() -> None:
    body = error_xml(
        "NoSuchKey",
        "no key <a&b> here",
        "/bucket/a&b",
        "req-123",
        {"BucketName": "bucket", "Key": "a&b"},
    )
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Error>')
    parsed = _parse(body, 404)
    assert parsed["Error"]["Code"] == "NoSuchKey"
    assert parsed["Error"]["Message"] == "no key <a&b> here"
    assert parsed["Error"]["Key"] == "a&b"
    # botocore takes the request id from the x-amz-request-id header; the body carries it too
    assert ElementTree.fromstring(body).findtext("RequestId") == "req-123"
    with pytest.raises(ValueError, match="element name"):
        error_xml("NoSuchKey", "m", "/", "r", {"Bad Name": "x"})


def test_error_xml_survives_control_characters() -> None:
    parsed = _parse(error_xml("InvalidArgument", "nul \x00 here\r", "/b", "r"), 400)
    assert parsed["Error"]["Message"] == "nul \ufffd here\r"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (e.BucketNotFound("no bucket", bucket="b"), "NoSuchBucket"),
        (e.ObjectNotFound("no key", bucket="b", key="k"), "NoSuchKey"),
        (e.BucketAlreadyExists("taken"), "BucketAlreadyExists"),
        (e.BucketNotEmpty("full"), "BucketNotEmpty"),
        (e.InvalidRange("out"), "InvalidRange"),
        (e.InvalidName("invalid bucket name 'A'", bucket="A"), "InvalidBucketName"),
        (e.InvalidName("object key is 2000 bytes long; the limit is 1024"), "KeyTooLongError"),
        (e.InvalidName("object key 'a/../b' has a '..' path segment"), "InvalidArgument"),
        (e.InvalidName("whatever", kind="bucket"), "InvalidBucketName"),
        (e.SiteUnavailable("down", site="s"), "ServiceUnavailable"),
        (e.CopiesUnavailable("none readable"), "ServiceUnavailable"),
        (e.ResidencyError("not here"), "AccessDenied"),
        (e.ChunkAuthError("bit rot"), "InternalError"),
        (e.ConfigError("bad"), "InternalError"),
        (e.RequestRejected("x", code="MalformedXML"), "MalformedXML"),
        (e.RequestRejected("x", code="NotInTheTable"), "InternalError"),
        (RuntimeError("bug"), "InternalError"),
    ],
)
def test_code_for(exc: BaseException, code: str) -> None:
    assert code_for(exc) == code


def test_no_row_hides_a_more_specific_later_row() -> None:
    classes = [cls for cls, _ in ERROR_CODES]
    assert classes[-1] is e.DomicileError
    for i, cls in enumerate(classes):
        assert not any(issubclass(later, cls) for later in classes[i + 1 :]), cls


def test_every_class_of_the_tree_maps_to_a_code_of_the_table() -> None:
    classes = [
        cls
        for cls in vars(e).values()
        if isinstance(cls, type) and issubclass(cls, e.DomicileError)
    ]
    assert len(classes) > 30
    for cls in classes:
        exc = cls("m", code="MalformedXML") if cls is e.RequestRejected else cls("m")
        assert code_for(exc) in ERRORS, cls


def _refusal() -> e.PlacementRefused:
    # Three compliant providers, one of them suspended (banned, cut off): 3 copies cannot
    # be placed until an operator acts.
    sites = {**FIVE_SITES, "de": {"template": "hetzner:fsn1", "status": "suspended"}}
    w = world(sites, {"eu": {"allow": ["EU"], "deny_subject_to": ["CN"], "copies": 3}})
    decision = decide(w.policies["eu"], w)
    with pytest.raises(e.PlacementRefused) as info:
        decision.raise_if_refused()
    return info.value


def test_a_refusal_the_sites_cannot_meet_is_invalid_location_constraint() -> None:
    exc = _refusal()
    assert code_for(exc) == "InvalidLocationConstraint"
    reply = render_error(exc, resource="/b/k", request_id="r1")
    assert reply.status == 400
    parsed = _parse(reply.body, reply.status)
    message = parsed["Error"]["Message"]
    assert "'eu'" in message and parsed["Error"]["Policy"] == "eu"
    assert "bjs: " in message and "us: " in message  # every refused site, with its reasons
    assert "de: " in message and "suspended" in message
    assert "country" in message and "CN" in message


def test_a_refusal_caused_by_an_unhealthy_site_is_retryable() -> None:
    w = world(FIVE_SITES, {"eu": {"allow": ["EU"], "copies": 3}})
    decision = decide(w.policies["eu"], w, health={"fr": False})
    with pytest.raises(e.PlacementRefused) as info:
        decision.raise_if_refused()
    assert code_for(info.value) == "ServiceUnavailable"
    assert "fr: " in message_for(info.value, "ServiceUnavailable")


def test_internal_errors_reveal_nothing() -> None:
    exc = e.CryptoError("identity file /secret/path unreadable", site="s1", bucket="b")
    reply = render_error(exc, resource="/b/k", request_id="r2")
    assert reply.status == 500 and reply.code == "InternalError"
    assert b"/secret/path" not in reply.body and b"BucketName" not in reply.body
    reply = render_error(ValueError("boom"), resource="/", request_id="r3")
    assert reply.code == "InternalError" and b"boom" not in reply.body


def test_context_becomes_elements_and_hints_reach_the_client() -> None:
    exc = e.ObjectNotFound("no such key", bucket="b", key="k", hint="list the bucket")
    reply = render_error(exc, resource="/b/k", request_id="r4")
    parsed = _parse(reply.body, reply.status)
    assert reply.status == 404
    assert parsed["Error"]["BucketName"] == "b" and parsed["Error"]["Key"] == "k"
    assert "hint: list the bucket" in parsed["Error"]["Message"]
