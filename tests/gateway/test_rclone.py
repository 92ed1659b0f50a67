"""rclone (the Debian package, v1.60) against the gateway, over HTTP and over HTTPS with the
test's self-signed certificate (``--ca-cert``). The remote ``gw:`` is configured by
environment variables only; ``LOCATION_CONSTRAINT`` carries the residency policy."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from domicile.errors import BucketNotFound
from tests.gateway import clients as c
from tests.gateway.live import Live, run_gateway

MiB = 1024 * 1024
#: One attempt per operation: a failure shows instead of being retried away.
FLAGS = ("--retries", "1", "--low-level-retries", "1")
#: Over this size rclone uploads in parts of this size (12 MiB: three parts).
MULTIPART = ("--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M")


@dataclass
class Rclone:
    """``rclone [--ca-cert <cert>] ...`` with the ``gw:`` remote in its environment."""

    live: Live
    env: dict[str, str]

    def __call__(
        self, *args: str, ok: bool | None = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        tls = ["--ca-cert", str(self.live.cert)] if self.live.cert else []
        argv = [c.require("rclone", "apt-get install rclone"), *FLAGS, *tls, *args]
        return c.run(argv, self.env if env is None else env, ok=ok)

    def files(self, remote: str) -> list[str]:
        return sorted(self("lsf", "-R", "--files-only", remote).stdout.splitlines())


@pytest.fixture(scope="module", params=["http", "https"])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    root = tmp_path_factory.mktemp(f"rclone-{request.param}")
    with run_gateway(root / "deployment", tls=request.param == "https") as gateway:
        yield gateway


@pytest.fixture(scope="module")
def rclone(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Rclone:
    return Rclone(live, c.rclone_env(live, tmp_path_factory.mktemp("rclone-home")))


@pytest.fixture
def bucket(rclone: Rclone) -> str:
    name = c.unique("rc")
    rclone("mkdir", f"gw:{name}")
    return name


def test_mkdir_creates_the_bucket_under_its_policy(
    rclone: Rclone, live: Live, tmp_path: Path
) -> None:
    name = c.unique("rc")
    rclone("mkdir", f"gw:{name}")
    assert live.engine.bucket(name).policy == "eu-only"
    assert f"{name}/" in rclone("lsf", "gw:").stdout.splitlines()

    refused = c.unique("rc")
    env = c.rclone_env(live, tmp_path, location_constraint="nowhere")
    failed = rclone("mkdir", f"gw:{refused}", env=env, ok=False)
    assert "InvalidLocationConstraint" in failed.stderr and "nowhere" in failed.stderr
    with pytest.raises(BucketNotFound):
        live.engine.bucket(refused)


def test_copy_check_and_copy_back(rclone: Rclone, live: Live, bucket: str, tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    tree = c.make_tree(src)
    rclone("copy", str(src), f"gw:{bucket}/tree")
    assert rclone.files(f"gw:{bucket}/tree") == sorted(tree)
    sizes = rclone("ls", f"gw:{bucket}").stdout.splitlines()
    assert sorted(line.split(maxsplit=1)[1] for line in sizes) == sorted(f"tree/{n}" for n in tree)
    assert all(int(line.split()[0]) == len(tree[line.split(maxsplit=1)[1][5:]]) for line in sizes)

    checked = rclone("check", str(src), f"gw:{bucket}/tree").stderr
    assert "0 differences found" in checked and f"{len(tree)} matching files" in checked

    rclone("copy", f"gw:{bucket}/tree", str(dst))
    assert c.read_tree(dst) == tree
    c.assert_resident(live, bucket, [f"tree/{name}" for name in tree])
    c.assert_sealed(live, [s for data in tree.values() for s in c.samples_of(data)])


def test_check_detects_local_changes(rclone: Rclone, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    tree = c.make_tree(src)
    rclone("copy", str(src), f"gw:{bucket}")
    changed = bytearray(tree["café/naïve ü.txt"])
    changed[10] ^= 0x01  # same size: only the MD5 (the ETag) can tell
    (src / "café" / "naïve ü.txt").write_bytes(changed)
    (src / "percent" / "new 100%.txt").write_bytes(b"only here\n")

    failed = rclone("check", str(src), f"gw:{bucket}", ok=False).stderr
    assert "2 differences found" in failed
    assert "café/naïve ü.txt: md5 differ" in failed
    assert "percent/new 100%.txt: file not in" in failed


def test_sync_deletes_what_is_gone_locally(
    rclone: Rclone, live: Live, bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    tree = c.make_tree(src)
    rclone("sync", str(src), f"gw:{bucket}")
    for name in ("top.txt", "percent/100% done.txt", "deep/er/still deeper/leaf.txt"):
        (src / name).unlink()
    (src / "日本語" / "ファイル 1.txt").write_bytes(b"replaced, and longer than before\n" * 9)
    (src / "new+file.txt").write_bytes(b"new\n")
    rclone("sync", str(src), f"gw:{bucket}")

    now = c.read_tree(src)
    assert rclone.files(f"gw:{bucket}") == sorted(now)
    assert sorted(o.key for o in live.engine.list(bucket).objects) == sorted(now)
    assert "0 differences found" in rclone("check", str(src), f"gw:{bucket}").stderr
    assert len(now) == len(tree) - 2


def test_a_file_over_the_cutoff_goes_multipart(
    rclone: Rclone, live: Live, bucket: str, tmp_path: Path
) -> None:
    big = tmp_path / "src" / "big file+.bin"
    big.parent.mkdir()
    digest, samples = c.write_random(big, 12 * MiB)
    rclone("copy", *MULTIPART, str(big.parent), f"gw:{bucket}")

    info = live.engine.head(bucket, big.name)
    assert info.size == 12 * MiB and info.etag.endswith("-3")
    assert live.engine.list_uploads(bucket).uploads == []
    # rclone keeps the whole file's MD5 in its metadata, which check and md5sum compare.
    assert "0 differences found" in rclone("check", str(big.parent), f"gw:{bucket}").stderr
    md5 = rclone("md5sum", f"gw:{bucket}/{big.name}").stdout.split()[0]
    assert md5 == c.md5(big.read_bytes())

    rclone("copyto", f"gw:{bucket}/{big.name}", str(tmp_path / "back.bin"))
    assert c.sha256(tmp_path / "back.bin") == digest
    c.assert_resident(live, bucket, [big.name])
    c.assert_sealed(live, samples)


def test_wrong_credentials_get_the_s3_error(
    rclone: Rclone, live: Live, bucket: str, tmp_path: Path
) -> None:
    wrong = c.rclone_env(live, tmp_path / "a", secret_access_key="not the secret")
    assert "SignatureDoesNotMatch" in rclone("lsf", f"gw:{bucket}", env=wrong, ok=False).stderr
    unknown = c.rclone_env(live, tmp_path / "b", access_key_id="AKIDNOBODY")
    assert "InvalidAccessKeyId" in rclone("lsf", f"gw:{bucket}", env=unknown, ok=False).stderr


def test_versions_listing_and_purge(
    rclone: Rclone, live: Live, bucket: str, tmp_path: Path
) -> None:
    """``--s3-versions`` lists through ListObjectVersions: each object once, under its own
    name (a latest version has no version suffix); ``purge`` then removes the bucket."""
    src = tmp_path / "src"
    tree = c.make_tree(src)
    rclone("copy", str(src), f"gw:{bucket}/v")
    assert rclone.files(f"gw:{bucket}/v") == sorted(tree)
    listed = rclone("lsf", "-R", "--files-only", "--s3-versions", f"gw:{bucket}/v").stdout
    assert sorted(listed.splitlines()) == sorted(tree)
    served = [
        sample
        for metric in live.gateway.metrics.registry.collect()
        if metric.name == "domicile_s3_requests"
        for sample in metric.samples
        if sample.labels.get("operation") == "ListObjectVersions"
    ]
    assert served and all(s.labels["status"] == "200" for s in served)
    rclone("purge", f"gw:{bucket}")
    with pytest.raises(BucketNotFound):
        live.engine.bucket(bucket)


def test_versioning_backend_commands_and_old_versions(
    rclone: Rclone, live: Live, bucket: str, tmp_path: Path
) -> None:
    """``backend versioning`` sets and reads the status (PutBucketVersioning,
    GetBucketVersioning); ``--s3-versions`` lists the noncurrent version under its
    time-stamped name and reads it; ``delete`` leaves a delete marker that hides the file;
    ``backend cleanup-hidden`` removes every noncurrent version and marker."""
    assert rclone("backend", "versioning", f"gw:{bucket}").stdout.strip() == "Unversioned"
    enabled = rclone("backend", "versioning", f"gw:{bucket}", "Enabled").stdout.strip()
    assert enabled == "Enabled" and live.engine.versioning(bucket) == "Enabled"
    (tmp_path / "f.txt").write_bytes(b"first")
    rclone("copyto", str(tmp_path / "f.txt"), f"gw:{bucket}/f.txt")
    (tmp_path / "f.txt").write_bytes(b"second!")
    rclone("copyto", str(tmp_path / "f.txt"), f"gw:{bucket}/f.txt")
    assert rclone.files(f"gw:{bucket}") == ["f.txt"]
    listed = sorted(rclone("lsf", "--s3-versions", f"gw:{bucket}").stdout.splitlines())
    assert len(listed) == 2 and listed[1] == "f.txt"
    old = listed[0]
    assert old.startswith("f-v") and old.endswith(".txt")
    assert rclone("cat", "--s3-versions", f"gw:{bucket}/{old}").stdout == "first"
    rclone("delete", f"gw:{bucket}/f.txt")
    assert rclone.files(f"gw:{bucket}") == []
    assert len(rclone("lsf", "--s3-versions", f"gw:{bucket}").stdout.splitlines()) == 2
    rclone("backend", "cleanup-hidden", f"gw:{bucket}")
    assert live.engine.list_versions(bucket).versions == []
    rclone("rmdir", f"gw:{bucket}")
    with pytest.raises(BucketNotFound):
        live.engine.bucket(bucket)
