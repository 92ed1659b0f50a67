"""Multipart uploads through a real gateway with boto3: every operation, S3's rules on
parts and ETags, and parts placed only on the policy's sites."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.engine.conftest import blob_files

#: Each test runs against a gateway on a SQLite and on a PostgreSQL catalog.
CATALOGS = ["sqlite", "postgresql"]

MiB = 1024 * 1024
PARTS = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(12345)]


def code_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def upload_parts(
    s3: Any, bucket: str, key: str, parts: list[bytes]
) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="video/mp4")[
        "UploadId"
    ]
    done = []
    for number, data in enumerate(parts, 1):
        answer = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
        )
        assert answer["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
        done.append({"PartNumber": number, "ETag": answer["ETag"]})
    return upload_id, done


def multipart_etag(parts: list[bytes]) -> str:
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return f'"{digest}-{len(parts)}"'


def test_create_upload_list_complete(live: Any, bucket: str) -> None:
    s3 = live.client()
    upload_id, done = upload_parts(s3, bucket, "movie.mp4", PARTS)
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("movie.mp4", upload_id)]
    listed = s3.list_parts(Bucket=bucket, Key="movie.mp4", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"]) for p in listed["Parts"]] == [
        (1, 5 * MiB),
        (2, 5 * MiB),
        (3, 12345),
    ]
    page = s3.list_parts(Bucket=bucket, Key="movie.mp4", UploadId=upload_id, MaxParts=2)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    rest = s3.list_parts(Bucket=bucket, Key="movie.mp4", UploadId=upload_id, PartNumberMarker=2)
    assert [p["PartNumber"] for p in rest["Parts"]] == [3]
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="movie.mp4")  # not visible before completion
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    result = s3.complete_multipart_upload(
        Bucket=bucket, Key="movie.mp4", UploadId=upload_id, MultipartUpload={"Parts": done}
    )
    assert result["ETag"] == multipart_etag(PARTS)
    got = s3.get_object(Bucket=bucket, Key="movie.mp4")
    assert got["Body"].read() == b"".join(PARTS)
    assert got["ETag"] == multipart_etag(PARTS) and got["ContentType"] == "video/mp4"
    edge = s3.get_object(Bucket=bucket, Key="movie.mp4", Range=f"bytes={5 * MiB - 3}-{5 * MiB + 2}")
    assert edge["Body"].read() == b"".join(PARTS)[5 * MiB - 3 : 5 * MiB + 3]
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)
    assert {c.site_id for c in live.engine.where(bucket, "movie.mp4")} == {"fr", "de"}
    assert blob_files(live.root, "us") == []


def test_abort_leaves_nothing(live: Any, bucket: str) -> None:
    s3 = live.client()
    before = {s: set(blob_files(live.root, s)) for s in ("fr", "de")}
    upload_id, _ = upload_parts(s3, bucket, "aborted", PARTS[:2])
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload_id)
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="aborted", UploadId=upload_id)
    assert code_of(exc) == ("NoSuchUpload", 404)
    live.engine.sweep(grace=0)
    assert {s: set(blob_files(live.root, s)) for s in ("fr", "de")} == before


def test_complete_checks_parts_etags_order_and_sizes(live: Any, bucket: str) -> None:
    s3 = live.client()
    upload_id, done = upload_parts(s3, bucket, "strict", [os.urandom(1000), os.urandom(6 * MiB)])

    def complete(parts: list[dict[str, Any]]) -> tuple[str, int]:
        with pytest.raises(ClientError) as exc:
            s3.complete_multipart_upload(
                Bucket=bucket, Key="strict", UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
        return code_of(exc)

    assert complete([done[0] | {"ETag": '"00000000000000000000000000000000"'}]) == (
        "InvalidPart",
        400,
    )
    assert complete([*done, {"PartNumber": 3, "ETag": done[0]["ETag"]}]) == ("InvalidPart", 400)
    assert complete([done[1], done[0]]) == ("InvalidPartOrder", 400)
    assert complete(done) == ("EntityTooSmall", 400)  # part 1 is under 5 MiB and not last
    assert s3.list_parts(Bucket=bucket, Key="strict", UploadId=upload_id)["Parts"]  # still there


def test_unknown_upload_and_bad_part_numbers(live: Any, bucket: str) -> None:
    s3 = live.client()
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="k", UploadId="nope", PartNumber=1, Body=b"x")
    assert code_of(exc) == ("NoSuchUpload", 404)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    for number in (0, 10001):
        with pytest.raises(ClientError) as exc:
            s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=b"x")
        assert code_of(exc) == ("InvalidArgument", 400)
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)


def test_reuploaded_part_replaces_the_old_one(live: Any, bucket: str) -> None:
    s3 = live.client()
    upload_id, _ = upload_parts(s3, bucket, "redo", [os.urandom(100)])
    again = os.urandom(200)
    etag = s3.upload_part(Bucket=bucket, Key="redo", UploadId=upload_id, PartNumber=1, Body=again)[
        "ETag"
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="redo",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    assert s3.get_object(Bucket=bucket, Key="redo")["Body"].read() == again


def test_upload_part_copy_with_a_range(live: Any, bucket: str) -> None:
    s3 = live.client()
    source = os.urandom(6 * MiB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{5 * MiB - 1}",
    )["CopyPartResult"]["ETag"]
    second = s3.upload_part(
        Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=2, Body=b"tail"
    )["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]
        },
    )
    got = s3.get_object(Bucket=bucket, Key="assembled")["Body"].read()
    assert got == source[: 5 * MiB] + b"tail"


def test_boto3_transfer_manager_multipart(live: Any, bucket: str, tmp_path: Any) -> None:
    from boto3.s3.transfer import TransferConfig

    s3 = live.client()
    data = os.urandom(21 * MiB)
    (tmp_path / "big.bin").write_bytes(data)
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB)
    s3.upload_file(str(tmp_path / "big.bin"), bucket, "big.bin", Config=config)
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')
    s3.download_file(bucket, "big.bin", str(tmp_path / "back.bin"), Config=config)
    assert (tmp_path / "back.bin").read_bytes() == data


@pytest.mark.parametrize("sweeps", [True, False])
def test_abandoned_uploads_are_swept_by_age(
    tmp_path: Any, sweeps: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domicile.engine import multipart
    from tests.gateway.live import run_gateway

    # Uploads expire at once and the gateway looks for them every 0.3 s; a gateway worker
    # that leaves the sweep to another (sweeps=False) never touches them. The uploads'
    # clock stands still while the upload is made (so no sweep can expire it half-made,
    # however slow the machine), then moves a second on.
    clock = [time.time_ns() // 1000]
    monkeypatch.setattr(multipart, "_now_us", lambda: clock[0])
    with run_gateway(
        tmp_path,
        gateway="sweep_minutes = 0.005",
        deployment_extra="multipart_expiry_hours = 0",
        sweeps=sweeps,
    ) as live:
        s3 = live.client()
        s3.create_bucket(
            Bucket="sweep-me", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
        )
        upload_id, _ = upload_parts(s3, "sweep-me", "left", [b"abandoned part"])
        clock[0] += 1_000_000  # now older than multipart_expiry_hours = 0
        if not sweeps:
            time.sleep(1.5)  # five sweep periods
            assert len(s3.list_multipart_uploads(Bucket="sweep-me")["Uploads"]) == 1
            return
        deadline = time.monotonic() + 10
        while s3.list_multipart_uploads(Bucket="sweep-me").get("Uploads"):
            assert time.monotonic() < deadline, "the abandoned upload was never swept"
            time.sleep(0.1)
        with pytest.raises(ClientError) as exc:
            s3.list_parts(Bucket="sweep-me", Key="left", UploadId=upload_id)
        assert code_of(exc) == ("NoSuchUpload", 404)
        # The gateway's own sweep may still be deleting the part's blobs (it aborted the
        # upload first): sweep until nothing is left, within the deadline.
        while True:
            live.engine.sweep(grace=0)
            left = blob_files(live.root, "fr") + blob_files(live.root, "de")
            if not left:
                break
            assert time.monotonic() < deadline, f"blobs left behind: {left}"
            time.sleep(0.1)
