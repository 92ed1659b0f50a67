"""An S3 site's writer killed mid-upload leaves a multipart upload that the sweep aborts,
on both real servers; uploads that are young, outside the prefix or not blobs stay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from .conftest import Bucket
from .test_s3_site import Maker, pending_uploads

MiB = 1024 * 1024

# S3Site.put of a blob larger than a part, whose chunks stall after 6 MiB: part 1 is
# uploaded, the upload stays open until the process is killed.
STALLED_PUT = """
import sys, time
from domicile.sites.s3 import S3Site
endpoint, bucket, access, secret, region = sys.argv[1:6]
site = S3Site("s3", endpoint=endpoint, bucket=bucket, prefix="dom/", access_key=access,
              secret_key=secret, region=region, part_size=5 * 1024 * 1024, attempts=2)
def chunks():
    for _ in range(6):
        yield b"k" * (1024 * 1024)
    print("stalled", flush=True)
    time.sleep(600)
site.put("bkilled", chunks())
"""


def _parts_uploaded(bucket: Bucket, key: str) -> bool:
    for upload in bucket.client.list_multipart_uploads(Bucket=bucket.name).get("Uploads", []):
        if upload["Key"] == key:
            parts = bucket.client.list_parts(
                Bucket=bucket.name, Key=key, UploadId=upload["UploadId"]
            )
            return bool(parts.get("Parts"))
    return False


def test_the_upload_of_a_killed_writer_is_aborted_by_the_sweep(
    make_site: Maker, bucket: Bucket
) -> None:
    creds = bucket.server.credentials
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            STALLED_PUT,
            creds.endpoint,
            bucket.name,
            creds.access_key,
            creds.secret_key,
            creds.region,
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "stalled"
        deadline = time.monotonic() + 60
        while not _parts_uploaded(bucket, "dom/bkilled"):
            assert time.monotonic() < deadline, "part 1 never arrived"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    # Uploads the sweep must leave: another tool's (outside the prefix, or not a blob id).
    for key in ("other/bforeign", "dom/notes/readme"):
        bucket.client.create_multipart_upload(Bucket=bucket.name, Key=key)
    assert sorted(pending_uploads(bucket)) == ["dom/bkilled", "dom/notes/readme", "other/bforeign"]
    site = make_site(prefix="dom/", part_size=5 * MiB)
    assert site.sweep_temp(3600) == []  # begun a moment ago: a live writer, perhaps
    time.sleep(1.1)  # servers may keep whole seconds
    [listed] = site.sweep_temp(0, dry_run=True)
    assert listed.name.startswith("bkilled/") and listed.size == 5 * MiB
    assert "dom/bkilled" in pending_uploads(bucket)
    [aborted] = site.sweep_temp(0)
    assert aborted == listed
    assert sorted(pending_uploads(bucket)) == ["dom/notes/readme", "other/bforeign"]
    assert list(site.list()) == []  # nothing was completed either
    assert site.sweep_temp(0) == []
