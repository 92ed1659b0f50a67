"""One authenticated S3 call as a handler sees it, and the reply a handler returns.

Handlers are plain functions ``(Call) -> Reply`` that run on a worker thread: they parse
what the request says, call the engine, and encode the answer. They hold no storage or
policy logic; the one rule they apply themselves is ownership: a tenant sees only its own
buckets (:meth:`Call.bucket`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from domicile.config import GatewaySection
from domicile.errors import RequestRejected
from domicile.gateway.body import VerifiedBody
from domicile.gateway.request import S3Request
from domicile.gateway.s3errors import reject
from domicile.gateway.sigv4 import AuthResult

if TYPE_CHECKING:
    from domicile.engine import Bucket, Domicile

#: The largest XML request body read into memory (DeleteObjects of 1,000 long keys fits).
MAX_XML: Final = 2 * 1024 * 1024


@dataclass
class Reply:
    """What a handler answers: status, headers, and a body (bytes or an iterator)."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: A GET's body is the engine's stream; its handler sets ``content-length``.
    body: bytes | Iterator[bytes] = b""

    @classmethod
    def xml(cls, document: bytes, status: int = 200) -> Reply:
        return cls(status, [("content-type", "application/xml")], document)

    def length(self) -> int | None:
        """The body's length as its ``content-length`` header says, if it says."""
        for name, value in self.headers:
            if name.lower() == "content-length":
                return int(value)
        return None


@dataclass
class Call:
    """An authenticated request with the engine that serves it."""

    req: S3Request
    auth: AuthResult
    engine: Domicile
    settings: GatewaySection
    raw_body: Iterable[bytes]
    #: The policies this tenant may bind buckets to (``None``: every policy).
    policies: tuple[str, ...] | None = None
    #: Whether the access key may bypass GOVERNANCE retention (``bypass_governance``).
    may_bypass: bool = False
    _payload: VerifiedBody | None = None

    @property
    def tenant(self) -> str:
        return self.auth.tenant

    @property
    def bucket_name(self) -> str:
        assert self.req.bucket is not None
        return self.req.bucket

    @property
    def key(self) -> str:
        assert self.req.key is not None
        return self.req.key

    def payload(self) -> VerifiedBody:
        """The request body, decoded and verified as it is read (see :mod:`.body`)."""
        if self._payload is None:
            self._payload = VerifiedBody(self.req, self.auth, self.raw_body)
        return self._payload

    def read_xml(self) -> bytes:
        """The whole (small) request body, verified; ``MalformedXML`` above 2 MiB."""
        body = VerifiedBody(self.req, self.auth, self.raw_body, limit=MAX_XML)
        self._payload = body
        try:
            return body.read_all()
        except RequestRejected as exc:
            if exc.code == "EntityTooLarge":
                raise reject("MalformedXML", "the XML body is larger than 2 MiB") from None
            raise

    def bucket(self, name: str | None = None) -> Bucket:
        """The named (or addressed) bucket if this tenant owns it.

        Another tenant's bucket is ``AccessDenied``, as on S3: a tenant learns nothing of
        other tenants' buckets beyond the fact that the name is taken."""
        name = name or self.bucket_name
        bucket = self.engine.bucket(name)
        if bucket.tenant != self.tenant:
            raise reject("AccessDenied", f"bucket {name} belongs to another tenant", bucket=name)
        return bucket
