"""What the engine returns to its callers (the library API, the CLI and the gateway)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ObjectMeta:
    """The metadata a client sets on an object; stored in the catalog and the manifest."""

    content_type: str = "application/octet-stream"
    content_encoding: str | None = None
    content_disposition: str | None = None
    cache_control: str | None = None
    expires: str | None = None
    user: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """One object as HEAD sees it."""

    bucket: str
    key: str
    version_id: str
    size: int
    etag: str
    created_at: float
    meta: ObjectMeta


@dataclass(frozen=True, slots=True)
class CopyInfo:
    """Where one copy of an object rests, and who can compel the operator of that place."""

    site_id: str
    country: str
    operator: str
    provider: str
    subject_to: tuple[str, ...]
    site_status: str
    state: str
    compliant: bool
    reasons: tuple[str, ...]
    verified_at: float | None


@dataclass(frozen=True, slots=True)
class ListResult:
    """One page of a listing."""

    objects: list[ObjectInfo]
    common_prefixes: list[str]
    is_truncated: bool
    next_start_after: str | None


@dataclass
class ObjectReader:
    """An object being read: its info, the byte range served, and the plaintext stream."""

    info: ObjectInfo
    start: int
    end: int
    chunks: Iterator[bytes]

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks

    def read(self) -> bytes:
        """The whole requested range in memory (for small objects and tests)."""
        return b"".join(self.chunks)


@dataclass(frozen=True, slots=True)
class SiteView:
    """A configured site as ``domicile sites`` shows it."""

    site_id: str
    country: str
    operator: str
    provider: str
    subject_to: tuple[str, ...]
    status: str
    healthy: bool
    last_error: str | None
    template: str | None
    latency_ms: float | None = None
