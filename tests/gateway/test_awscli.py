"""The aws CLI (awscli v1 on current botocore) against the gateway, over HTTP and over HTTPS
with a self-signed certificate: over HTTPS botocore sends aws-chunked bodies
(``STREAMING-UNSIGNED-PAYLOAD-TRAILER``, ``Transfer-Encoding: chunked``, a CRC32 trailer),
over HTTP plain bodies with an ``x-amz-checksum-crc32`` header. Every upload is checked on
the deployment too: copies on the policy's sites only, ciphertext only."""

from __future__ import annotations

import base64
import json
import subprocess
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from domicile.errors import BucketNotFound, ObjectNotFound
from tests.engine.conftest import blob_files
from tests.gateway import clients as c
from tests.gateway.live import Live, run_gateway

#: A Python process per aws command: the suite takes minutes, so make check leaves it to
#: make test (test_serve.py drives the aws CLI in make check too).
pytestmark = pytest.mark.slow

MiB = 1024 * 1024


@dataclass
class Aws:
    """``aws --endpoint-url <gateway> [--ca-bundle <cert>] ...`` in a private environment."""

    live: Live
    env: dict[str, str]

    def argv(self, *args: str) -> list[str]:
        tls = ["--ca-bundle", str(self.live.cert)] if self.live.cert else []
        return [c.aws_command(), "--endpoint-url", self.live.endpoint, *tls, *args]

    def __call__(self, *args: str, ok: bool | None = True) -> subprocess.CompletedProcess[str]:
        return c.run(self.argv(*args), self.env, ok=ok)

    def api(self, *args: str) -> Any:
        out = self("s3api", *args).stdout
        return json.loads(out) if out.strip() else {}

    def ls(self, *args: str) -> list[str]:
        """The names ``aws s3 ls`` prints (``PRE x/`` lines as ``x/``)."""
        names = []
        for line in self("s3", "ls", *args).stdout.splitlines():
            first, _, rest = line.strip().partition(" ")
            names.append(rest.strip() if first == "PRE" else line.split(maxsplit=3)[3])
        return sorted(names)


@pytest.fixture(scope="module", params=["http", "https"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    root = tmp_path_factory.mktemp(f"awscli-{request.param}")
    with run_gateway(root / "deployment", tls=request.param == "https") as gateway:
        yield gateway


@pytest.fixture(scope="module")
def aws(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Aws:
    return Aws(live, c.aws_env(live, tmp_path_factory.mktemp("aws-home")))


@pytest.fixture
def bucket(live: Live) -> str:
    """A fresh eu-only bucket, made with boto3: every aws CLI start costs most of a second."""
    name = c.unique("cli")
    live.client().create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-only"}
    )
    return name


def test_mb_takes_the_policy_as_region_and_location_returns_it(aws: Aws, live: Live) -> None:
    name = c.unique("mb")
    assert aws("s3", "mb", f"s3://{name}", "--region", "eu-only").stdout.strip() == (
        f"make_bucket: {name}"
    )
    location = aws.api("get-bucket-location", "--bucket", name)
    assert location["LocationConstraint"] == "eu-only"
    assert live.engine.bucket(name).policy == "eu-only"
    assert [line for line in aws("s3", "ls").stdout.splitlines() if line.endswith(f" {name}")]

    refused = c.unique("mb")
    failed = aws("s3", "mb", f"s3://{refused}", "--region", "nowhere", ok=False)
    assert "InvalidLocationConstraint" in failed.stderr
    assert "'nowhere'" in failed.stderr and "eu-only" in failed.stderr
    with pytest.raises(BucketNotFound):
        live.engine.bucket(refused)


def test_cp_up_and_down_with_head_and_ranges(
    aws: Aws, live: Live, bucket: str, tmp_path: Path
) -> None:
    data = c.make_tree(tmp_path / "up", ["small.txt"])["small.txt"]
    key = "dir/a b+c%d é.txt"
    url = f"s3://{bucket}/{key}"
    sent = aws("--debug", "s3", "cp", "--no-progress", str(tmp_path / "up" / "small.txt"), url)
    assert sent.stdout.startswith("upload:")
    # What the premise of the HTTP/HTTPS split is: botocore's choice of body per scheme.
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    if live.cert:
        assert "'X-Amz-Content-SHA256': b'STREAMING-UNSIGNED-PAYLOAD-TRAILER'" in sent.stderr
        assert "'X-Amz-Trailer': b'x-amz-checksum-crc32'" in sent.stderr
    else:
        assert f"'x-amz-checksum-crc32': b'{crc}'" in sent.stderr
    assert f"'x-amz-checksum-crc32': '{crc}'" in sent.stderr  # returned by the gateway
    aws("s3", "cp", "--no-progress", url, str(tmp_path / "down.txt"))
    assert (tmp_path / "down.txt").read_bytes() == data

    head = aws.api("head-object", "--bucket", bucket, "--key", key)
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == f'"{c.md5(data)}"'
    assert head["ContentType"] == "text/plain"

    ranged = aws.api(
        "get-object", "--bucket", bucket, "--key", key, "--range", "bytes=5-14", str(tmp_path / "r")
    )
    assert (tmp_path / "r").read_bytes() == data[5:15]
    assert ranged["ContentRange"] == f"bytes 5-14/{len(data)}"
    aws.api(
        "get-object", "--bucket", bucket, "--key", key, "--range", "bytes=-7", str(tmp_path / "s")
    )
    assert (tmp_path / "s").read_bytes() == data[-7:]

    c.assert_resident(live, bucket, [key])
    c.assert_sealed(live, c.samples_of(data))


@pytest.mark.slow
def test_cp_100_mib_goes_multipart_and_comes_back_whole(
    aws: Aws, live: Live, bucket: str, tmp_path: Path
) -> None:
    size = 100 * MiB
    digest, samples = c.write_random(tmp_path / "big.bin", size)
    aws("s3", "cp", "--no-progress", str(tmp_path / "big.bin"), f"s3://{bucket}/big.bin")

    head = aws.api("head-object", "--bucket", bucket, "--key", "big.bin")
    assert head["ContentLength"] == size
    assert head["ETag"].endswith('-13"')  # 8 MiB parts: the CLI's default chunk size
    assert live.engine.list_uploads(bucket).uploads == []

    aws("s3", "cp", "--no-progress", f"s3://{bucket}/big.bin", str(tmp_path / "back.bin"))
    assert c.sha256(tmp_path / "back.bin") == digest
    c.assert_resident(live, bucket, ["big.bin"])
    c.assert_sealed(live, samples)


def test_sync_both_ways_then_nothing_to_do(
    aws: Aws, live: Live, bucket: str, tmp_path: Path
) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree = c.make_tree(src)
    url = f"s3://{bucket}/tree"
    up = aws("s3", "sync", "--no-progress", str(src), url).stdout.splitlines()
    assert len(up) == len(tree) and all(line.startswith("upload:") for line in up)
    assert aws("s3", "sync", "--no-progress", str(src), url).stdout == ""

    down = aws("s3", "sync", "--no-progress", url, str(dst)).stdout.splitlines()
    assert len(down) == len(tree) and all(line.startswith("download:") for line in down)
    assert c.read_tree(dst) == tree
    assert aws("s3", "sync", "--no-progress", url, str(dst)).stdout == ""

    (src / "top.txt").unlink()
    deleted = aws("s3", "sync", "--no-progress", "--delete", str(src), url).stdout
    assert deleted.strip() == f"delete: {url}/top.txt"
    assert aws.ls("--recursive", f"s3://{bucket}/") == sorted(
        f"tree/{name}" for name in tree if name != "top.txt"
    )
    c.assert_resident(live, bucket, [f"tree/{name}" for name in c.TREE[1:]])
    c.assert_sealed(live, [s for data in tree.values() for s in c.samples_of(data)])


def test_ls_recursive_and_by_prefix(aws: Aws, bucket: str, tmp_path: Path) -> None:
    tree = c.make_tree(tmp_path / "src")
    aws("s3", "cp", "--recursive", "--no-progress", str(tmp_path / "src"), f"s3://{bucket}/t/")
    assert aws.ls("--recursive", f"s3://{bucket}") == sorted(f"t/{name}" for name in tree)
    folders = {name.split("/")[0] + "/" for name in tree if "/" in name}
    assert aws.ls(f"s3://{bucket}/t/") == sorted([*folders, "top.txt"])
    assert aws.ls(f"s3://{bucket}/t/percent/") == ["%41%2F%zz.txt", "100% done.txt"]
    assert aws.ls(f"s3://{bucket}/t/p") == ["percent/", "plus+sign/"]
    assert aws.ls("--recursive", f"s3://{bucket}/t/日本") == ["t/日本語/ファイル 1.txt"]


def test_rm_single_and_recursive(aws: Aws, live: Live, bucket: str, tmp_path: Path) -> None:
    tree = c.make_tree(tmp_path / "src")
    aws("s3", "sync", "--no-progress", str(tmp_path / "src"), f"s3://{bucket}")
    assert aws("s3", "rm", f"s3://{bucket}/top.txt").stdout.strip() == (
        f"delete: s3://{bucket}/top.txt"
    )
    with pytest.raises(ObjectNotFound):
        live.engine.head(bucket, "top.txt")

    out = aws("s3", "rm", "--recursive", f"s3://{bucket}/percent/").stdout.splitlines()
    assert sorted(out) == sorted(
        f"delete: s3://{bucket}/{n}" for n in tree if n.startswith("percent/")
    )
    assert "BucketNotEmpty" in aws("s3", "rb", f"s3://{bucket}", ok=False).stderr

    aws("s3", "rm", "--recursive", f"s3://{bucket}")
    assert live.engine.list(bucket).objects == []
    aws("s3", "rb", f"s3://{bucket}")
    with pytest.raises(BucketNotFound):
        live.engine.bucket(bucket)


def test_bad_input_gets_the_s3_error(aws: Aws, live: Live, bucket: str, tmp_path: Path) -> None:
    wrong = c.run(
        aws.argv("s3", "ls", f"s3://{bucket}"), aws.env | {"AWS_SECRET_ACCESS_KEY": "x"}, ok=False
    )
    assert "SignatureDoesNotMatch" in wrong.stderr
    unknown = c.run(aws.argv("s3", "ls"), aws.env | {"AWS_ACCESS_KEY_ID": "AKIDNOBODY"}, ok=False)
    assert "InvalidAccessKeyId" in unknown.stderr

    odd = c.make_tree(tmp_path / "odd", ["q?x=1&y", "h#frag", "%2e%2e/literal", "trailing."])
    aws("s3", "sync", "--no-progress", str(tmp_path / "odd"), f"s3://{bucket}")
    local = str(tmp_path / "odd" / "h#frag")
    aws("s3", "cp", "--no-progress", local, f"s3://{bucket}/a//double.txt")
    refused = aws("s3", "cp", "--no-progress", local, f"s3://{bucket}/a/../b.txt", ok=False)
    assert "InvalidArgument" in refused.stderr and "'..'" in refused.stderr
    assert aws.ls("--recursive", f"s3://{bucket}") == sorted([*odd, "a//double.txt"])
    aws("s3", "cp", "--no-progress", f"s3://{bucket}/a//double.txt", str(tmp_path / "g"))
    assert (tmp_path / "g").read_bytes() == odd["h#frag"]


def test_killed_multipart_upload_leaves_nothing_after_the_sweep(
    live: Live, bucket: str, tmp_path: Path
) -> None:
    """A client killed mid-upload: no object appears, the sweep leaves no orphan blob."""
    slow = "    multipart_threshold = 5MB\n    multipart_chunksize = 5MB\n"
    slow += "    max_concurrent_requests = 1\n    max_bandwidth = 8MB/s\n"
    aws = Aws(live, c.aws_env(live, tmp_path / "home", config=slow))
    c.write_random(tmp_path / "big.bin", 40 * MiB)
    before = {site: blob_files(live.root, site) for site in c.SITES}
    client = live.client()
    argv = aws.argv("s3", "cp", "--no-progress", str(tmp_path / "big.bin"), f"s3://{bucket}/k")
    with subprocess.Popen(
        argv, env=aws.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    ) as proc:
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proc.poll() is None:
                uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
                if uploads and client.list_parts(
                    Bucket=bucket, Key="k", UploadId=uploads[0]["UploadId"]
                ).get("Parts"):
                    break
                time.sleep(0.05)
        finally:
            proc.kill()
    assert proc.returncode != 0, "the upload ended before a part was seen: too fast to kill"
    deadline = time.monotonic() + 10
    while live.gateway.in_flight and time.monotonic() < deadline:
        time.sleep(0.05)

    assert "Contents" not in client.list_objects_v2(Bucket=bucket)
    assert len(client.list_multipart_uploads(Bucket=bucket)["Uploads"]) == 1
    assert live.engine.sweep_uploads(older_than=0) == 1
    assert "Uploads" not in client.list_multipart_uploads(Bucket=bucket)
    assert {site: blob_files(live.root, site) for site in c.SITES} == before


def test_list_object_versions_then_delete_them_empties_the_bucket(
    aws: Aws, live: Live, bucket: str
) -> None:
    """The aws CLI's way to empty a bucket: list-object-versions (paginated by the CLI),
    then delete-objects with each key and VersionId, then rb."""
    s3 = live.client()
    for i in range(5):
        s3.put_object(Bucket=bucket, Key=f"dir/{i}", Body=b"x")
    listed = aws.api(
        "list-object-versions", "--bucket", bucket, "--page-size", "2",
        "--query", "{Objects: Versions[].{Key: Key, VersionId: VersionId}}",
    )  # fmt: skip
    assert listed["Objects"] == [{"Key": f"dir/{i}", "VersionId": "null"} for i in range(5)]
    done = aws.api("delete-objects", "--bucket", bucket, "--delete", json.dumps(listed))
    assert sorted(d["Key"] for d in done["Deleted"]) == [f"dir/{i}" for i in range(5)]
    assert "Errors" not in done
    assert aws.api("list-object-versions", "--bucket", bucket).get("Versions") is None
    aws("s3", "rb", f"s3://{bucket}")
    with pytest.raises(BucketNotFound):
        live.engine.bucket(bucket)


def test_versioning_with_s3api(aws: Aws, live: Live, bucket: str, tmp_path: Path) -> None:
    """put/get-bucket-versioning, versions on put, a delete marker, reads, copies and
    deletes by --version-id, list-object-versions with markers, then emptying the bucket
    of every version and marker."""
    assert aws.api("get-bucket-versioning", "--bucket", bucket) == {}
    aws.api(
        "put-bucket-versioning", "--bucket", bucket,
        "--versioning-configuration", "Status=Enabled",
    )  # fmt: skip
    assert aws.api("get-bucket-versioning", "--bucket", bucket)["Status"] == "Enabled"
    (tmp_path / "one").write_bytes(b"one")
    (tmp_path / "two").write_bytes(b"two")
    one = aws.api("put-object", "--bucket", bucket, "--key", "k", "--body", str(tmp_path / "one"))
    two = aws.api("put-object", "--bucket", bucket, "--key", "k", "--body", str(tmp_path / "two"))
    assert one["VersionId"] != two["VersionId"]
    got = aws.api(
        "get-object", "--bucket", bucket, "--key", "k",
        "--version-id", one["VersionId"], str(tmp_path / "got"),
    )  # fmt: skip
    assert (tmp_path / "got").read_bytes() == b"one" and got["VersionId"] == one["VersionId"]
    no_null = aws(
        "s3api", "head-object", "--bucket", bucket, "--key", "k", "--version-id", "null", ok=False
    )
    assert "404" in no_null.stderr  # versioned from its first object: no null version
    copied = aws.api(
        "copy-object", "--bucket", bucket, "--key", "c",
        "--copy-source", f"{bucket}/k?versionId={one['VersionId']}",
    )  # fmt: skip
    assert copied["CopySourceVersionId"] == one["VersionId"]
    marker = aws.api("delete-object", "--bucket", bucket, "--key", "k")
    assert marker["DeleteMarker"] is True
    failed = aws("s3api", "head-object", "--bucket", bucket, "--key", "k", ok=False)
    assert "404" in failed.stderr
    listed = aws.api("list-object-versions", "--bucket", bucket, "--prefix", "k")
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == [marker["VersionId"]]
    assert [v["VersionId"] for v in listed["Versions"]] == [two["VersionId"], one["VersionId"]]
    removed = aws.api(
        "delete-object", "--bucket", bucket, "--key", "k", "--version-id", marker["VersionId"]
    )
    assert removed == {"DeleteMarker": True, "VersionId": marker["VersionId"]}
    assert aws.api("head-object", "--bucket", bucket, "--key", "k")["VersionId"] == two["VersionId"]
    everything = aws.api(
        "list-object-versions", "--bucket", bucket, "--page-size", "1",
        "--query", "{Objects: [Versions, DeleteMarkers][][].{Key: Key, VersionId: VersionId}}",
    )  # fmt: skip
    assert len(everything["Objects"]) == 3
    done = aws.api("delete-objects", "--bucket", bucket, "--delete", json.dumps(everything))
    assert "Errors" not in done and len(done["Deleted"]) == 3
    aws("s3", "rb", f"s3://{bucket}")
    with pytest.raises(BucketNotFound):
        live.engine.bucket(bucket)
