"""Object Lock between HTTP and the engine: request headers, response headers, the bypass.

In (PutObject, CopyObject, CreateMultipartUpload): ``x-amz-object-lock-mode``
(``GOVERNANCE`` | ``COMPLIANCE``) with ``x-amz-object-lock-retain-until-date`` (ISO 8601,
in the future), and ``x-amz-object-lock-legal-hold`` (``ON`` | ``OFF``). One of mode and
date without the other, an unknown mode or status, or a malformed date is
``InvalidArgument``, as on S3; so is a date in the past. A PutObject carrying them, and
every PutObjectRetention, PutObjectLegalHold, PutObjectLockConfiguration and
PutBucketLifecycleConfiguration, must prove its body with ``Content-MD5`` or an
``x-amz-checksum-*`` (S3 requires one; ``InvalidRequest``).

Out (GetObject, HeadObject): the version's ``x-amz-object-lock-mode``,
``-retain-until-date`` and ``-legal-hold``, as S3 sends them.

The GOVERNANCE bypass (``x-amz-bypass-governance-retention: true``) counts only from an
access key granted ``bypass_governance = true`` in the configuration; from another key it
is ignored, as S3 ignores it without ``s3:BypassGovernanceRetention``, so the request is
refused as it would be without it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from domicile.catalog import LOCK_MODES, VersionLock
from domicile.engine import ObjectMeta
from domicile.gateway.checksums import HEADERS as CHECKSUM_HEADERS
from domicile.gateway.request import S3Request
from domicile.gateway.s3errors import reject

MODE = "x-amz-object-lock-mode"
UNTIL = "x-amz-object-lock-retain-until-date"
HOLD = "x-amz-object-lock-legal-hold"
BYPASS = "x-amz-bypass-governance-retention"


def lock_requested(req: S3Request) -> bool:
    return any(req.header(h) is not None for h in (MODE, UNTIL, HOLD))


def with_lock(meta: ObjectMeta, req: S3Request, *, body: bool = False) -> ObjectMeta:
    """``meta`` with the Object Lock the request's headers ask for (unchanged if none);
    ``body``: the request carries the object (PutObject), which must then be proven."""
    if not lock_requested(req):
        return meta
    if body:
        require_integrity(req)
    mode, until, hold = req.header(MODE), req.header(UNTIL), req.header(HOLD)
    if (mode is None) != (until is None):
        raise reject(
            "InvalidArgument",
            f"{MODE} and {UNTIL} must both be supplied",
            hint="send both headers, or neither",
        )
    return replace(
        meta,
        lock_mode=None if mode is None else parse_mode(mode),
        lock_until=None if until is None else parse_date(until, future=True),
        legal_hold=False if hold is None else parse_status(hold),
    )


def parse_mode(value: str) -> str:
    mode = value.strip().upper()
    if mode not in LOCK_MODES:
        raise reject(
            "InvalidArgument",
            f"unknown Object Lock mode {value[:40]!r}",
            hint="use GOVERNANCE or COMPLIANCE",
        )
    return mode


def parse_status(value: str) -> bool:
    status = value.strip().upper()
    if status not in ("ON", "OFF"):
        raise reject(
            "InvalidArgument", f"unknown legal hold status {value[:40]!r}", hint="use ON or OFF"
        )
    return status == "ON"


def parse_date(value: str, *, future: bool) -> float:
    """Epoch seconds of an ISO 8601 date (``2030-01-01T00:00:00Z``, fractions allowed);
    ``InvalidArgument`` if malformed, or (``future``) not after now."""
    text = value.strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise reject(
            "InvalidArgument",
            f"the retain until date {text[:40]!r} is not an ISO 8601 date",
            hint="e.g. 2030-01-01T00:00:00Z",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    when = parsed.timestamp()
    if future and when <= datetime.now(UTC).timestamp():
        raise reject(
            "InvalidArgument",
            "the retain until date must be in the future",
            hint="give a date after now",
        )
    return when


def iso(when: float) -> str:
    """``when`` as S3 writes a retain-until date: ``2030-01-01T00:00:00.000Z``."""
    stamp = datetime.fromtimestamp(when, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


def lock_headers(lock: VersionLock | None) -> list[tuple[str, str]]:
    """The Object Lock headers of a GET or HEAD of a version with ``lock``."""
    if lock is None:
        return []
    headers = []
    if lock.mode is not None and lock.retain_until is not None:
        headers += [(MODE, lock.mode), (UNTIL, iso(lock.retain_until))]
    headers.append((HOLD, "ON" if lock.legal_hold else "OFF"))
    return headers


def require_integrity(req: S3Request) -> None:
    """S3 requires Content-MD5 or a checksum on Object Lock requests (``InvalidRequest``)."""
    if req.header("content-md5") is not None:
        return
    if any(req.header(h) is not None for h in CHECKSUM_HEADERS.values()):
        return
    trailer = (req.header("x-amz-trailer") or "").lower()
    if trailer.startswith("x-amz-checksum-"):
        return
    raise reject(
        "InvalidRequest",
        "Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests "
        "with Object Lock parameters",
        hint="send Content-MD5 or an x-amz-checksum-* header with the body",
    )


def bypass(req: S3Request, granted: bool) -> bool:
    """Whether the request bypasses GOVERNANCE retention: it asks, and its key may."""
    asked = (req.header(BYPASS) or "").strip().lower() == "true"
    return asked and granted
