"""S3 benchmarks on the project's test bed (real Swift and SeaweedFS on 127.0.0.1).

Three comparisons, each against a baseline measured in the same run:

1. client choice: obstore vs boto3 (s3transfer threads), large object and 64 KiB objects;
2. S3Site vs boto3 writing/reading the same bytes on the same server;
3. the engine (encryption, catalog, one Swift site) vs boto3 on the same server, over plain
   HTTP and, with ``--tls``, over the test bed's TLS endpoint as well (what a real provider
   serves: there botocore sends no payload SHA-256, on either side).

Run: ``.venv/bin/python bench/bench_s3.py [--size-mib 1024] [--small 1000] [--only engine]
[--tls]``.
Servers already running are reused; servers started here are stopped at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testbed.servers import SeaweedServer, Server, SwiftServer

import domicile
from domicile.crypto import Keyring
from domicile.sites.s3 import S3Site

MiB = 1024 * 1024
SMALL = 64 * 1024
THREADS = 16
TRANSFER = TransferConfig(multipart_chunksize=16 * MiB, max_concurrency=8)
Job = Callable[[], Any]


def timed(fn: Callable[[], Any]) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def client(server: Server, *, tls: bool = False) -> Any:
    c = server.credentials
    return boto3.client(
        "s3",
        endpoint_url=c.tls_endpoint if tls else c.endpoint,
        verify=str(c.ca_file) if tls else None,
        aws_access_key_id=c.access_key,
        aws_secret_access_key=c.secret_key,
        region_name=c.region,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32),
    )


class Sink(io.RawIOBase):
    """A writable that counts and drops bytes (download target)."""

    def __init__(self) -> None:
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, b: Any) -> int:
        self.count += len(b)
        return len(b)


def drop(s3: Any, bucket: str) -> None:
    """Delete every object of ``bucket`` and the bucket (the test bed's disk is finite)."""
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    s3.delete_bucket(Bucket=bucket)


def pieces(data: bytes, size: int = MiB) -> Iterator[memoryview]:
    view = memoryview(data)
    for i in range(0, len(data), size):
        yield view[i : i + size]


def row(label: str, seconds: float, amount: float, unit: str, base: float | None) -> float:
    rate = amount / seconds
    ratio = f"  ratio {rate / base:5.2f}" if base else "  (baseline)"
    print(f"  {label:<44} {rate:10.1f} {unit}{ratio}")
    return rate


# --- 1. client choice ------------------------------------------------------------------------


def compare(amount: float, unit: str, base: tuple[str, Job], other: tuple[str, Job]) -> None:
    """Time the baseline, then the candidate, and print both with the ratio."""
    rate = row(base[0], timed(base[1]), amount, unit, None)
    row(other[0], timed(other[1]), amount, unit, rate)


def many(pool: ThreadPoolExecutor, count: int, one: Callable[[int], Any]) -> Job:
    """A job running ``one(n)`` for n in range(count) on ``pool``."""
    return lambda: list(pool.map(one, range(count)))


def bench_clients(server: Server, data: bytes, small: int) -> None:
    import obstore
    from obstore.store import S3Store

    c = server.credentials
    s3 = client(server)
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    store = S3Store(
        bucket,
        endpoint=c.endpoint,
        access_key_id=c.access_key,
        secret_access_key=c.secret_key,
        region=c.region,
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    size = len(data) / MiB
    print(f"== client choice on {server.name} ({size:.0f} MiB object, {small} x 64 KiB)")
    compare(
        size,
        "MiB/s",
        ("boto3 upload_fileobj (s3transfer)", lambda: upload(s3, bucket, "big", data)),
        (
            "obstore put (multipart 16 MiB, 8 in flight)",
            lambda: obstore.put(
                store, "big2", pieces(data, 16 * MiB), chunk_size=16 * MiB, max_concurrency=8
            ),
        ),
    )
    compare(
        size,
        "MiB/s",
        ("boto3 download_fileobj (s3transfer)", lambda: download(s3, bucket, "big")),
        ("obstore get (stream)", lambda: drain(obstore.get(store, "big2").stream(MiB))),
    )
    blob = os.urandom(SMALL)
    with ThreadPoolExecutor(THREADS) as pool:
        compare(
            small,
            "obj/s",
            (
                f"boto3 put_object, {THREADS} threads",
                many(pool, small, lambda n: s3.put_object(Bucket=bucket, Key=f"s{n}", Body=blob)),
            ),
            (
                f"obstore put, {THREADS} threads",
                many(pool, small, lambda n: obstore.put(store, f"o{n}", blob)),
            ),
        )
    drop(s3, bucket)


def upload(s3: Any, bucket: str, key: str, data: bytes) -> None:
    s3.upload_fileobj(io.BytesIO(data), bucket, key, Config=TRANSFER)


def download(s3: Any, bucket: str, key: str) -> None:
    s3.download_fileobj(bucket, key, Sink(), Config=TRANSFER)


def drain(chunks: Iterable[Any]) -> int:
    return sum(len(b) for b in chunks)


# --- 2. S3Site vs boto3 ----------------------------------------------------------------------


def bench_site(server: Server, data: bytes, small: int) -> None:
    c = server.credentials
    s3 = client(server)
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    site = S3Site(
        "bench",
        endpoint=c.endpoint,
        bucket=bucket,
        access_key=c.access_key,
        secret_key=c.secret_key,
    )
    size = len(data) / MiB
    print(f"== S3Site vs boto3 on {server.name} ({size:.0f} MiB object, {small} x 64 KiB)")
    compare(
        size,
        "MiB/s",
        ("boto3 upload_fileobj", lambda: upload(s3, bucket, "big", data)),
        ("S3Site.put (streamed, 16 MiB parts x 4)", lambda: site.put("big2", pieces(data))),
    )
    compare(
        size,
        "MiB/s",
        ("boto3 download_fileobj", lambda: download(s3, bucket, "big")),
        ("S3Site.get (one stream)", lambda: drain(site.get("big2"))),
    )
    blob = os.urandom(SMALL)
    with ThreadPoolExecutor(THREADS) as pool:
        compare(
            small,
            "obj/s",
            (
                "boto3 put_object x 64 KiB",
                many(pool, small, lambda n: s3.put_object(Bucket=bucket, Key=f"s{n}", Body=blob)),
            ),
            ("S3Site.put x 64 KiB", many(pool, small, lambda n: site.put(f"t{n}", [blob]))),
        )
        compare(
            small,
            "obj/s",
            (
                "boto3 get_object x 64 KiB",
                many(pool, small, lambda n: read_raw(s3, bucket, f"s{n}")),
            ),
            ("S3Site.get x 64 KiB", many(pool, small, lambda n: drain(site.get(f"t{n}")))),
        )
    site.close()
    drop(s3, bucket)


def read_raw(s3: Any, bucket: str, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


# --- 3. the engine vs boto3 ------------------------------------------------------------------

ENGINE_CONFIG = """
[deployment]
name = "bench"
workers = 16

[sites.swift]
country = "FR"
operator = "bench-operator"
provider = "swift"
backend.type = "s3"
backend.endpoint = "{endpoint}"
backend.bucket = "{bucket}"{ca}
backend.access_key_env = "BENCH_AK"
backend.secret_key_env = "BENCH_SK"

[entities.bench-operator]
name = "Bench SAS"
country = "FR"

[policies.one]
allow = ["FR"]
copies = 1
distinct = "site"

[buckets.bench]
policy = "one"
"""


def bench_engine(server: Server, data: bytes, small: int, *, tls: bool = False) -> None:
    c = server.credentials
    s3 = client(server, tls=tls)
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    os.environ["BENCH_AK"], os.environ["BENCH_SK"] = c.access_key, c.secret_key
    size = len(data) / MiB
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        Keyring.create(root / "keyring.txt")
        (root / "domicile.toml").write_text(
            ENGINE_CONFIG.format(
                endpoint=c.tls_endpoint if tls else c.endpoint,
                bucket=bucket,
                ca=f'\nbackend.ca_file = "{c.ca_file}"' if tls else "",
            )
        )
        with domicile.open(root / "domicile.toml") as d:
            over = "HTTPS" if tls else "HTTP"
            print(
                f"== engine vs boto3 on {server.name} over {over} "
                f"({size:.0f} MiB object, {small} x 64 KiB)"
            )
            compare(
                size,
                "MiB/s",
                ("boto3 upload_fileobj", lambda: upload(s3, bucket, "raw", data)),
                (
                    "domicile put (encrypt, S3 site, catalog)",
                    lambda: d.put("bench", "big", pieces(data)),
                ),
            )
            compare(
                size,
                "MiB/s",
                ("boto3 download_fileobj", lambda: download(s3, bucket, "raw")),
                ("domicile get (S3 site, decrypt)", lambda: drain(d.get("bench", "big"))),
            )
            blob = os.urandom(SMALL)
            with ThreadPoolExecutor(THREADS) as pool:
                compare(
                    small,
                    "obj/s",
                    (
                        "boto3 put_object x 64 KiB",
                        many(
                            pool,
                            small,
                            lambda n: s3.put_object(Bucket=bucket, Key=f"r{n}", Body=blob),
                        ),
                    ),
                    (
                        "domicile put x 64 KiB",
                        many(pool, small, lambda n: d.put("bench", f"k{n}", blob)),
                    ),
                )
                compare(
                    small,
                    "obj/s",
                    (
                        "boto3 get_object x 64 KiB",
                        many(pool, small, lambda n: read_raw(s3, bucket, f"r{n}")),
                    ),
                    (
                        "domicile get x 64 KiB",
                        many(pool, small, lambda n: d.get("bench", f"k{n}").read()),
                    ),
                )
    drop(s3, bucket)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024, help="large object size")
    parser.add_argument("--small", type=int, default=1000, help="number of 64 KiB objects")
    parser.add_argument("--only", choices=["clients", "site", "engine"], action="append")
    parser.add_argument("--tls", action="store_true", help="the engine part over TLS too")
    args = parser.parse_args()
    parts = args.only or ["clients", "site", "engine"]
    servers: list[Server] = [SwiftServer(), SeaweedServer()]
    with ThreadPoolExecutor(2) as pool:
        started = [
            s for s, new in zip(servers, pool.map(lambda s: s.start(), servers), strict=True) if new
        ]
    data = os.urandom(args.size_mib * MiB)
    try:
        for server in servers:
            if "clients" in parts:
                bench_clients(server, data, args.small)
            if "site" in parts:
                bench_site(server, data, args.small)
        if "engine" in parts:
            bench_engine(servers[0], data, args.small)
            if args.tls:
                bench_engine(servers[0], data, args.small, tls=True)
    finally:
        for server in started:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
