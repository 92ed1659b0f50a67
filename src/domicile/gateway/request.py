"""An S3 request as the handlers see it: method, bucket, key, query and headers.

:func:`parse_request` turns an ASGI ``http`` scope into an :class:`S3Request`. Addressing:

- **virtual-hosted**: when ``domain`` is set and the ``Host`` is ``<bucket>.<domain>``, the
  bucket is the host's first labels and the whole path is the key;
- **path-style** otherwise: ``/<bucket>/<key>``; ``/`` alone is the service (ListBuckets).

The key is the raw path after the bucket, percent-decoded once as UTF-8, and nothing else:
``//``, ``..``, ``+`` and spaces are kept as sent (the engine refuses the names it cannot
store safely, with a clear error). A path that is not valid UTF-8 once decoded is
``InvalidURI``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote_to_bytes

from domicile.gateway.canonical import parse_query
from domicile.gateway.s3errors import reject

#: Subresources S3 defines that this gateway does not serve (answered ``NotImplemented``).
UNSUPPORTED: Final = frozenset(
    {
        "abac", "accelerate", "analytics", "attributes", "cors", "encryption",
        "intelligent-tiering", "inventory", "logging", "metadataConfiguration",
        "metadataInventoryTable", "metadataJournalTable", "metadataTable", "metrics",
        "notification", "ownershipControls", "policy", "policyStatus", "publicAccessBlock",
        "renameObject", "replication", "requestPayment", "restore", "select", "session",
        "tagging", "torrent", "website",
    }
)  # fmt: skip
#: Subresources that pick an operation the gateway serves (or refuses on purpose, with the
#: code S3 uses). A request carrying one is routed only by a rule that names it: it never
#: falls through to the plain operation of its method (PUT ?versioning is not CreateBucket).
SERVED: Final = frozenset(
    {
        "acl", "delete", "legal-hold", "lifecycle", "location", "object-lock", "retention",
        "uploadId", "uploads", "versioning", "versions",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class S3Request:
    """One request, parsed: nothing here is trusted before authentication."""

    method: str
    raw_path: str
    raw_query: str
    #: Decoded ``(name, value)`` pairs in order (the form SigV4 verification expects).
    query: tuple[tuple[str, str], ...]
    #: Header pairs as received, names lowercase.
    headers: tuple[tuple[str, str], ...]
    bucket: str | None
    key: str | None
    host: str
    scheme: str

    @property
    def params(self) -> Mapping[str, str]:
        """The first value of each query parameter."""
        out: dict[str, str] = {}
        for name, value in self.query:
            out.setdefault(name, value)
        return out

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (lowercase); repeated headers joined with ``,``."""
        values = [v for n, v in self.headers if n == name]
        return ",".join(values) if values else default

    @property
    def resource(self) -> str:
        """``/bucket/key`` as S3 names the resource in error documents."""
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key is not None else "")

    @property
    def signed(self) -> bool:
        """True when the request carries a signature (header or presigned)."""
        names = {name for name, _ in self.query}
        return (
            self.header("authorization") is not None
            or "X-Amz-Signature" in names
            or "Signature" in names
        )


def parse_request(scope: Mapping[str, Any], *, domain: str = "") -> S3Request:
    """The :class:`S3Request` of an ASGI ``http`` scope (see the module docstring)."""
    headers = tuple(
        (bytes(name).decode("latin-1").lower(), bytes(value).decode("latin-1"))
        for name, value in scope.get("headers", ())
    )
    raw = scope.get("raw_path")
    raw_path = bytes(raw).decode("latin-1") if raw else str(scope.get("path", "/"))
    raw_path = raw_path.split("?", 1)[0] or "/"
    raw_query = bytes(scope.get("query_string", b"")).decode("latin-1")
    host = next((v for n, v in headers if n == "host"), "")
    bucket, key = _address(_decode_path(raw_path), _hostname(host), domain.lower().strip("."))
    return S3Request(
        method=str(scope.get("method", "GET")).upper(),
        raw_path=raw_path,
        raw_query=raw_query,
        query=tuple(parse_query(raw_query)),
        headers=headers,
        bucket=bucket,
        key=key,
        host=host,
        scheme=str(scope.get("scheme", "http")),
    )


def _decode_path(raw_path: str) -> str:
    try:
        return unquote_to_bytes(raw_path).decode("utf-8")
    except UnicodeDecodeError:
        raise reject(
            "InvalidURI",
            "the request path is not UTF-8 once percent-decoded",
            hint="percent-encode object keys as UTF-8",
        ) from None


def _hostname(host: str) -> str:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return name.lower().rstrip(".")


def _address(path: str, hostname: str, domain: str) -> tuple[str | None, str | None]:
    if domain and hostname.endswith("." + domain):
        bucket = hostname[: -len(domain) - 1]
        key = path[1:] if path.startswith("/") else path
        return bucket, key or None
    rest = path[1:] if path.startswith("/") else path
    if not rest:
        return None, None
    bucket, slash, key = rest.partition("/")
    return bucket, (key if slash and key else None)


def subresources(query: Sequence[tuple[str, str]]) -> frozenset[str]:
    """The query parameter names of a request (``uploads``, ``uploadId``, ``delete``...)."""
    return frozenset(name for name, _ in query)
