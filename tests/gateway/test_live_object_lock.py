"""Object Lock and lifecycle through a live gateway, with boto3 and the aws CLI: status,
error codes and headers as AWS documents them, and the GOVERNANCE bypass granted per key."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import deployment_catalog
from tests.gateway import clients as c
from tests.gateway.live import ACCESS_KEY, OTHER_KEY, OTHER_SECRET, SECRET, Live, run_gateway
from tests.gateway.rawhttp import signed_request

ADMIN_KEY = "AKIDLIVEBYPASS003"
ADMIN_SECRET = "bypass-secret"
TENANTS = f"""
[tenants.acme]
keys = [
  {{ access_key = "{ACCESS_KEY}", secret = "{SECRET}" }},
  {{ access_key = "{ADMIN_KEY}", secret = "{ADMIN_SECRET}", bypass_governance = true }},
]

[tenants.globex]
keys = [{{ access_key = "{OTHER_KEY}", secret = "{OTHER_SECRET}" }}]
"""
_names = iter(range(1_000_000))


#: Every test on SQLite and PostgreSQL catalogs (tests/conftest.py).
CATALOGS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, catalog_kind: str, request: pytest.FixtureRequest
) -> Iterator[Live]:
    url = deployment_catalog(catalog_kind, request)
    catalog = f'catalog = "{url}"' if url else ""
    root = tmp_path_factory.mktemp("lock")
    with run_gateway(root, tenants=TENANTS, deployment_extra=catalog) as running:
        yield running


@pytest.fixture
def s3(live: Live) -> Any:
    return live.client()


@pytest.fixture
def vault(s3: Any) -> str:
    name = f"vault{next(_names):04d}"
    s3.create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": "eu-only"},
        ObjectLockEnabledForBucket=True,
    )
    return name


@pytest.fixture
def plain(s3: Any) -> str:
    name = f"plain{next(_names):04d}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-only"})
    return name


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def _later(**delta: float) -> datetime:
    return (datetime.now(UTC) + timedelta(**delta)).replace(microsecond=0)


def test_a_lock_bucket_keeps_versioning(s3: Any, vault: str) -> None:
    assert s3.get_bucket_versioning(Bucket=vault)["Status"] == "Enabled"
    with pytest.raises(ClientError) as suspend:
        s3.put_bucket_versioning(Bucket=vault, VersioningConfiguration={"Status": "Suspended"})
    assert _code(suspend) == ("InvalidBucketState", 409)


def test_lock_configuration_round_trip(s3: Any, vault: str, plain: str) -> None:
    got = s3.get_object_lock_configuration(Bucket=vault)["ObjectLockConfiguration"]
    assert got == {"ObjectLockEnabled": "Enabled"}
    rule = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2}}
    s3.put_object_lock_configuration(
        Bucket=vault, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule}
    )
    got = s3.get_object_lock_configuration(Bucket=vault)["ObjectLockConfiguration"]
    assert got["Rule"] == rule
    with pytest.raises(ClientError) as missing:
        s3.get_object_lock_configuration(Bucket=plain)
    assert _code(missing) == ("ObjectLockConfigurationNotFoundError", 404)
    with pytest.raises(ClientError) as late:
        s3.put_object_lock_configuration(
            Bucket=plain, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": rule}
        )
    assert _code(late) == ("InvalidBucketState", 409)
    both = {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 2, "Years": 1}}
    with pytest.raises(ClientError) as malformed:
        s3.put_object_lock_configuration(
            Bucket=vault, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": both}
        )
    assert _code(malformed) == ("MalformedXML", 400)


def test_put_with_lock_headers_then_head_get_and_refused_deletes(
    live: Live, s3: Any, vault: str
) -> None:
    until = _later(days=1)
    vid = s3.put_object(
        Bucket=vault,
        Key="rec",
        Body=b"record",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="OFF",
    )["VersionId"]
    head = s3.head_object(Bucket=vault, Key="rec")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == until
    assert head["ObjectLockLegalHoldStatus"] == "OFF"
    got = s3.get_object(Bucket=vault, Key="rec")
    assert got["ObjectLockMode"] == "COMPLIANCE" and got["Body"].read() == b"record"
    retention = s3.get_object_retention(Bucket=vault, Key="rec")["Retention"]
    assert retention == {"Mode": "COMPLIANCE", "RetainUntilDate": until}
    admin = live.client(ADMIN_KEY, ADMIN_SECRET)
    for client, extra in ((s3, {}), (admin, {"BypassGovernanceRetention": True})):
        with pytest.raises(ClientError) as refused:
            client.delete_object(Bucket=vault, Key="rec", VersionId=vid, **extra)
        assert _code(refused) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as shorter:
        admin.put_object_retention(
            Bucket=vault,
            Key="rec",
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": _later(hours=1)},
            BypassGovernanceRetention=True,
        )
    assert _code(shorter) == ("AccessDenied", 403)
    answer = s3.delete_objects(Bucket=vault, Delete={"Objects": [{"Key": "rec", "VersionId": vid}]})
    assert answer["Errors"][0]["Code"] == "AccessDenied"
    refusals = [r for r in live.engine.audit.records() if r.result == "refused" and r.key == "rec"]
    assert [r.action for r in refusals] == [
        "version_delete",
        "version_delete",
        "retention",
        "version_delete",
    ]
    assert refusals[0].actor == f"acme:{ACCESS_KEY}"
    marker = s3.delete_object(Bucket=vault, Key="rec")  # S3: a delete marker, allowed
    assert marker["DeleteMarker"] is True
    assert s3.get_object(Bucket=vault, Key="rec", VersionId=vid)["Body"].read() == b"record"


def test_governance_needs_a_granted_key(live: Live, s3: Any, vault: str) -> None:
    vid = s3.put_object(
        Bucket=vault,
        Key="gov",
        Body=b"g",
        ObjectLockMode="GOVERNANCE",
        ObjectLockRetainUntilDate=_later(days=3),
    )["VersionId"]
    with pytest.raises(ClientError) as plain_key:  # asked, but this key may not
        s3.delete_object(Bucket=vault, Key="gov", VersionId=vid, BypassGovernanceRetention=True)
    assert _code(plain_key) == ("AccessDenied", 403)
    admin = live.client(ADMIN_KEY, ADMIN_SECRET)
    with pytest.raises(ClientError) as not_asked:
        admin.delete_object(Bucket=vault, Key="gov", VersionId=vid)
    assert _code(not_asked) == ("AccessDenied", 403)
    shorter = {"Mode": "GOVERNANCE", "RetainUntilDate": _later(days=1)}
    with pytest.raises(ClientError) as no_bypass:
        s3.put_object_retention(Bucket=vault, Key="gov", Retention=shorter)
    assert _code(no_bypass) == ("AccessDenied", 403)
    admin.put_object_retention(
        Bucket=vault, Key="gov", Retention=shorter, BypassGovernanceRetention=True
    )
    admin.delete_object(Bucket=vault, Key="gov", VersionId=vid, BypassGovernanceRetention=True)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=vault, Key="gov", VersionId=vid)


def test_legal_hold_blocks_every_delete(live: Live, s3: Any, vault: str) -> None:
    vid = s3.put_object(Bucket=vault, Key="held", Body=b"h")["VersionId"]
    with pytest.raises(ClientError) as none:
        s3.get_object_legal_hold(Bucket=vault, Key="held")
    assert _code(none) == ("NoSuchObjectLockConfiguration", 404)
    s3.put_object_legal_hold(Bucket=vault, Key="held", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket=vault, Key="held")["LegalHold"] == {"Status": "ON"}
    assert s3.head_object(Bucket=vault, Key="held")["ObjectLockLegalHoldStatus"] == "ON"
    admin = live.client(ADMIN_KEY, ADMIN_SECRET)
    with pytest.raises(ClientError) as held:
        admin.delete_object(Bucket=vault, Key="held", VersionId=vid, BypassGovernanceRetention=True)
    assert _code(held) == ("AccessDenied", 403)
    s3.put_object_legal_hold(Bucket=vault, Key="held", LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=vault, Key="held", VersionId=vid)


def test_errors_as_aws_documents(live: Live, s3: Any, vault: str, plain: str) -> None:
    past = datetime.now(UTC) - timedelta(days=1)
    with pytest.raises(ClientError) as old:
        s3.put_object(
            Bucket=vault, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=past,
        )  # fmt: skip
    assert _code(old) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as half:
        s3.put_object(Bucket=vault, Key="k", Body=b"x", ObjectLockMode="GOVERNANCE")
    assert _code(half) == ("InvalidArgument", 400)
    with pytest.raises(ClientError) as no_lock:
        s3.put_object(Bucket=plain, Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert _code(no_lock) == ("InvalidRequest", 400)
    s3.put_object(Bucket=plain, Key="k", Body=b"x")
    for call in (
        lambda: s3.get_object_retention(Bucket=plain, Key="k"),
        lambda: s3.put_object_legal_hold(Bucket=plain, Key="k", LegalHold={"Status": "ON"}),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert _code(refused) == ("InvalidRequest", 400)
    s3.put_object(Bucket=vault, Key="k", Body=b"x")
    with pytest.raises(ClientError) as none:
        s3.get_object_retention(Bucket=vault, Key="k")
    assert _code(none) == ("NoSuchObjectLockConfiguration", 404)
    with pytest.raises(ClientError) as past_retention:
        s3.put_object_retention(
            Bucket=vault, Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": past}
        )
    assert _code(past_retention) == ("InvalidArgument", 400)


def test_a_lock_put_needs_content_md5_or_a_checksum(live: Live, vault: str) -> None:
    until = _later(days=1).strftime("%Y-%m-%dT%H:%M:%SZ")
    headers = {
        "x-amz-object-lock-mode": "GOVERNANCE",
        "x-amz-object-lock-retain-until-date": until,
    }
    bare = signed_request(live.endpoint, "PUT", f"/{vault}/raw", [], headers, b"body")
    assert bare.status == 400 and b"<Code>InvalidRequest</Code>" in bare.body
    md5 = base64.b64encode(hashlib.md5(b"body").digest()).decode()
    proven = signed_request(
        live.endpoint, "PUT", f"/{vault}/raw", [], {**headers, "content-md5": md5}, b"body"
    )
    assert proven.status == 200, proven.body


def test_copy_and_multipart_take_their_lock(s3: Any, vault: str, plain: str) -> None:
    s3.put_object(Bucket=plain, Key="src", Body=b"s")
    until = _later(days=1)
    s3.copy_object(
        Bucket=vault, Key="copied", CopySource={"Bucket": plain, "Key": "src"},
        ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
    )  # fmt: skip
    assert s3.head_object(Bucket=vault, Key="copied")["ObjectLockMode"] == "GOVERNANCE"
    up = s3.create_multipart_upload(Bucket=vault, Key="mp", ObjectLockLegalHoldStatus="ON")
    part = s3.upload_part(Bucket=vault, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"p")
    s3.complete_multipart_upload(
        Bucket=vault, Key="mp", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert s3.head_object(Bucket=vault, Key="mp")["ObjectLockLegalHoldStatus"] == "ON"


def test_lifecycle_round_trip_and_refusals(s3: Any, plain: str) -> None:
    with pytest.raises(ClientError) as none:
        s3.get_bucket_lifecycle_configuration(Bucket=plain)
    assert _code(none) == ("NoSuchLifecycleConfiguration", 404)
    rules = [
        {
            "ID": "old-versions",
            "Filter": {"Prefix": "logs/"},
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 30},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        },
        {
            "ID": "markers",
            "Filter": {"Prefix": ""},
            "Status": "Disabled",
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        },
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=plain, LifecycleConfiguration={"Rules": rules})
    assert s3.get_bucket_lifecycle_configuration(Bucket=plain)["Rules"] == rules
    for refused in (
        {"ID": "x", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 3}},
        {
            "ID": "t",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
        },
        {
            "ID": "tag",
            "Filter": {"Tag": {"Key": "a", "Value": "b"}},
            "Status": "Enabled",
            "NoncurrentVersionExpiration": {"NoncurrentDays": 3},
        },
    ):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_lifecycle_configuration(
                Bucket=plain, LifecycleConfiguration={"Rules": [refused]}
            )
        assert _code(exc) == ("NotImplemented", 501)
    assert s3.get_bucket_lifecycle_configuration(Bucket=plain)["Rules"] == rules
    s3.delete_bucket_lifecycle(Bucket=plain)
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=plain)


def test_abort_rule_is_enforced_by_sweep(live: Live, s3: Any, plain: str) -> None:
    s3.put_bucket_lifecycle_configuration(
        Bucket=plain,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "abort",
                    "Filter": {"Prefix": "tmp/"},
                    "Status": "Enabled",
                    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                }
            ]
        },
    )
    old = s3.create_multipart_upload(Bucket=plain, Key="tmp/old")["UploadId"]
    kept = s3.create_multipart_upload(Bucket=plain, Key="keep/old")["UploadId"]
    from domicile.engine.lifecycle import enforce

    report = enforce(live.engine.context, now=datetime.now(UTC).timestamp() + 2 * 86_400)
    assert report.uploads_aborted == 1
    ids = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=plain).get("Uploads", [])]
    assert ids == [kept] and old not in ids


# --- the aws CLI ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aws(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Any:
    env = c.aws_env(live, tmp_path_factory.mktemp("aws-home"))

    def call(*args: str, ok: bool | None = True) -> subprocess.CompletedProcess[str]:
        argv = [c.aws_command(), "--endpoint-url", live.endpoint, "s3api", *args]
        return c.run(argv, env, ok=ok)

    return call


def _json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(done.stdout) if done.stdout.strip() else {}


@pytest.mark.slow  # the aws CLI: a Python process per command (make test runs it)
def test_awscli_object_lock(aws: Any, live: Live, s3: Any) -> None:
    name = f"cli{next(_names):04d}"
    aws("create-bucket", "--bucket", name, "--object-lock-enabled-for-bucket",
        "--create-bucket-configuration", "LocationConstraint=eu-only")  # fmt: skip
    config = json.dumps(
        {"ObjectLockEnabled": "Enabled",
         "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}}}
    )  # fmt: skip
    aws("put-object-lock-configuration", "--bucket", name, "--object-lock-configuration", config)
    got = _json(aws("get-object-lock-configuration", "--bucket", name))
    assert got["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Mode"] == "COMPLIANCE"
    aws("put-object", "--bucket", name, "--key", "k", "--body", __file__)
    head = _json(aws("head-object", "--bucket", name, "--key", "k"))
    assert head["ObjectLockMode"] == "COMPLIANCE"
    retention = _json(aws("get-object-retention", "--bucket", name, "--key", "k"))
    assert retention["Retention"]["Mode"] == "COMPLIANCE"
    aws("put-object-legal-hold", "--bucket", name, "--key", "k", "--legal-hold", "Status=ON")
    hold = _json(aws("get-object-legal-hold", "--bucket", name, "--key", "k"))
    assert hold["LegalHold"]["Status"] == "ON"
    later = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    aws("put-object-retention", "--bucket", name, "--key", "k",
        "--retention", f"Mode=COMPLIANCE,RetainUntilDate={later}")  # fmt: skip
    vid = head["VersionId"]
    refused = aws("delete-object", "--bucket", name, "--key", "k", "--version-id", vid, ok=False)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    sooner = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    shorter = aws("put-object-retention", "--bucket", name, "--key", "k",
                  "--retention", f"Mode=COMPLIANCE,RetainUntilDate={sooner}", ok=False)  # fmt: skip
    assert "AccessDenied" in shorter.stderr
    plain = f"cli{next(_names):04d}"
    aws("create-bucket", "--bucket", plain, "--create-bucket-configuration",
        "LocationConstraint=eu-only")  # fmt: skip
    missing = aws("get-object-lock-configuration", "--bucket", plain, ok=False)
    assert "ObjectLockConfigurationNotFoundError" in missing.stderr
    assert s3.head_object(Bucket=name, Key="k")["ObjectLockLegalHoldStatus"] == "ON"


@pytest.mark.slow  # the aws CLI: a Python process per command (make test runs it)
def test_awscli_lifecycle(aws: Any, s3: Any, plain: str) -> None:
    rules = {"Rules": [{"ID": "r", "Filter": {"Prefix": "a/"}, "Status": "Enabled",
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 9}}]}  # fmt: skip
    aws("put-bucket-lifecycle-configuration", "--bucket", plain,
        "--lifecycle-configuration", json.dumps(rules))  # fmt: skip
    got = _json(aws("get-bucket-lifecycle-configuration", "--bucket", plain))
    assert got["Rules"] == rules["Rules"]
    bad = {"Rules": [{"ID": "r", "Filter": {"Prefix": ""}, "Status": "Enabled",
                      "Expiration": {"Days": 1}}]}  # fmt: skip
    refused = aws("put-bucket-lifecycle-configuration", "--bucket", plain,
                  "--lifecycle-configuration", json.dumps(bad), ok=False)  # fmt: skip
    assert "NotImplemented" in refused.stderr
    aws("delete-bucket-lifecycle", "--bucket", plain)
    assert (
        "NoSuchLifecycleConfiguration"
        in aws("get-bucket-lifecycle-configuration", "--bucket", plain, ok=False).stderr
    )


def test_awscli_writes_with_lock_headers_and_the_bypass(aws: Any, live: Live, s3: Any) -> None:
    name = f"cli{next(_names):04d}"
    aws("create-bucket", "--bucket", name, "--object-lock-enabled-for-bucket",
        "--create-bucket-configuration", "LocationConstraint=eu-only")  # fmt: skip
    later = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    put = _json(aws("put-object", "--bucket", name, "--key", "gov", "--body", __file__,
                    "--object-lock-mode", "GOVERNANCE",
                    "--object-lock-retain-until-date", later))  # fmt: skip
    vid = put["VersionId"]
    assert s3.head_object(Bucket=name, Key="gov")["ObjectLockMode"] == "GOVERNANCE"
    copied = _json(aws("copy-object", "--bucket", name, "--key", "copy", "--copy-source",
                       f"{name}/gov", "--object-lock-legal-hold-status", "ON"))  # fmt: skip
    assert copied["VersionId"]
    assert s3.head_object(Bucket=name, Key="copy")["ObjectLockLegalHoldStatus"] == "ON"
    assert "ObjectLockMode" not in s3.head_object(Bucket=name, Key="copy")  # not the source's
    up = _json(aws("create-multipart-upload", "--bucket", name, "--key", "mp",
                   "--object-lock-mode", "COMPLIANCE",
                   "--object-lock-retain-until-date", later))  # fmt: skip
    assert up["UploadId"]
    aws("abort-multipart-upload", "--bucket", name, "--key", "mp", "--upload-id", up["UploadId"])
    suspend = aws("put-bucket-versioning", "--bucket", name, "--versioning-configuration",
                  "Status=Suspended", ok=False)  # fmt: skip
    assert "InvalidBucketState" in suspend.stderr
    plain_key = aws("delete-object", "--bucket", name, "--key", "gov", "--version-id", vid,
                    "--bypass-governance-retention", ok=False)  # fmt: skip
    assert "AccessDenied" in plain_key.stderr  # this key was not granted the bypass
    admin_env = {**c.aws_env(live, live.root / "aws-admin"),
                 "AWS_ACCESS_KEY_ID": ADMIN_KEY, "AWS_SECRET_ACCESS_KEY": ADMIN_SECRET}  # fmt: skip
    argv = [c.aws_command(), "--endpoint-url", live.endpoint, "s3api", "delete-object",
            "--bucket", name, "--key", "gov", "--version-id", vid,
            "--bypass-governance-retention"]  # fmt: skip
    c.run(argv, admin_env)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=name, Key="gov", VersionId=vid)


def test_the_gateway_sweep_applies_lifecycle_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domicile.engine import lifecycle

    with run_gateway(tmp_path, gateway="sweep_minutes = 0.005", tenants=TENANTS) as live:
        s3 = live.client()
        s3.create_bucket(
            Bucket="aging",
            CreateBucketConfiguration={"LocationConstraint": "eu-only"},
            ObjectLockEnabledForBucket=True,
        )
        held = s3.put_object(Bucket="aging", Key="k", Body=b"1", ObjectLockLegalHoldStatus="ON")
        free = s3.put_object(Bucket="aging", Key="k", Body=b"2")
        s3.put_object(Bucket="aging", Key="k", Body=b"3")
        rule = {"ID": "old", "Filter": {"Prefix": ""}, "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}  # fmt: skip
        s3.put_bucket_lifecycle_configuration(
            Bucket="aging", LifecycleConfiguration={"Rules": [rule]}
        )
        later = time.time() + 2 * 86_400
        monkeypatch.setattr(lifecycle, "clock", lambda: later)  # two days on, for the rules
        deadline = time.monotonic() + 10
        while True:
            ids = [v["VersionId"] for v in s3.list_object_versions(Bucket="aging")["Versions"]]
            if free["VersionId"] not in ids:
                break
            assert time.monotonic() < deadline, "the gateway's sweep never expired it"
            time.sleep(0.1)
        assert held["VersionId"] in ids and len(ids) == 2  # the held one stays
