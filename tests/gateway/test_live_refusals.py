"""What the gateway refuses instead of pretending, through a live gateway: ACLs beyond the
owner's (ACLs disabled, bucket owner enforced), versioning and Object Lock, headers of
features it lacks, subresources it does not serve; and how refusals are logged."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.rawhttp import signed_request

OWNER_ACL = (
    '<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    "<Owner><ID>acme</ID></Owner><AccessControlList>{grants}</AccessControlList>"
    "</AccessControlPolicy>"
)
GRANT = (
    '<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:type="{kind}">{who}</Grantee><Permission>{permission}</Permission></Grant>'
)
OWNER_GRANT = GRANT.format(kind="CanonicalUser", who="<ID>acme</ID>", permission="FULL_CONTROL")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


# --- ACLs ---------------------------------------------------------------------------------


def test_get_acls_answer_the_owners_full_control(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for acl in (s3.get_bucket_acl(Bucket=bucket), s3.get_object_acl(Bucket=bucket, Key="k")):
        assert acl["Owner"]["ID"] == "acme"
        assert acl["Grants"] == [
            {
                "Grantee": {"ID": "acme", "DisplayName": "acme", "Type": "CanonicalUser"},
                "Permission": "FULL_CONTROL",
            }
        ]
    with pytest.raises(ClientError) as exc:
        s3.get_object_acl(Bucket=bucket, Key="absent")
    assert _code(exc) == ("NoSuchKey", 404)


@pytest.mark.parametrize("canned", ["private", "bucket-owner-full-control"])
def test_owner_only_acls_are_accepted(live: Any, bucket: str, canned: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL=canned)
    s3.put_object_acl(Bucket=bucket, Key="k", ACL=canned)
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    s3.copy_object(Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k"}, ACL=canned)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="m", ACL=canned)
    s3.abort_multipart_upload(Bucket=bucket, Key="m", UploadId=upload["UploadId"])
    s3.put_object_acl(Bucket=bucket, Key="k", GrantFullControl='id="acme"')
    answer = signed_request(
        live.endpoint,
        "PUT",
        f"/{bucket}",
        [("acl", "")],
        body=OWNER_ACL.format(grants=OWNER_GRANT).encode(),
    )
    assert answer.status == 200, answer.body


@pytest.mark.parametrize(
    "kwargs",
    [
        {"ACL": "public-read"},
        {"ACL": "authenticated-read"},
        {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
        {"GrantFullControl": 'id="globex"'},
        {"GrantWriteACP": 'id="acme"'},
    ],
)
def test_widening_acls_are_refused_and_nothing_is_stored(
    live: Any, bucket: str, kwargs: dict[str, str]
) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    calls = [
        lambda: s3.put_object(Bucket=bucket, Key="new", Body=b"x", **kwargs),
        lambda: s3.put_object_acl(Bucket=bucket, Key="k", **kwargs),
        lambda: s3.put_bucket_acl(Bucket=bucket, **kwargs),
        lambda: s3.copy_object(
            Bucket=bucket, Key="new", CopySource={"Bucket": bucket, "Key": "k"}, **kwargs
        ),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="new", **kwargs),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == ("AccessControlListNotSupported", 400)
    assert [o.key for o in live.engine.list(bucket).objects] == ["k"]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_create_bucket_with_a_public_acl_is_refused(live: Any) -> None:
    s3 = live.client()
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(
            Bucket="public-one",
            ACL="public-read",
            CreateBucketConfiguration={"LocationConstraint": "eu-only"},
        )
    assert _code(exc) == ("InvalidBucketAclWithObjectOwnership", 400)
    assert "public-one" not in {b.name for b in live.engine.list_buckets()}
    s3.create_bucket(
        Bucket="private-one",
        ACL="private",
        CreateBucketConfiguration={"LocationConstraint": "eu-only"},
    )


@pytest.mark.parametrize(
    "grants",
    [
        GRANT.format(
            kind="Group",
            who="<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI>",
            permission="READ",
        ),
        GRANT.format(kind="CanonicalUser", who="<ID>globex</ID>", permission="FULL_CONTROL"),
        GRANT.format(kind="CanonicalUser", who="<ID>acme</ID>", permission="READ"),
        OWNER_GRANT
        + GRANT.format(
            kind="AmazonCustomerByEmail",
            who="<EmailAddress>a@b.c</EmailAddress>",
            permission="READ",
        ),
        "",
    ],
)
def test_acl_bodies_beyond_the_owner_are_refused(live: Any, bucket: str, grants: str) -> None:
    body = OWNER_ACL.format(grants=grants).encode()
    answer = signed_request(live.endpoint, "PUT", f"/{bucket}", [("acl", "")], body=body)
    assert answer.error() == ("AccessControlListNotSupported", 400)


def test_a_malformed_acl_body_is_refused(live: Any, bucket: str) -> None:
    answer = signed_request(live.endpoint, "PUT", f"/{bucket}", [("acl", "")], body=b"<Nope/>")
    assert answer.error() == ("MalformedACLError", 400)
    answer = signed_request(live.endpoint, "PUT", f"/{bucket}", [("acl", "")])
    assert answer.error() == ("MalformedACLError", 400)


# --- versioning and Object Lock -----------------------------------------------------------


def test_mfa_delete_and_malformed_versioning_are_refused(live: Any, bucket: str) -> None:
    """Versioning itself is served (tests/gateway/test_live_versioning.py); MFA delete is
    not, and nothing changes when it is asked for."""
    s3 = live.client()
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    for status in ("Enabled", "Suspended"):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_versioning(
                Bucket=bucket,
                VersioningConfiguration={"Status": status, "MFADelete": "Enabled"},
                MFA="123456 000000",
            )
        assert _code(exc) == ("NotImplemented", 501)
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    answer = signed_request(
        live.endpoint, "PUT", f"/{bucket}", [("versioning", "")], body=b"<VersioningConfiguration/>"
    )
    assert answer.error() == ("MalformedXML", 400)


def test_object_lock_is_refused_in_a_bucket_created_without_it(live: Any, bucket: str) -> None:
    s3 = live.client()  # (buckets created with it: test_live_object_lock.py)
    with pytest.raises(ClientError) as exc:
        s3.get_object_lock_configuration(Bucket=bucket)
    assert _code(exc) == ("ObjectLockConfigurationNotFoundError", 404)
    with pytest.raises(ClientError) as exc:
        s3.put_object_lock_configuration(
            Bucket=bucket,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )
    assert _code(exc) == ("InvalidBucketState", 409)
    lock = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": "2030-01-01T00:00:00Z"}
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key="kept", Body=b"x", **lock),
        lambda: s3.put_object(Bucket=bucket, Key="kept", Body=b"x", ObjectLockLegalHoldStatus="ON"),
        lambda: s3.create_multipart_upload(Bucket=bucket, Key="kept", **lock),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == ("InvalidRequest", 400)
    assert live.engine.list(bucket).objects == []
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    for call in (
        lambda: s3.put_object_retention(
            Bucket=bucket,
            Key="k",
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": "2030-01-01T00:00:00Z"},
        ),
        lambda: s3.put_object_legal_hold(Bucket=bucket, Key="k", LegalHold={"Status": "ON"}),
        lambda: s3.get_object_retention(Bucket=bucket, Key="k"),
        lambda: s3.get_object_legal_hold(Bucket=bucket, Key="k"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == ("InvalidRequest", 400)
    s3.delete_object(Bucket=bucket, Key="k")  # no retention was ever applied


# --- other headers and subresources -------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "code", "status"),
    [
        ({"x-amz-tagging": "a=b"}, "NotImplemented", 501),
        ({"x-amz-storage-class": "GLACIER"}, "NotImplemented", 501),
        ({"x-amz-server-side-encryption": "aws:kms"}, "NotImplemented", 501),
        ({"x-amz-server-side-encryption-customer-algorithm": "AES256"}, "NotImplemented", 501),
        ({"x-amz-website-redirect-location": "/x"}, "NotImplemented", 501),
        ({"x-amz-expected-bucket-owner": "globex"}, "AccessDenied", 403),
    ],
)
def test_put_headers_of_missing_features_are_refused(
    live: Any, bucket: str, headers: dict[str, str], code: str, status: int
) -> None:
    answer = signed_request(live.endpoint, "PUT", f"/{bucket}/h", headers=headers, body=b"data")
    assert answer.error() == (code, status)
    assert live.engine.list(bucket).objects == []


def test_accepted_put_headers(live: Any, bucket: str) -> None:
    headers = {
        "x-amz-storage-class": "STANDARD",
        "x-amz-server-side-encryption": "AES256",
        "x-amz-expected-bucket-owner": "acme",
    }
    answer = signed_request(live.endpoint, "PUT", f"/{bucket}/ok", headers=headers, body=b"data")
    assert answer.status == 200, answer.body


def test_malformed_version_ids_and_null(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="k", VersionId="null")["Body"].read() == b"x"
    for call in (
        lambda: s3.get_object(Bucket=bucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ"),
        lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == ("InvalidArgument", 400)
    s3.copy_object(
        Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "k", "VersionId": "null"}
    )
    bogus = {"Key": "c", "VersionId": "3HL4kqtJlcpXroDTDmJ"}
    done = s3.delete_objects(Bucket=bucket, Delete={"Objects": [bogus]})
    assert [(e["Key"], e["Code"]) for e in done["Errors"]] == [("c", "InvalidArgument")]
    s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    assert [o.key for o in live.engine.list(bucket).objects] == ["c"]


@pytest.mark.parametrize(
    "sub",
    ["tagging", "policy", "cors", "encryption", "website", "replication",
     "notification", "logging", "publicAccessBlock", "ownershipControls", "accelerate",
     "requestPayment", "metrics", "inventory", "analytics", "intelligent-tiering"],
)  # fmt: skip
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unserved_bucket_subresources_are_not_implemented(
    live: Any, bucket: str, sub: str, method: str
) -> None:
    answer = signed_request(live.endpoint, method, f"/{bucket}", [(sub, "")], body=b"")
    assert answer.error() == ("NotImplemented", 501)
    assert sub in answer.body.decode()
    assert bucket in {b.name for b in live.engine.list_buckets()}


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("PUT", "/{b}", "location"),
        ("PUT", "/{b}", "versions"),
        ("DELETE", "/{b}", "versioning"),
        ("GET", "/{b}/k", "uploads"),
        ("PUT", "/{b}/k", "versioning"),
        ("GET", "/{b}/k", "location"),
        ("GET", "/", "acl"),
    ],
)
def test_served_subresources_never_fall_through(
    live: Any, bucket: str, method: str, path: str, query: str
) -> None:
    live.client().put_object(Bucket=bucket, Key="k", Body=b"x")
    answer = signed_request(live.endpoint, method, path.format(b=bucket), [(query, "")])
    assert answer.error() == ("MethodNotAllowed", 405)
    assert live.engine.get(bucket, "k").read() == b"x"


# --- logging ------------------------------------------------------------------------------


def test_refusals_are_one_info_line_with_request_id_and_code(
    live: Any, bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="domicile")
    answers = [
        signed_request(live.endpoint, "GET", f"/{bucket}", [("tagging", "")]),
        signed_request(live.endpoint, "GET", f"/{bucket}/absent"),
        signed_request(live.endpoint, "GET", f"/{bucket}", secret="wrong"),
        signed_request(live.endpoint, "PUT", f"/{bucket}/k", headers={"x-amz-acl": "public-read"}),
    ]
    codes = [a.error()[0] for a in answers]
    assert codes == [
        "NotImplemented",
        "NoSuchKey",
        "SignatureDoesNotMatch",
        "AccessControlListNotSupported",
    ]
    refusals = [r for r in caplog.records if r.getMessage() == "refused"]
    assert [(r.request_id, r.code) for r in refusals] == [  # type: ignore[attr-defined]
        (a.headers["x-amz-request-id"], code) for a, code in zip(answers, codes, strict=True)
    ]
    assert all(r.levelno == logging.INFO and r.exc_info is None for r in refusals)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_internal_error_is_logged_with_its_traceback(
    live: Any, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(live.engine, "list_buckets", broken)
    caplog.set_level(logging.DEBUG, logger="domicile")
    answer = signed_request(live.endpoint, "GET", "/")
    assert answer.error() == ("InternalError", 500)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is not None
    assert errors[0].request_id == answer.headers["x-amz-request-id"]  # type: ignore[attr-defined]
    assert b"a bug" not in answer.body


# --- refusals in the audit log ------------------------------------------------------------


def test_access_refusals_are_counted_in_the_audit_log(live: Any, bucket: str) -> None:
    from tests.gateway.live import ACCESS_KEY

    live.engine.flush_refusals(everything=True)
    before = max(r.seq for r in live.engine.audit.records())
    for _ in range(5):
        assert signed_request(live.endpoint, "GET", f"/{bucket}", secret="wrong").status == 403
    for _ in range(2):
        answer = signed_request(live.endpoint, "GET", f"/{bucket}", access_key="AKIDNOBODY")
        assert answer.error() == ("InvalidAccessKeyId", 403)
    anonymous = send_unsigned(live.endpoint, f"/{bucket}")
    assert anonymous.error() == ("AccessDenied", 403)
    widen = signed_request(
        live.endpoint, "PUT", f"/{bucket}/k", headers={"x-amz-acl": "public-read"}
    )
    assert widen.error() == ("AccessControlListNotSupported", 400)
    missing = signed_request(live.endpoint, "GET", f"/{bucket}/absent")
    assert missing.error() == ("NoSuchKey", 404)  # ordinary traffic: not audited
    assert live.engine.flush_refusals(everything=True) >= 4
    new = [r for r in live.engine.audit.records() if r.seq > before]
    counts = {
        (r.detail["who"], r.detail["code"]): r.detail["count"]
        for r in new
        if r.action == "request_refused"
    }
    assert all(
        r.actor == "gateway" and r.result == "refused" for r in new if r.action == "request_refused"
    )
    assert counts[(f"acme:{ACCESS_KEY}", "SignatureDoesNotMatch")] == 5
    assert counts[("unknown", "InvalidAccessKeyId")] == 2
    assert counts[("anonymous", "AccessDenied")] == 1
    assert counts[(f"acme:{ACCESS_KEY}", "AccessControlListNotSupported")] == 1
    assert not [k for k in counts if k[1] == "NoSuchKey"]
    assert "AKIDNOBODY" not in str([r.detail for r in new])
    assert live.engine.audit.verify().ok


def send_unsigned(endpoint: str, path: str) -> Any:
    from tests.gateway.rawhttp import send

    return send(endpoint, "GET", path)
