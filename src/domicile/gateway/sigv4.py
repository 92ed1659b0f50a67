"""AWS Signature Version 4 verification for S3 requests: header auth and presigned URLs.

:func:`verify_request` takes the plain values of a request (method, raw path, decoded query
pairs from :func:`~domicile.gateway.canonical.parse_query`, header pairs), the current time
and a credentials ``lookup(access_key) -> (secret, tenant) | None``, and returns an
:class:`AuthResult` or raises :class:`~domicile.errors.RequestRejected` with the S3 code:

- ``AccessDenied``: no signature at all; an expired or not yet valid presigned URL;
  ``x-amz-*`` headers that were not signed;
- ``AuthorizationHeaderMalformed`` / ``AuthorizationQueryParametersError``: the
  Authorization header or the presigned ``X-Amz-*`` parameters are malformed (credential
  scope date, region, service, terminator; unsigned host; bad ``X-Amz-Expires``);
- ``InvalidAccessKeyId``: ``lookup`` does not know the access key;
- ``RequestTimeTooSkewed``: the request time is further than ``skew`` seconds from ``now``;
- ``SignatureDoesNotMatch``: the signature is wrong (a changed method, path, parameter,
  signed header or date, or another secret);
- ``MissingSecurityHeader``: header auth without ``x-amz-content-sha256`` or a date;
- ``InvalidArgument``: an ``x-amz-content-sha256`` value S3 does not know;
- ``NotImplemented``: SigV4a (ECDSA); ``InvalidRequest``: SigV2, or two auth mechanisms;
  ``InvalidToken``: a session token (this gateway issues none).

Every signature comparison is constant time. Secrets and signing keys never appear in
messages, ``repr`` or context. The body is not seen here: :class:`PayloadVerifier` checks a
hex ``x-amz-content-sha256`` while the body streams, :mod:`.chunked` decodes aws-chunked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Final

from domicile.errors import RequestRejected
from domicile.gateway import canonical as c
from domicile.gateway.payload import PayloadMode, PayloadVerifier, payload_mode
from domicile.gateway.s3errors import reject

__all__ = ["AuthResult", "Lookup", "PayloadMode", "PayloadVerifier", "verify_request"]

#: ``lookup(access_key) -> (secret, tenant)``, or ``None`` for an unknown key.
Lookup = Callable[[str], "tuple[str, str] | None"]

MAX_EXPIRES: Final = 7 * 24 * 3600
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_AMZ_DATE: Final = re.compile(r"[0-9]{8}T[0-9]{6}Z")
_HEADER_NAME: Final = re.compile(r"[a-z0-9!#$%&'*+.^_`|~-]+")
_HINT_CLOCK: Final = "set the client's clock right (NTP) and send the request again"
_HINT_KEYS: Final = "check the access key and secret configured in the client"


@dataclass(frozen=True, slots=True)
class AuthResult:
    """Who signed a request and what its body must be checked against.

    ``seed_signature``, ``signing_key``, ``scope`` and ``amz_date`` seed the chunk
    signature chain of streaming uploads; ``payload_sha256`` is set in ``SHA256`` mode.
    ``signing_key`` is secret: it is left out of ``repr`` and must never be logged.
    """

    access_key: str
    tenant: str
    payload_mode: PayloadMode
    seed_signature: str
    signing_key: bytes = field(repr=False)
    scope: str
    amz_date: str
    presigned: bool = False
    payload_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class _Parsed:
    access_key: str
    date: str
    region: str
    service: str
    terminator: str
    signed: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True, slots=True)
class _Claim:
    """What a request claims, checked for form and time, not yet for its signature."""

    parsed: _Parsed
    amz_date: str
    content: str
    query: str
    presigned: bool


def verify_request(  # noqa: PLR0917 (the gateway's calling convention)
    method: str,
    raw_path: str,
    query: Sequence[tuple[str, str]],
    headers: Sequence[tuple[str, str]],
    now: datetime,
    lookup: Lookup,
    skew: int = 900,
    *,
    regions: Collection[str] | None = None,
) -> AuthResult:
    """Authenticate a request signed with SigV4 in its headers or its query (presigned).

    ``raw_path`` is the path as received (still percent-encoded, without the query);
    ``query`` holds decoded pairs; ``now`` is timezone-aware; ``skew`` is the accepted
    clock difference in seconds. ``regions``, when given, limits the regions a credential
    scope may name. See the module docstring for the errors.
    """
    if now.tzinfo is None:
        raise ValueError("verify_request needs a timezone-aware 'now'")
    values = c.header_values(headers)
    names = {name for name, _ in query}
    authorization = values.get("authorization")
    if "X-Amz-Algorithm" in names or "X-Amz-Signature" in names:
        if authorization is not None:
            raise reject(
                "InvalidRequest",
                "a request must not carry both an Authorization header and a presigned signature",
            )
        claim = _presigned_claim(query, values, now=now, skew=skew, regions=regions)
    elif authorization is None and "AWSAccessKeyId" in names:
        raise _algorithm_error("AWS", "InvalidRequest")
    elif authorization is None:
        raise reject(
            "AccessDenied",
            "anonymous requests are not accepted",
            hint="sign requests with SigV4 (any AWS SDK or CLI does)",
        )
    else:
        claim = _header_claim(authorization, query, values, now=now, skew=skew, regions=regions)
    mode = payload_mode(claim.content)
    _check_signed_headers(claim.parsed.signed, values, presigned=claim.presigned)
    secret, tenant = _found(claim.parsed, lookup)
    key = c.signing_key(secret, claim.parsed.date, claim.parsed.region, claim.parsed.service)
    _check_signature(claim, key, method, raw_path, values)
    return AuthResult(
        access_key=claim.parsed.access_key,
        tenant=tenant,
        payload_mode=mode,
        seed_signature=claim.parsed.signature,
        signing_key=key,
        scope=claim.parsed.scope,
        amz_date=claim.amz_date,
        presigned=claim.presigned,
        payload_sha256=claim.content if mode is PayloadMode.SHA256 else None,
    )


def _header_claim(
    authorization: str,
    query: Sequence[tuple[str, str]],
    values: dict[str, str],
    *,
    now: datetime,
    skew: int,
    regions: Collection[str] | None,
) -> _Claim:
    if "x-amz-security-token" in values:
        raise _token_error()
    parsed = _parse_authorization(authorization)
    amz_date = _request_date(values)
    _check_scope(parsed, amz_date, regions, "AuthorizationHeaderMalformed")
    when = _parse_amz_date(amz_date, "MissingSecurityHeader")
    if abs((now - when).total_seconds()) > skew:
        raise reject(
            "RequestTimeTooSkewed",
            f"the request time {amz_date} is more than {skew} s away from the server's "
            f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}",
            hint=_HINT_CLOCK,
        )
    content = values.get("x-amz-content-sha256")
    if content is None:
        raise reject(
            "MissingSecurityHeader",
            "the x-amz-content-sha256 header is required",
            hint="send the body's hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING-* value",
        )
    return _Claim(parsed, amz_date, content, c.canonical_query(query), presigned=False)


_PRESIGN_PARAMS: Final = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


def _presigned_claim(
    query: Sequence[tuple[str, str]],
    values: dict[str, str],
    *,
    now: datetime,
    skew: int,
    regions: Collection[str] | None,
) -> _Claim:
    params: dict[str, str] = {}
    for name, value in query:
        if name.startswith("X-Amz-"):
            if name in params:
                raise _query_error(f"the parameter {name} appears twice")
            params[name] = value
    missing = [n for n in _PRESIGN_PARAMS if n not in params]
    if missing:
        raise _query_error(f"the presigned URL lacks {', '.join(missing)}")
    if params["X-Amz-Algorithm"] != c.ALGORITHM:
        raise _algorithm_error(params["X-Amz-Algorithm"], "AuthorizationQueryParametersError")
    if "X-Amz-Security-Token" in params or "x-amz-security-token" in values:
        raise _token_error()
    parsed = _parse_parts(
        params["X-Amz-Credential"],
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        "AuthorizationQueryParametersError",
    )
    amz_date = params["X-Amz-Date"]
    _check_scope(parsed, amz_date, regions, "AuthorizationQueryParametersError")
    when = _parse_amz_date(amz_date, "AuthorizationQueryParametersError")
    expires = params["X-Amz-Expires"]
    if not expires.isascii() or not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES:
        raise _query_error(f"X-Amz-Expires must be 1 to {MAX_EXPIRES} seconds, not {expires!r}")
    if now < when - timedelta(seconds=skew):
        raise reject(
            "AccessDenied", f"the presigned URL is not valid before {amz_date}", hint=_HINT_CLOCK
        )
    if now > when + timedelta(seconds=int(expires)):
        raise reject(
            "AccessDenied",
            f"the presigned URL expired {expires} s after {amz_date}",
            hint="ask for a new presigned URL",
        )
    # S3 presigned URLs sign UNSIGNED-PAYLOAD unless the client sent a payload hash header.
    content = values.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    query_string = c.canonical_query(query, exclude="X-Amz-Signature")
    return _Claim(parsed, amz_date, content, query_string, presigned=True)


def _token_error() -> RequestRejected:
    """A session token, in a header or a presigned URL: this gateway issues none, so none
    can be valid (accepting the request would ignore what the client asked for)."""
    return reject(
        "InvalidToken",
        "session tokens are not issued by this gateway",
        hint="use a long-term access key",
    )


def _found(parsed: _Parsed, lookup: Lookup) -> tuple[str, str]:
    found = lookup(parsed.access_key)
    if found is None:
        raise reject(
            "InvalidAccessKeyId",
            f"the access key {parsed.access_key!r} is not known here",
            hint=_HINT_KEYS,
        )
    return found


def _check_signature(
    claim: _Claim, key: bytes, method: str, raw_path: str, values: dict[str, str]
) -> None:
    parsed = claim.parsed
    matched = False
    # The path re-encoded once is canonical; a client that signed its raw path as sent
    # (an encoded '/' for instance) is accepted too. Both comparisons run in constant time.
    for uri in dict.fromkeys((c.canonical_uri(raw_path), raw_path or "/")):
        request = c.canonical_request(
            method, uri, claim.query, values, signed=parsed.signed, payload_hash=claim.content
        )
        expected = c.sign(key, c.string_to_sign(claim.amz_date, parsed.scope, request))
        matched |= c.same_signature(expected, parsed.signature)
    if not matched:
        raise reject(
            "SignatureDoesNotMatch",
            "the request signature does not match the one computed with this access key's secret",
            hint=_HINT_KEYS + "; a proxy that rewrites the path, query or headers breaks "
            "signatures",
            access_key=parsed.access_key,
        )


# --- parsing ----------------------------------------------------------------------------


def _parse_authorization(value: str) -> _Parsed:
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != c.ALGORITHM:
        raise _algorithm_error(algorithm, "AuthorizationHeaderMalformed")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, text = item.strip().partition("=")
        if not sep or name in parts:
            raise _header_error(f"the component {item.strip()[:40]!r} is malformed or repeated")
        parts[name] = text
    if set(parts) != {"Credential", "SignedHeaders", "Signature"}:
        raise _header_error("it must hold exactly Credential, SignedHeaders and Signature")
    return _parse_parts(
        parts["Credential"],
        parts["SignedHeaders"],
        parts["Signature"],
        "AuthorizationHeaderMalformed",
    )


def _parse_parts(credential: str, signed_headers: str, signature: str, code: str) -> _Parsed:
    fields = credential.split("/")
    if len(fields) != 5 or not all(fields):
        raise reject(code, "the credential must be ACCESSKEY/YYYYMMDD/REGION/s3/aws4_request")
    signed = tuple(signed_headers.split(";"))
    if not all(_HEADER_NAME.fullmatch(n) for n in signed) or len(set(signed)) != len(signed):
        raise reject(code, f"SignedHeaders {signed_headers[:200]!r} is malformed")
    if not _HEX64.fullmatch(signature):
        raise reject(code, "the signature must be 64 lowercase hexadecimal digits")
    access_key, date, region, service, terminator = fields
    return _Parsed(access_key, date, region, service, terminator, signed, signature)


def _check_scope(
    parsed: _Parsed, amz_date: str, regions: Collection[str] | None, code: str
) -> None:
    problem = None
    if parsed.date != amz_date[:8]:
        problem = f"the credential date {parsed.date} is not the request date {amz_date[:8]}"
    elif parsed.service != "s3":
        problem = f"the credential service must be 's3', not {parsed.service!r}"
    elif parsed.terminator != c.TERMINATOR:
        problem = f"the credential must end with {c.TERMINATOR!r}"
    elif regions is not None and parsed.region not in regions:
        problem = f"the region {parsed.region!r} is not served here ({', '.join(sorted(regions))})"
    if problem:
        raise reject(code, problem, hint="configure the client with this gateway's region")


def _request_date(values: dict[str, str]) -> str:
    amz_date = values.get("x-amz-date")
    if amz_date is not None:
        return amz_date
    date = values.get("date")
    if date is None:
        raise reject(
            "MissingSecurityHeader", "the request has neither x-amz-date nor Date", hint=_HINT_CLOCK
        )
    try:
        parsed = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        raise reject("AccessDenied", f"the Date header {date[:40]!r} is not an HTTP date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return f"{parsed.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _parse_amz_date(value: str, code: str) -> datetime:
    if not _AMZ_DATE.fullmatch(value):
        raise reject(code, f"the date {value[:40]!r} is not in the form YYYYMMDDTHHMMSSZ")
    day, time = value[:8], value[9:15]  # fixed places: slicing costs a quarter of strptime
    try:
        return datetime(
            int(day[:4]), int(day[4:6]), int(day[6:]),
            int(time[:2]), int(time[2:4]), int(time[4:]),
            tzinfo=UTC,
        )  # fmt: skip
    except ValueError:
        raise reject(code, f"the date {value!r} does not exist") from None


_COVERED: Final = frozenset({"x-amz-content-sha256", "x-amz-date"})


def _check_signed_headers(
    signed: tuple[str, ...], values: dict[str, str], *, presigned: bool
) -> None:
    """Host must be signed, signed headers must be present, and every ``x-amz-*`` header
    must be signed but the two the string to sign covers anyway (date, content hash)."""
    code = "AuthorizationQueryParametersError" if presigned else "AuthorizationHeaderMalformed"
    if "host" not in signed:
        raise reject(code, "the host header must be signed", hint="sign the host header")
    absent = [name for name in signed if name not in values]
    if absent:
        raise reject(
            "SignatureDoesNotMatch",
            f"signed headers are missing from the request: {', '.join(absent)}",
            hint="a proxy between the client and the gateway may have removed them",
        )
    unsigned = sorted(
        name
        for name in values
        if name.startswith("x-amz-") and name not in signed and name not in _COVERED
    )
    if unsigned:
        raise reject(
            "AccessDenied",
            "there were headers present in the request which were not signed: "
            + ", ".join(unsigned),
            hint="sign every x-amz-* header the request carries",
        )


def _algorithm_error(algorithm: str, code: str) -> RequestRejected:
    if algorithm == "AWS":
        return reject(
            "InvalidRequest",
            "Signature Version 2 is not supported",
            hint="use SigV4 (AWS4-HMAC-SHA256)",
        )
    if algorithm == "AWS4-ECDSA-P256-SHA256":
        return reject(
            "NotImplemented",
            "SigV4a (ECDSA) signatures are not supported",
            hint="use SigV4 (AWS4-HMAC-SHA256)",
        )
    return reject(
        code, f"unknown signing algorithm {algorithm[:40]!r}", hint="use AWS4-HMAC-SHA256"
    )


def _header_error(problem: str) -> RequestRejected:
    return reject(
        "AuthorizationHeaderMalformed", f"the Authorization header is malformed: {problem}"
    )


def _query_error(problem: str) -> RequestRejected:
    return reject("AuthorizationQueryParametersError", problem)
