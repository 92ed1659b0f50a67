"""SigV4 verification against requests signed and presigned by botocore itself."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from domicile.errors import RequestRejected
from domicile.gateway.sigv4 import PayloadMode, PayloadVerifier
from tests.examples import examples
from tests.gateway.conftest import (
    ACCESS_KEY,
    ENDPOINT,
    OTHER_KEY,
    SECRET,
    TENANT,
    Req,
    botocore_signed,
    from_url,
    s3_client,
)


def _code(req: Req, **kw: object) -> str:
    with pytest.raises(RequestRejected) as info:
        req.verify(**kw)  # type: ignore[arg-type]
    return info.value.code


def _signed_put() -> Req:
    return botocore_signed(
        "PUT",
        f"{ENDPOINT}/bucket/dir/a%20key%21%28x%29~?uploadId=u-1&partNumber=3",
        headers={"x-amz-meta-colour": "  deep   blue ", "Content-Type": "text/plain"},
        body=b"hello world",
    )


# --- header auth ------------------------------------------------------------------------


def test_accepts_a_put_signed_by_botocore() -> None:
    req = _signed_put()
    result = req.verify()
    assert result.access_key == ACCESS_KEY and result.tenant == TENANT
    assert result.payload_mode is PayloadMode.SHA256
    assert result.payload_sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert result.scope.endswith("/us-east-1/s3/aws4_request")
    assert not result.presigned
    assert SECRET not in repr(result) and "signing_key" not in repr(result)


def test_accepts_a_get_with_a_listing_query() -> None:
    req = botocore_signed(
        "GET",
        f"{ENDPOINT}/bucket?list-type=2&prefix=a%2Fb%20c&delimiter=%2F&encoding-type=url&x=",
    )
    assert req.verify().payload_mode is PayloadMode.SHA256


def test_repeated_headers_are_joined_with_commas() -> None:
    req = botocore_signed("GET", f"{ENDPOINT}/b/k", headers={"x-amz-meta-a": "1,2"})
    split = [(n, v) for n, v in req.headers if n != "x-amz-meta-a"]
    split += [("x-amz-meta-a", "1"), ("x-amz-meta-a", "2")]
    assert replace(req, headers=split).verify().tenant == TENANT


def test_header_names_are_case_insensitive() -> None:
    req = _signed_put()
    upper = [(n.upper(), v) for n, v in req.headers]
    assert replace(req, headers=upper).verify().tenant == TENANT


def test_a_path_sent_less_encoded_still_matches() -> None:
    req = _signed_put()
    assert replace(req, path="/bucket/dir/a%20key!(x)~").verify().tenant == TENANT


MUTATIONS = {
    "method": lambda r: replace(r, method="POST"),
    "path": lambda r: replace(r, path=r.path + "x"),
    "path-case": lambda r: replace(r, path=r.path.upper()),
    "query-value": lambda r: replace(r, query=[("uploadId", "u-2"), ("partNumber", "3")]),
    "query-added": lambda r: replace(r, query=[*r.query, ("acl", "")]),
    "query-removed": lambda r: replace(r, query=r.query[:1]),
    "signed-header": lambda r: r.with_header("x-amz-meta-colour", "red"),
    "content-type": lambda r: r.with_header("Content-Type", "text/html"),
    "host": lambda r: r.with_header("Host", "evil.test:9000"),
    "payload-hash": lambda r: r.with_header(
        "x-amz-content-sha256", hashlib.sha256(b"other").hexdigest()
    ),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_any_single_mutation_is_refused(mutation: str) -> None:
    req = _signed_put()
    assert _code(MUTATIONS[mutation](req)) == "SignatureDoesNotMatch"


def test_a_changed_date_is_refused() -> None:
    req = _signed_put()
    date = {n.lower(): v for n, v in req.headers}["x-amz-date"]
    later = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + timedelta(seconds=1)
    assert _code(req.with_header("X-Amz-Date", f"{later:%Y%m%dT%H%M%SZ}")) in (
        "SignatureDoesNotMatch",
        "AuthorizationHeaderMalformed",  # the second crossed midnight: the scope date differs
    )


@pytest.mark.parametrize(
    ("time", "says"),
    [
        ("T1000Z", "not in the form"),
        ("T10:00:00Z", "not in the form"),
        ("T\u0661\u06600000Z", "not in the form"),  # Arabic-Indic digits
        ("T246000Z", "does not exist"),
        ("T236000Z", "does not exist"),
    ],
)
def test_a_malformed_or_impossible_request_time_is_refused(time: str, says: str) -> None:
    req = _signed_put()
    day = {n.lower(): v for n, v in req.headers}["x-amz-date"][:8]  # the credential's date
    with pytest.raises(RequestRejected, match=says) as info:
        req.with_header("X-Amz-Date", day + time).verify()
    assert info.value.code == "MissingSecurityHeader"


@pytest.mark.parametrize("date", ["20261301T100000Z", "20270229T100000Z", "20260100T100000Z"])
def test_an_impossible_calendar_date_is_refused(date: str) -> None:
    from domicile.gateway.sigv4 import _parse_amz_date

    with pytest.raises(RequestRejected, match="does not exist"):
        _parse_amz_date(date, "AuthorizationQueryParametersError")
    assert _parse_amz_date("20280229T235959Z", "X") == datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC)


def test_another_secret_is_refused() -> None:
    req = botocore_signed("GET", f"{ENDPOINT}/b/k", secret="not-the-secret")
    assert _code(req) == "SignatureDoesNotMatch"


def test_another_tenants_key_with_our_secret_is_refused() -> None:
    req = botocore_signed("GET", f"{ENDPOINT}/b/k", access_key=OTHER_KEY)
    assert _code(req) == "SignatureDoesNotMatch"


def test_unknown_access_key() -> None:
    req = botocore_signed("GET", f"{ENDPOINT}/b/k", access_key="AKIDUNKNOWN")
    assert _code(req) == "InvalidAccessKeyId"


def test_clock_skew_window() -> None:
    req = _signed_put()
    now = datetime.now(UTC)
    assert req.verify(now=now + timedelta(seconds=800)).tenant == TENANT
    assert _code(req, now=now + timedelta(seconds=1000)) == "RequestTimeTooSkewed"
    assert _code(req, now=now - timedelta(seconds=1000)) == "RequestTimeTooSkewed"
    assert _code(req, now=now + timedelta(seconds=100), skew=10) == "RequestTimeTooSkewed"


def test_regions_can_be_restricted() -> None:
    req = botocore_signed("GET", f"{ENDPOINT}/b/k", region="eu-west-3")
    assert req.verify(regions={"eu-west-3"}).tenant == TENANT
    assert _code(req, regions={"us-east-1"}) == "AuthorizationHeaderMalformed"


def test_unsigned_amz_header_is_refused() -> None:
    req = _signed_put().with_header("x-amz-meta-extra", "sneaked in")
    assert _code(req) == "AccessDenied"


def test_a_signed_header_dropped_on_the_way_is_refused() -> None:
    req = _signed_put()
    dropped = [(n, v) for n, v in req.headers if n.lower() != "x-amz-meta-colour"]
    assert _code(replace(req, headers=dropped)) == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("AWS AKID:c2lnbmF0dXJl", "InvalidRequest"),
        ("AWS4-ECDSA-P256-SHA256 Credential=x", "NotImplemented"),
        ("Bearer abc", "AuthorizationHeaderMalformed"),
        ("AWS4-HMAC-SHA256 Credential=a/b", "AuthorizationHeaderMalformed"),
        (
            "AWS4-HMAC-SHA256 Credential=A/20240101/r/s3/aws4_request, Signature=ab",
            "AuthorizationHeaderMalformed",
        ),
    ],
)
def test_malformed_authorization(authorization: str, code: str) -> None:
    assert _code(_signed_put().with_header("Authorization", authorization)) == code


def test_scope_must_match_service_date_and_terminator() -> None:
    req = _signed_put()
    auth = {n.lower(): v for n, v in req.headers}["authorization"]
    for old, new in (("/s3/", "/ec2/"), ("aws4_request", "aws4_reqest"), ("/20", "/19")):
        bad = req.with_header("Authorization", auth.replace(old, new, 1))
        assert _code(bad) == "AuthorizationHeaderMalformed", old


def test_missing_and_invalid_payload_hash() -> None:
    req = _signed_put()
    kept = [(n, v) for n, v in req.headers if n.lower() != "x-amz-content-sha256"]
    assert _code(replace(req, headers=kept)) == "MissingSecurityHeader"
    assert _code(req.with_header("x-amz-content-sha256", "nonsense")) == "InvalidArgument"
    sigv4a = "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD"
    assert _code(req.with_header("x-amz-content-sha256", sigv4a)) == "NotImplemented"


def test_anonymous_request_is_refused() -> None:
    req = from_url("GET", f"{ENDPOINT}/b/k", {})
    assert _code(req) == "AccessDenied"


def test_now_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _signed_put().verify(now=datetime.now())


# --- presigned URLs ---------------------------------------------------------------------


def _presigned(expires: int = 3600, key: str = "dir/ä b+c~!*'()") -> Req:
    url = s3_client().generate_presigned_url(
        "get_object", Params={"Bucket": "b", "Key": key}, ExpiresIn=expires
    )
    return from_url("GET", url, {})


def test_accepts_a_url_presigned_by_boto3() -> None:
    result = _presigned().verify()
    assert result.presigned and result.tenant == TENANT
    assert result.payload_mode is PayloadMode.UNSIGNED


def test_presigned_put_with_metadata_must_send_the_signed_header() -> None:
    url = s3_client().generate_presigned_url(
        "put_object", Params={"Bucket": "b", "Key": "k", "Metadata": {"a": "b"}}, ExpiresIn=60
    )
    assert from_url("PUT", url, {"x-amz-meta-a": "b"}).verify().presigned
    assert _code(from_url("PUT", url, {})) == "SignatureDoesNotMatch"
    assert _code(from_url("PUT", url, {"x-amz-meta-a": "c"})) == "SignatureDoesNotMatch"


def test_presigned_expiry_is_enforced() -> None:
    req = _presigned(expires=60)
    now = datetime.now(UTC)
    assert req.verify(now=now + timedelta(seconds=30)).presigned
    assert _code(req, now=now + timedelta(seconds=120)) == "AccessDenied"
    assert _code(req, now=now - timedelta(seconds=3600)) == "AccessDenied"  # not yet valid


def test_presigned_expiry_is_at_most_seven_days() -> None:
    req = _presigned(expires=7 * 24 * 3600)
    assert req.verify().presigned
    longer = [(n, "604801" if n == "X-Amz-Expires" else v) for n, v in req.query]
    assert _code(replace(req, query=longer)) == "AuthorizationQueryParametersError"


def _one_second_later(stamp: str) -> str:
    when = datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return f"{when + timedelta(seconds=1):%Y%m%dT%H%M%SZ}"


PRESIGN_MUTATIONS: dict[str, Callable[[str], str]] = {
    "X-Amz-Expires": lambda v: str(int(v) - 1),
    "X-Amz-Date": _one_second_later,
    "X-Amz-Credential": lambda v: v.replace(ACCESS_KEY, OTHER_KEY),
    "X-Amz-SignedHeaders": lambda v: v + ";range",
}


@pytest.mark.parametrize("name", sorted(PRESIGN_MUTATIONS))
def test_presigned_parameter_mutations(name: str) -> None:
    req = _presigned()
    changed = [(n, PRESIGN_MUTATIONS[name](v) if n == name else v) for n, v in req.query]
    assert changed != req.query
    assert _code(replace(req, query=changed)) in (
        "SignatureDoesNotMatch",
        "AuthorizationQueryParametersError",  # only when the second crossed midnight
    )


def test_presigned_path_query_and_method_mutations() -> None:
    req = _presigned()
    assert _code(replace(req, method="DELETE")) == "SignatureDoesNotMatch"
    assert _code(replace(req, path=req.path + "2")) == "SignatureDoesNotMatch"
    assert _code(replace(req, query=[*req.query, ("versionId", "1")])) == "SignatureDoesNotMatch"


def test_presigned_missing_parameter_and_both_mechanisms() -> None:
    req = _presigned()
    short = [(n, v) for n, v in req.query if n != "X-Amz-Date"]
    assert _code(replace(req, query=short)) == "AuthorizationQueryParametersError"
    both = req.with_header("Authorization", "AWS4-HMAC-SHA256 x")
    assert _code(both) == "InvalidRequest"
    token = replace(req, query=[*req.query, ("X-Amz-Security-Token", "t")])
    assert _code(token) == "InvalidToken"


def test_a_session_token_on_a_header_signed_request_is_refused() -> None:
    """botocore signs ``x-amz-security-token`` with temporary credentials: the gateway
    issues no session token, so it refuses the request instead of ignoring the token."""
    request = AWSRequest("GET", f"{ENDPOINT}/bucket/key", headers={})
    S3SigV4Auth(Credentials(ACCESS_KEY, SECRET, "session-token"), "s3", "us-east-1").add_auth(
        request
    )
    prepared = request.prepare()
    assert prepared.headers["X-Amz-Security-Token"] == "session-token"
    req = from_url("GET", prepared.url, dict(prepared.headers.items()))
    assert _code(req) == "InvalidToken"
    # Without the token the same signature scheme is accepted: only the token is refused.
    assert botocore_signed("GET", f"{ENDPOINT}/bucket/key").verify().tenant == TENANT


def test_sigv2_presigned_url_is_refused_clearly() -> None:
    req = from_url("GET", f"{ENDPOINT}/b/k?AWSAccessKeyId=A&Signature=x&Expires=1", {})
    assert _code(req) == "InvalidRequest"


# --- botocore's whole pipeline ----------------------------------------------------------


def test_real_client_requests_verify(capture) -> None:  # type: ignore[no-untyped-def]
    client = s3_client()
    seen = capture(client)
    client.put_object(Bucket="b", Key="x/ü ~.txt", Body=b"data", Metadata={"k": "v"})
    client.list_objects_v2(Bucket="b", Prefix="x/", Delimiter="/")
    client.delete_objects(Bucket="b", Delete={"Objects": [{"Key": "a"}, {"Key": "b c"}]})
    client.create_multipart_upload(Bucket="b", Key="big", ContentType="application/zip")
    client.upload_part(Bucket="b", Key="big", UploadId="u1", PartNumber=1, Body=b"x" * 10)
    assert len(seen.requests) == 5
    for req in seen.requests:
        assert req.verify().tenant == TENANT, (req.method, req.path)


# --- payload hashes ---------------------------------------------------------------------


@settings(max_examples=examples(50), deadline=None)
@given(body=st.binary(max_size=4096), cut=st.integers(min_value=0, max_value=4096))
def test_payload_verifier_accepts_the_signed_body_in_any_pieces(body: bytes, cut: int) -> None:
    verifier = PayloadVerifier(hashlib.sha256(body).hexdigest())
    verifier.update(body[:cut])
    verifier.update(memoryview(body)[cut:])
    verifier.finish()
    assert verifier.size == len(body)


def test_payload_verifier_refuses_another_body() -> None:
    verifier = PayloadVerifier(hashlib.sha256(b"signed").hexdigest())
    verifier.update(b"signe")
    verifier.update(b"D")
    with pytest.raises(RequestRejected) as info:
        verifier.finish()
    assert info.value.code == "XAmzContentSHA256Mismatch"
    with pytest.raises(ValueError, match="hex"):
        PayloadVerifier("UNSIGNED-PAYLOAD")


@settings(max_examples=examples(40), deadline=None)
@given(key=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))
def test_any_key_signed_by_botocore_verifies(key: str) -> None:
    url = f"{ENDPOINT}/bucket/{quote(key.encode(), safe='/~')}?prefix={quote(key, safe='')}"
    assert botocore_signed("GET", url).verify().tenant == TENANT
