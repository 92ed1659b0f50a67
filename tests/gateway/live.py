"""A real gateway for tests: a deployment on local-folder sites, served by granian on
127.0.0.1 (HTTP, or HTTPS with a self-signed certificate), and clients pointed at it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import domicile
from domicile.engine import Domicile
from domicile.gateway.app import Gateway
from domicile.gateway.server import BackgroundServer, Server, free_port
from domicile.sites import LocalSite
from tests.engine.conftest import make_deployment

ACCESS_KEY = "AKIDLIVEGATEWAY01"
SECRET = "live/secret+key=odd chars"
OTHER_KEY = "AKIDLIVEOTHER0002"
OTHER_SECRET = "globex-secret"

TENANTS = f"""
[tenants.acme]
keys = [{{ access_key = "{ACCESS_KEY}", secret = "{SECRET}" }}]

[tenants.globex]
keys = [{{ access_key = "{OTHER_KEY}", secret = "{OTHER_SECRET}" }}]
"""


@dataclass
class Clock:
    """The gateway's clock (``Gateway(clock=...)``) in tests: the real time plus an offset
    a test moves, so that "later" needs no sleep."""

    offset: dt.timedelta = dt.timedelta(0)

    def __call__(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC) + self.offset

    @contextmanager
    def later(self, seconds: float) -> Iterator[None]:
        """The gateway's time is ``seconds`` ahead inside the block."""
        self.offset += dt.timedelta(seconds=seconds)
        try:
            yield
        finally:
            self.offset -= dt.timedelta(seconds=seconds)


def until(check: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait until ``check()`` holds (an event, not a guess at how long it takes)."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


@dataclass
class Live:
    """A running gateway: its endpoint, engine, deployment folder, TLS certificate and
    clock."""

    endpoint: str
    engine: Domicile
    gateway: Gateway
    root: Path
    background: BackgroundServer
    cert: Path | None = None
    clients: list[Any] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)

    def client(self, access_key: str = ACCESS_KEY, secret: str = SECRET, **config: Any) -> Any:
        """A boto3 S3 client for this gateway (path style, no retries unless asked)."""
        config.setdefault("retries", {"max_attempts": 1, "mode": "standard"})
        config.setdefault("s3", {"addressing_style": "path"})
        client = boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            verify=str(self.cert) if self.cert else None,
            config=Config(signature_version="s3v4", **config),
        )
        self.clients.append(client)  # closed with the gateway: no socket left to the GC
        return client

    def close_clients(self) -> None:
        for client in self.clients:
            client.close()
        self.clients.clear()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files in ``folder``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "domicile test gateway")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "gateway.crt", folder / "gateway.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@contextmanager
def run_gateway(
    root: Path,
    *,
    tls: bool = False,
    gateway: str = "",
    extra: str = "",
    extra_sites: tuple[str, ...] = (),
    deployment_extra: str = "",
    sweeps: bool = True,
    tenants: str = TENANTS,
) -> Iterator[Live]:
    """Serve a fresh deployment under ``root``; ``gateway`` and ``deployment_extra`` add
    keys to ``[gateway]`` and ``[deployment]``, ``extra`` configuration (sites, policies)
    whose local folders ``extra_sites`` names; ``sweeps`` as for :class:`Gateway`; ``tenants``
    the ``[tenants.*]`` tables (acme and globex by default)."""
    root.mkdir(parents=True, exist_ok=True)
    for site in extra_sites:
        LocalSite.create(site, root / "sites" / site)
    path = make_deployment(root, extra=extra)
    port = free_port()
    cert = None
    lines = [f'listen = "127.0.0.1:{port}"', gateway]
    if tls:
        cert, key = self_signed(root)
        lines += [f'tls_cert = "{cert.name}"', f'tls_key = "{key.name}"']
    text = path.read_text().replace("[deployment]\n", f"[deployment]\n{deployment_extra}\n", 1)
    path.write_text(text + "\n[gateway]\n" + "\n".join(lines) + "\n" + tenants)
    engine = domicile.open(path)
    clock = Clock()
    app = Gateway(engine, sweeps=sweeps, clock=clock)
    background = BackgroundServer(Server(app))
    try:
        endpoint = background.start()
        live = Live(endpoint, engine, app, root, background, cert, clock=clock)
        try:
            yield live
        finally:
            live.close_clients()
    finally:
        background.stop()
        app.close()
        engine.close()
