"""What only an S3 site must get right, on both real servers: multipart uploads and their
abort, ranges on age chunk edges, long listings, blobs removed behind our back, refused
credentials, missing buckets, unreachable endpoints and TLS with a custom CA."""

from __future__ import annotations

import logging
import socket
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from testbed.servers import SwiftServer

from domicile.errors import (
    BlobNotFound,
    SiteAccessDenied,
    SiteError,
    SiteUnavailable,
)
from domicile.sites import BlobInfo
from domicile.sites.s3 import S3Site

from ..sites.conformance import Boom, payload, read
from .conftest import Bucket

MiB = 1024 * 1024
AGE_CHUNK = 65536 + 16  # one age STREAM chunk on disk: 64 KiB of plaintext and its tag

Maker = Callable[..., S3Site]


def stream(size: int, piece: int = 256 * 1024, seed: int = 0) -> Iterator[bytes]:
    """``size`` deterministic bytes in pieces, generated on the fly (never held whole)."""
    block = payload(piece, seed)
    for offset in range(0, size, piece):
        yield block[: min(piece, size - offset)]


def pending_uploads(bucket: Bucket) -> list[str]:
    answer = bucket.client.list_multipart_uploads(Bucket=bucket.name)
    return [u["Key"] for u in answer.get("Uploads", [])]


# --- multipart ------------------------------------------------------------------------------


def test_multipart_roundtrip_and_part_edges(make_site: Maker, bucket: Bucket) -> None:
    site = make_site(part_size=5 * MiB)
    data = payload(12 * MiB + 3, seed=4)
    pieces = [data[i : i + 700_001] for i in range(0, len(data), 700_001)]
    assert site.put("mp", pieces) == len(data)
    etag = bucket.client.head_object(Bucket=bucket.name, Key="mp")["ETag"]
    assert etag.strip('"').endswith("-3")  # three parts: 5 + 5 + 2 MiB
    assert read(site, "mp") == data
    for edge in (5 * MiB, 10 * MiB):
        assert read(site, "mp", edge - 7, edge + 9) == data[edge - 7 : edge + 9]
    assert site.head("mp") == BlobInfo("mp", len(data))


def test_one_huge_chunk_is_split_into_parts(make_site: Maker, bucket: Bucket) -> None:
    site = make_site(part_size=5 * MiB)
    data = payload(11 * MiB, seed=8)
    assert site.put("huge-chunk", [data]) == len(data)
    etag = bucket.client.head_object(Bucket=bucket.name, Key="huge-chunk")["ETag"]
    assert etag.strip('"').endswith("-3")
    assert read(site, "huge-chunk") == data


def test_failed_multipart_is_aborted_and_leaves_nothing(make_site: Maker, bucket: Bucket) -> None:
    site = make_site(part_size=5 * MiB)

    def chunks() -> Iterator[bytes]:
        yield from stream(17 * MiB)  # three parts sent, the fourth never completes
        raise Boom("the client went away")

    with pytest.raises(Boom):
        site.put("aborted", chunks())
    with pytest.raises(BlobNotFound):
        site.head("aborted")
    assert list(site.list()) == []
    assert pending_uploads(bucket) == []


def test_failed_multipart_keeps_the_previous_blob(make_site: Maker, bucket: Bucket) -> None:
    site = make_site(part_size=5 * MiB)
    site.put("keep", [b"before"])

    def chunks() -> Iterator[bytes]:
        yield from stream(6 * MiB)
        raise Boom("disk read error")

    with pytest.raises(Boom):
        site.put("keep", chunks())
    assert read(site, "keep") == b"before"
    assert pending_uploads(bucket) == []


@pytest.mark.slow
def test_200_mib_blob_in_multipart_with_bounded_memory(make_site: Maker, bucket: Bucket) -> None:
    site = make_site()  # default: 32 MiB parts, 3 in flight
    size = 200 * MiB
    tracemalloc.start()
    try:
        assert site.put("big", stream(size, piece=MiB, seed=2)) == size
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    bound = (site.upload_threads + 2) * site.part_size + 8 * MiB
    assert peak < bound, f"put held {peak / MiB:.0f} MiB (bound {bound / MiB:.0f} MiB)"
    etag = bucket.client.head_object(Bucket=bucket.name, Key="big")["ETag"]
    assert etag.strip('"').endswith("-7")  # 6 parts of 32 MiB and one of 8 MiB
    block = payload(MiB, seed=2)
    total = 0
    for piece in site.get("big"):
        assert piece == block[total % MiB : total % MiB + len(piece)]  # pieces stay <= 1 MiB
        total += len(piece)
    assert total == size
    edge = 16 * MiB * 7
    assert read(site, "big", edge - 5, edge + 5) == (block * 2)[MiB - 5 : MiB + 5]


# --- ranges on age chunk edges --------------------------------------------------------------


@pytest.mark.parametrize("header", [94, 200])
def test_ranges_on_age_chunk_edges(make_site: Maker, header: int) -> None:
    site = make_site(part_size=5 * MiB)
    chunks = 90  # ~5.6 MiB: the blob spans a multipart part edge too
    data = payload(header + 16 + chunks * AGE_CHUNK - 1000, seed=header)
    site.put("age", [data])
    for i in (0, 1, 2, 63, 64, 79, chunks - 1):
        start = header + 16 + i * AGE_CHUNK
        for lo, hi in ((start, start + AGE_CHUNK), (start - 1, start + 1), (start, start + 1)):
            assert read(site, "age", lo, hi) == data[lo:hi], (i, lo, hi)
    last = header + 16 + (chunks - 1) * AGE_CHUNK
    assert read(site, "age", last, last + AGE_CHUNK) == data[last:]  # clipped final chunk


# --- listing --------------------------------------------------------------------------------


def test_listing_more_than_1000_blobs(make_site: Maker) -> None:
    site = make_site()
    ids = [f"l{n:05d}" for n in range(1005)] + [f"m{n:02d}" for n in range(10)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda b: site.put(b, [b.encode()]), ids))
    listed = list(site.list())
    assert [i.blob_id for i in listed] == ids  # ascending, across two pages and more
    assert all(i.size == 6 for i in listed[:1005]) and all(i.size == 3 for i in listed[1005:])
    assert len(list(site.list("l00"))) == 1000
    assert [i.blob_id for i in site.list("m")] == ids[1005:]


# --- changes behind our back ----------------------------------------------------------------


def test_blob_deleted_behind_our_back(make_site: Maker, bucket: Bucket) -> None:
    site = make_site()
    site.put("victim", [b"v" * 1000])
    site.put("other", [b"o"])
    bucket.client.delete_object(Bucket=bucket.name, Key="victim")
    with pytest.raises(BlobNotFound) as info:
        read(site, "victim", 10, 20)
    assert info.value.context["site"] == site.site_id
    with pytest.raises(BlobNotFound):
        site.head("victim")
    assert [i.blob_id for i in site.list()] == ["other"]
    site.delete("victim")  # still not an error


# --- refusals -------------------------------------------------------------------------------


def test_wrong_credentials_are_a_clear_error_naming_the_site(
    make_site: Maker, bucket: Bucket
) -> None:
    good = make_site()
    good.put("exists", [b"x"])
    site = make_site(site_id="wrong-keys", secret_key="not-the-secret")
    calls: list[Callable[[], object]] = [
        lambda: site.put("b1", [b"data"]),
        lambda: read(site, "exists"),
        lambda: site.head("exists"),
        lambda: site.delete("exists"),
        lambda: list(site.list()),
    ]
    for call in calls:
        with pytest.raises(SiteAccessDenied) as info:
            call()
        err = info.value
        assert not err.retryable
        assert err.context["site"] == "wrong-keys"
        assert "wrong-keys" in str(err) and "credentials" in str(err)
        assert "not-the-secret" not in str(err) and "not-the-secret" not in repr(err.to_dict())
    assert read(good, "exists") == b"x"


def test_bucket_that_does_not_exist(make_site: Maker) -> None:
    site = make_site(site_id="no-bucket", bucket="domicile-never-created")
    calls: list[Callable[[], object]] = [
        lambda: site.put("b1", [b"data"]),
        lambda: read(site, "b1"),
        lambda: site.head("b1"),
        lambda: site.delete("b1"),
        lambda: list(site.list()),
        site.check,
    ]
    for call in calls:
        with pytest.raises(SiteError) as info:
            call()
        err = info.value
        assert type(err) is SiteError, f"{type(err).__name__}: {err}"  # not BlobNotFound
        assert not err.retryable
        assert "domicile-never-created" in err.message and "does not exist" in err.message
        assert err.context["site"] == "no-bucket"
        assert "create the bucket" in (err.hint or "")


def test_unreachable_endpoint_is_retryable_unavailability(make_site: Maker) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    site = make_site(site_id="gone", endpoint=f"http://127.0.0.1:{port}", connect_timeout=1.0)
    for call in (lambda: site.head("b1"), lambda: site.put("b1", [b"x"]), lambda: read(site, "b")):
        with pytest.raises(SiteUnavailable) as info:
            call()
        assert info.value.retryable
        assert info.value.context["site"] == "gone"
        assert f"127.0.0.1:{port}" in str(info.value)


def test_healthy_site_passes_check(make_site: Maker) -> None:
    make_site().check()


# --- TLS ------------------------------------------------------------------------------------


@pytest.mark.parametrize("s3_server", ["swift"], indirect=True)
def test_tls_with_a_custom_ca(make_site: Maker, s3_server: SwiftServer) -> None:
    creds = s3_server.credentials
    assert creds.tls_endpoint and creds.ca_file
    site = make_site(endpoint=creds.tls_endpoint, verify=creds.ca_file)
    site.put("tls", stream(6 * MiB))  # multipart over HTTPS (aws-chunked bodies)
    assert site.head("tls").size == 6 * MiB
    assert read(site, "tls", 0, 5) == payload(5)
    untrusting = make_site(site_id="tls-strict", endpoint=creds.tls_endpoint, verify=True)
    with pytest.raises(SiteError) as info:
        untrusting.head("tls")
    assert "certificate" in info.value.message and "ca_file" in (info.value.hint or "")


# --- retries, addressing, secrets -------------------------------------------------------------


def count_sends(site: S3Site) -> list[str]:
    """Every HTTP request the site's client sends from now on (one entry per attempt)."""
    sent: list[str] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(f"{request.method} {request.url}")

    site._client.meta.events.register("before-send.s3", record)
    return sent


def test_retries_only_retryable_failures(make_site: Maker) -> None:
    denied = make_site(site_id="denied", secret_key="not-the-secret", attempts=3)
    sent = count_sends(denied)
    with pytest.raises(SiteAccessDenied):
        read(denied, "b1")
    assert len(sent) == 1, sent  # 403: final at once

    site = make_site(attempts=3)
    sent = count_sends(site)
    with pytest.raises(BlobNotFound):
        read(site, "missing")
    assert len(sent) == 1, sent  # 404: final at once

    with socket.socket() as probe:  # a port nothing listens on: refused, retryable
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gone = make_site(site_id="gone", endpoint=f"http://127.0.0.1:{port}", attempts=3)
    sent = count_sends(gone)
    with pytest.raises(SiteUnavailable) as info:
        read(gone, "b1")
    assert len(sent) == 3, sent  # every attempt spent, with backoff between them
    assert info.value.retryable


def test_addressing_styles(make_site: Maker, bucket: Bucket) -> None:
    """Path style reaches the real server; virtual-host style puts the bucket in the host
    name (which needs wildcard DNS that the test bed does not have, so it is checked on the
    wire, not end to end)."""
    path = make_site(addressing="path")
    sent = count_sends(path)
    path.put("addr", [b"x"])
    assert f"/{bucket.name}/addr" in sent[0] and read(path, "addr") == b"x"
    port = bucket.server.credentials.endpoint.rsplit(":", 1)[1]
    virtual = make_site(
        site_id="virtual", endpoint=f"http://localhost:{port}", addressing="virtual", attempts=1
    )
    sent = count_sends(virtual)
    with pytest.raises(SiteError):
        virtual.head("addr")
    assert sent and sent[0].startswith(f"HEAD http://{bucket.name}.localhost:{port}/addr"), sent


def test_credentials_are_never_logged(
    make_site: Maker, bucket: Bucket, caplog: pytest.LogCaptureFixture
) -> None:
    secret = bucket.server.credentials.secret_key
    caplog.set_level(logging.DEBUG)  # botocore's most verbose: headers, signing, retries
    site = make_site(site_id="logged")
    site.put("secret-check", [b"payload"])
    assert read(site, "secret-check") == b"payload"
    wrong = make_site(site_id="wrong", secret_key="wrong-secret-value")
    with pytest.raises(SiteAccessDenied) as info:
        wrong.head("secret-check")
    assert caplog.records, "DEBUG logging captured nothing: the test would prove nothing"
    text = "\n".join(r.getMessage() for r in caplog.records) + repr(site) + repr(wrong)
    for hidden in (secret, "wrong-secret-value"):
        assert hidden not in text
        assert hidden not in str(info.value) and hidden not in repr(info.value.to_dict())
