"""Helpers: requests signed by botocore itself, and botocore's real request pipeline."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse, HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials

from domicile.gateway.canonical import parse_query
from domicile.gateway.sigv4 import AuthResult, verify_request
from tests.conftest import deployment_catalog

ACCESS_KEY = "AKIDGATEWAYTEST01"
SECRET = "gw/secret+key=with/odd chars"
TENANT = "acme"
OTHER_KEY = "AKIDOTHERTENANT02"
OTHER_SECRET = "another-secret"
KEYS = {ACCESS_KEY: (SECRET, TENANT), OTHER_KEY: (OTHER_SECRET, "globex")}
ENDPOINT = "http://gw.test:9000"


def lookup(access_key: str) -> tuple[str, str] | None:
    """The credentials table of the tests."""
    return KEYS.get(access_key)


@dataclass(frozen=True)
class Req:
    """A request as the gateway sees it: plain values."""

    method: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes = b""

    def verify(self, now: datetime | None = None, **kw: Any) -> AuthResult:
        return verify_request(
            self.method,
            self.path,
            self.query,
            self.headers,
            now or datetime.now(UTC),
            kw.pop("lookup", lookup),
            **kw,
        )

    def with_header(self, name: str, value: str) -> Req:
        kept = [(n, v) for n, v in self.headers if n.lower() != name.lower()]
        return replace(self, headers=[*kept, (name, value)])


def from_url(method: str, url: str, headers: dict[str, Any], body: bytes = b"") -> Req:
    """Split a URL and header dict into a :class:`Req`, adding Host as an HTTP client would."""
    parts = urlsplit(url)
    pairs = [(n, v.decode("latin-1") if isinstance(v, bytes) else v) for n, v in headers.items()]
    if not any(n.lower() == "host" for n, _ in pairs):
        pairs.append(("Host", parts.netloc))
    return Req(method, parts.path or "/", parse_query(parts.query), pairs, body)


def botocore_signed(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    secret: str = SECRET,
    access_key: str = ACCESS_KEY,
    region: str = "us-east-1",
) -> Req:
    """A request signed by botocore's own S3SigV4Auth (header auth, payload hashed)."""
    request = AWSRequest(method, url, headers=dict(headers or {}), data=body)
    S3SigV4Auth(Credentials(access_key, secret), "s3", region).add_auth(request)
    prepared = request.prepare()
    return from_url(method, prepared.url, dict(prepared.headers.items()), body)


def s3_client(endpoint: str = ENDPOINT, **config: Any) -> Any:
    """A boto3 S3 client against the (never contacted) test endpoint, path style, SigV4."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, **config),
    )


@dataclass
class Captured:
    """Requests botocore would have sent, exactly as it would have sent them."""

    requests: list[Req]


def _read(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes | bytearray):
        return bytes(body)
    if isinstance(body, str):
        return body.encode()
    return b"".join(iter(lambda: body.read(8192), b""))


@pytest.fixture
def capture() -> Callable[[Any], Captured]:
    """Install a 'before-send' hook on a client: record each request, answer 200 empty."""

    def install(client: Any) -> Captured:
        captured = Captured([])

        def before_send(request: Any, **_: Any) -> AWSResponse:
            body = _read(request.body)
            captured.requests.append(
                from_url(request.method, request.url, dict(request.headers.items()), body)
            )
            return AWSResponse(request.url, 200, HTTPHeaders(), _Raw())

        client.meta.events.register_first("before-send.s3", before_send)
        return captured

    return install


class _Raw:
    """A raw urllib3-like response body with nothing in it."""

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield b""

    def read(self, *_: Any, **__: Any) -> bytes:
        return b""


# --- a live gateway ---------------------------------------------------------------------

#: Beside the deployment's eu-only (fr + de, two copies): a policy of one French copy, and
#: one whose only site (in Switzerland) is suspended, so that it cannot be met today.
LIVE_POLICIES = """
[sites.ch]
country = "CH"
operator = "ovh-sas"
provider = "ovhcloud-ch"
status = "suspended"
backend = { type = "local", path = "sites/ch" }

[policies.fr-only]
allow = ["FR"]
copies = 1

[policies.ch-only]
allow = ["CH"]
copies = 1
"""


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, catalog_kind: str, request: pytest.FixtureRequest
) -> Iterator[Any]:
    """One gateway (HTTP) per test module, over a fresh three-site deployment (and each
    catalog in the module's CATALOGS, see tests/conftest.py)."""
    from tests.gateway.live import run_gateway

    root = tmp_path_factory.mktemp("gw")
    url = deployment_catalog(catalog_kind, request)
    catalog = f'catalog = "{url}"' if url else ""
    with run_gateway(
        root, extra=LIVE_POLICIES, extra_sites=("ch",), deployment_extra=catalog
    ) as running:
        yield running


_counter = iter(range(1_000_000))


@pytest.fixture
def bucket(live: Any) -> str:
    """A new eu-only bucket of tenant acme, unique to the test."""
    name = f"t{next(_counter):04d}-bucket"
    live.client().create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-only"}
    )
    return name
