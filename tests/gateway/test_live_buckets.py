"""Bucket operations through a real gateway with boto3: policies as location constraints,
tenants that see only their own buckets, S3's naming and emptiness rules."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.live import OTHER_KEY, OTHER_SECRET


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def test_create_bucket_binds_the_policy_named_as_location(live: Any) -> None:
    s3 = live.client()
    s3.create_bucket(Bucket="eu-data", CreateBucketConfiguration={"LocationConstraint": "eu-only"})
    assert s3.get_bucket_location(Bucket="eu-data")["LocationConstraint"] == "eu-only"
    assert live.engine.bucket("eu-data").policy == "eu-only"
    assert live.engine.bucket("eu-data").tenant == "acme"
    head = s3.head_bucket(Bucket="eu-data")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-only"


def test_unknown_policy_is_refused_with_the_known_ones(live: Any) -> None:
    with pytest.raises(ClientError) as exc:
        live.client().create_bucket(
            Bucket="mars-data", CreateBucketConfiguration={"LocationConstraint": "mars"}
        )
    code, status, message = error_of(exc)
    assert (code, status) == ("InvalidLocationConstraint", 400)
    assert "mars" in message and "eu-only" in message
    assert all(b.name != "mars-data" for b in live.engine.list_buckets())


def test_unsatisfiable_policy_is_refused_with_a_reason_per_site(live: Any) -> None:
    with pytest.raises(ClientError) as exc:
        live.client().create_bucket(
            Bucket="ch-data", CreateBucketConfiguration={"LocationConstraint": "ch-only"}
        )
    code, status, message = error_of(exc)
    assert (code, status) == ("InvalidLocationConstraint", 400)
    assert "ch-only" in message
    for site in ("fr", "de", "us", "ch"):
        assert f"{site}:" in message
    assert "suspended" in message
    assert all(b.name != "ch-data" for b in live.engine.list_buckets())


def test_without_location_the_choice_is_refused_when_ambiguous(live: Any) -> None:
    with pytest.raises(ClientError) as exc:
        live.client().create_bucket(Bucket="no-location")
    code, _, message = error_of(exc)
    assert code == "InvalidLocationConstraint"
    assert "LocationConstraint" in message


def test_tenants_see_only_their_own_buckets(live: Any) -> None:
    mine, theirs = live.client(), live.client(OTHER_KEY, OTHER_SECRET)
    mine.create_bucket(
        Bucket="acme-only", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
    )
    theirs.create_bucket(
        Bucket="globex-only", CreateBucketConfiguration={"LocationConstraint": "fr-only"}
    )
    names = {b["Name"] for b in mine.list_buckets()["Buckets"]}
    assert "acme-only" in names and "globex-only" not in names
    assert {b["Name"] for b in theirs.list_buckets()["Buckets"]} == {"globex-only"}
    for call in (
        lambda: theirs.head_bucket(Bucket="acme-only"),
        lambda: theirs.list_objects_v2(Bucket="acme-only"),
        lambda: theirs.put_object(Bucket="acme-only", Key="x", Body=b"intrusion"),
        lambda: theirs.delete_bucket(Bucket="acme-only"),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert live.engine.list("acme-only").objects == []
    with pytest.raises(ClientError) as exc:
        theirs.create_bucket(
            Bucket="acme-only", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
        )
    assert error_of(exc)[:2] == ("BucketAlreadyExists", 409)
    with pytest.raises(ClientError) as exc:
        mine.create_bucket(
            Bucket="acme-only", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
        )
    assert error_of(exc)[:2] == ("BucketAlreadyOwnedByYou", 409)


@pytest.mark.parametrize(
    "name", ["ab", "Upper-Case", "bad..dots", "192.168.1.1", "-dash", "x" * 64]
)
def test_bucket_names_follow_s3_rules(live: Any, name: str) -> None:
    s3 = live.client(s3={"addressing_style": "path"}, parameter_validation=False)
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-only"})
    assert error_of(exc)[:2] == ("InvalidBucketName", 400)


def test_delete_bucket_only_when_empty(live: Any, bucket: str) -> None:
    s3 = live.client()
    s3.put_object(Bucket=bucket, Key="keep", Body=b"data")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert error_of(exc)[:2] == ("BucketNotEmpty", 409)
    s3.delete_object(Bucket=bucket, Key="keep")
    s3.delete_bucket(Bucket=bucket)
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=bucket)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=bucket)
    assert error_of(exc)[:2] == ("NoSuchBucket", 404)


def test_versioning_is_reported_off(live: Any, bucket: str) -> None:
    answer = live.client().get_bucket_versioning(Bucket=bucket)
    assert "Status" not in answer


def test_unsupported_subresources_say_so(live: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        live.client().get_bucket_tagging(Bucket=bucket)
    code, status, message = error_of(exc)
    assert (code, status) == ("NotImplemented", 501)
    assert "tagging" in message
