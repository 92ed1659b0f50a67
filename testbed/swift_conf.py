"""Configuration of the test bed's single-node Swift: rings, servers, s3api proxy, TLS.

Facts this encodes (Swift 2.38): tempauth's S3 path needs no memcached when ``cache`` and
``ratelimit`` are left out of the pipeline; 1 MiB network/disk/object/client chunk sizes
raise throughput by about a quarter; ``log_level = WARNING`` keeps the logs quiet; every
server binds 127.0.0.1 only and runs a single process (``workers = 0``).
"""

from __future__ import annotations

import getpass
import subprocess
from collections.abc import Sequence
from pathlib import Path

_COMMON = """\
[DEFAULT]
swift_dir = {etc}
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {user}
log_level = WARNING
"""

_STORAGE = """\
devices = {devices}
mount_check = false
disable_fallocate = true
network_chunk_size = 1048576
disk_chunk_size = 1048576

[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}
"""

_PIPELINE = (
    "catch_errors gatekeeper healthcheck proxy-logging listing_formats s3api tempauth "
    "copy slo dlo versioned_writes symlink proxy-logging proxy-server"
)

_PROXY = f"""\
[pipeline:main]
pipeline = {_PIPELINE}

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
object_chunk_size = 1048576
client_chunk_size = 1048576

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_object_versioning = true
"""

_PLAIN_FILTERS = [
    "catch_errors",
    "gatekeeper",
    "healthcheck",
    "proxy_logging",
    "listing_formats",
    "copy",
    "slo",
    "dlo",
    "symlink",
]


def write_swift_configs(etc: Path, devices: Path, venv: Path, ports: Sequence[int]) -> None:
    """Write swift.conf, the rings (once), the three storage servers' and both proxies' configs.

    ``ports`` is (proxy, object, container, account, tls-proxy). The TLS proxy uses a
    self-signed certificate for 127.0.0.1 at ``etc/tls/cert.pem``, created once.
    """
    proxy, obj, cont, acct, tls = ports
    etc.mkdir(parents=True, exist_ok=True)
    user = getpass.getuser()
    (etc / "swift.conf").write_text(
        "[swift-hash]\nswift_hash_path_suffix = domicile\nswift_hash_path_prefix = domicile\n"
        "[storage-policy:0]\nname = Policy-0\ndefault = yes\n"
    )
    for kind, port in (("object", obj), ("container", cont), ("account", acct)):
        text = _COMMON.format(etc=etc, port=port, user=user)
        text += _STORAGE.format(devices=devices, kind=kind)
        (etc / f"{kind}.conf").write_text(text)
        _build_ring(etc, venv, kind, port)
    filters = "".join(
        f"\n[filter:{name.replace('_', '-') if name == 'proxy_logging' else name}]\n"
        f"use = egg:swift#{name}\n"
        for name in _PLAIN_FILTERS
    )
    proxy_text = _PROXY + filters
    (etc / "proxy.conf").write_text(
        _COMMON.format(etc=etc, port=proxy, user=user) + "\n" + proxy_text
    )
    cert, key = _self_signed(etc / "tls")
    tls_head = _COMMON.format(etc=etc, port=tls, user=user) + f"cert_file = {cert}\n"
    (etc / "proxy-tls.conf").write_text(tls_head + f"key_file = {key}\n\n" + proxy_text)


def _build_ring(etc: Path, venv: Path, kind: str, port: int) -> None:
    if (etc / f"{kind}.ring.gz").is_file():
        return
    builder = str(etc / f"{kind}.builder")
    tool = str(venv / "bin" / "swift-ring-builder")
    Path(builder).unlink(missing_ok=True)
    for args, ok in (
        (["create", "8", "1", "1"], {0}),
        (["add", f"r1z1-127.0.0.1:{port}/d1", "1"], {0}),
        (["rebalance"], {0, 1}),  # 1 = warnings only, on a one-device ring
    ):
        done = subprocess.run([tool, builder, *args], capture_output=True, text=True, check=False)  # noqa: S603
        if done.returncode not in ok:
            raise RuntimeError(f"swift-ring-builder {' '.join(args)} failed: {done.stderr}")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.is_file() and key.is_file():
        return cert, key
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603
        [  # noqa: S607 -- the openssl command from PATH
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        capture_output=True,
        check=True,
    )  # fmt: skip
    return cert, key
