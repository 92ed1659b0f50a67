"""S3 errors: the one table of codes, and the one map from domicile's error tree to it.

:data:`ERRORS` gives every S3 error code the gateway answers with its HTTP status and
default message. :data:`ERROR_CODES` maps the classes of :mod:`domicile.errors` to codes
(most specific first, the first ``isinstance`` match wins). :func:`render_error` turns any
exception into the status and ``<Error>`` document the client receives.

Placement refusals (``PlacementRefused``) get one of two codes, by their decision:

- ``ServiceUnavailable`` (503) when some site was refused only for being observed
  unhealthy: the policy could be met once that site recovers, so the client's retry (SDKs
  retry 503 with back-off) may succeed;
- ``InvalidLocationConstraint`` (400) otherwise: the bucket's policy (its
  ``LocationConstraint``) cannot be met by the configured sites, and retrying cannot help
  until an operator adds a compliant site or changes the policy.

Either way the message names the policy and says, per refused site, why it was refused;
the ``<Policy>`` element carries the policy name for programs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from domicile import errors as e
from domicile.gateway._xmltext import element


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """The HTTP status and the default message of one S3 error code."""

    status: int
    message: str


def _table(*rows: tuple[str, int, str]) -> Mapping[str, ErrorSpec]:
    return {code: ErrorSpec(status, message) for code, status, message in rows}


#: Every S3 error code the gateway may answer with (and nothing else).
ERRORS: Final[Mapping[str, ErrorSpec]] = _table(
    ("AccessControlListNotSupported", 400, "The bucket does not allow ACLs."),
    ("AccessDenied", 403, "Access Denied."),
    ("AuthorizationHeaderMalformed", 400, "The authorization header is malformed."),
    (
        "AuthorizationQueryParametersError",
        400,
        "The presigned URL's X-Amz-* parameters are malformed.",
    ),
    ("BadDigest", 400, "A checksum you specified did not match what the server received."),
    ("BucketAlreadyExists", 409, "The requested bucket name is not available."),
    (
        "BucketAlreadyOwnedByYou",
        409,
        "The bucket you tried to create already exists, and you own it.",
    ),
    ("BucketNotEmpty", 409, "The bucket you tried to delete is not empty."),
    ("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size."),
    ("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size."),
    ("IllegalLocationConstraintException", 400, "The location constraint is not valid here."),
    ("IncompleteBody", 400, "You did not provide the number of bytes the request announced."),
    ("InternalError", 500, "We encountered an internal error. Please try again."),
    ("InvalidAccessKeyId", 403, "The access key ID you provided does not exist in our records."),
    ("InvalidArgument", 400, "Invalid argument."),
    (
        "InvalidBucketAclWithObjectOwnership",
        400,
        "Bucket ACLs other than the owner's full control are not allowed (ACLs disabled).",
    ),
    ("InvalidBucketName", 400, "The specified bucket is not valid."),
    ("InvalidBucketState", 409, "The request is not valid with the current state of the bucket."),
    ("InvalidDigest", 400, "A checksum you specified is not valid."),
    ("InvalidLocationConstraint", 400, "The specified location constraint is not valid."),
    ("InvalidPart", 400, "One or more of the specified parts could not be found."),
    ("InvalidPartNumber", 416, "The requested partnumber is not satisfiable."),
    ("InvalidPartOrder", 400, "The list of parts was not in ascending order."),
    ("InvalidRange", 416, "The requested range is not satisfiable."),
    ("InvalidRequest", 400, "Invalid request."),
    ("InvalidToken", 400, "The provided token is malformed or otherwise invalid."),
    ("InvalidURI", 400, "Couldn't parse the specified URI."),
    ("KeyTooLongError", 400, "Your key is too long."),
    ("MalformedACLError", 400, "The XML you provided was not a well-formed or valid ACL."),
    ("MalformedTrailerError", 400, "The request contained trailing data that was not well-formed."),
    ("MalformedXML", 400, "The XML you provided was not well-formed or did not validate."),
    ("MaxMessageLengthExceeded", 400, "Your request was too big."),
    ("MetadataTooLarge", 400, "Your metadata headers exceed the maximum allowed metadata size."),
    ("MethodNotAllowed", 405, "The specified method is not allowed against this resource."),
    ("MissingContentLength", 411, "You must provide the Content-Length HTTP header."),
    ("MissingRequestBodyError", 400, "Request body is empty."),
    ("MissingSecurityHeader", 400, "Your request is missing a required header."),
    ("NoSuchBucket", 404, "The specified bucket does not exist."),
    ("NoSuchKey", 404, "The specified key does not exist."),
    ("NoSuchLifecycleConfiguration", 404, "The lifecycle configuration does not exist."),
    (
        "NoSuchObjectLockConfiguration",
        404,
        "The specified object does not have a ObjectLock configuration.",
    ),
    ("NoSuchUpload", 404, "The specified multipart upload does not exist."),
    ("NoSuchVersion", 404, "The specified version does not exist."),
    (
        "NotImplemented",
        501,
        "A header or feature you provided implies unimplemented functionality.",
    ),
    ("NotModified", 304, "Not Modified."),
    (
        "ObjectLockConfigurationNotFoundError",
        404,
        "Object Lock configuration does not exist for this bucket.",
    ),
    ("PreconditionFailed", 412, "At least one of the preconditions you specified did not hold."),
    (
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the server's time is too large.",
    ),
    (
        "RequestTimeout",
        400,
        "Your socket connection was not read from or written to within the timeout period.",
    ),
    ("ServiceUnavailable", 503, "Service is unable to handle request."),
    (
        "SignatureDoesNotMatch",
        403,
        "The request signature we calculated does not match the signature you provided.",
    ),
    ("SlowDown", 503, "Please reduce your request rate."),
    (
        "XAmzContentSHA256Mismatch",
        400,
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
    ),
)


def status_of(code: str) -> int:
    """The HTTP status of an S3 error code (``KeyError`` for a code not in the table)."""
    return ERRORS[code].status


def reject(
    code: str, message: str | None = None, *, hint: str | None = None, **context: Any
) -> e.RequestRejected:
    """A :class:`~domicile.errors.RequestRejected` for ``code``, to be raised by the caller.

    ``message`` defaults to the table's; ``code`` must be in :data:`ERRORS` (ValueError
    otherwise: a typo must fail in tests, not reach a client).
    """
    spec = ERRORS.get(code)
    if spec is None:
        raise ValueError(f"unknown S3 error code {code!r}")
    return e.RequestRejected(message or spec.message, code=code, hint=hint, **context)


# --- the error tree to codes --------------------------------------------------------------


def _placement_code(exc: e.DomicileError) -> str:
    verdicts = getattr(getattr(exc, "decision", None), "verdicts", ())
    for verdict in verdicts:
        codes = {r.code for r in verdict.reasons}
        if codes and codes <= {"unhealthy", "diversity"} and "unhealthy" in codes:
            return "ServiceUnavailable"
    return "InvalidLocationConstraint"


def _name_code(exc: e.DomicileError) -> str:
    kind = exc.context.get("kind")
    if kind == "bucket" or (kind is None and "bucket name" in exc.message):
        return "InvalidBucketName"
    if "limit" in exc.message:
        return "KeyTooLongError"
    return "InvalidArgument"


def _rejected_code(exc: e.DomicileError) -> str:
    code = getattr(exc, "code", "InternalError")
    return code if code in ERRORS else "InternalError"


Rule = str | Callable[[e.DomicileError], str]

#: The error tree to S3 codes: most specific classes first; the first match wins.
ERROR_CODES: Final[tuple[tuple[type[e.DomicileError], Rule], ...]] = (
    (e.RequestRejected, _rejected_code),
    (e.InvalidName, _name_code),
    (e.InvalidRange, "InvalidRange"),
    (e.PlacementRefused, _placement_code),
    (e.ResidencyError, "AccessDenied"),
    (e.BucketNotFound, "NoSuchBucket"),
    (e.BucketAlreadyExists, "BucketAlreadyExists"),
    (e.BucketNotEmpty, "BucketNotEmpty"),
    (e.VersionNotFound, "NoSuchVersion"),
    (e.ObjectNotFound, "NoSuchKey"),
    (e.ObjectLocked, "AccessDenied"),
    (e.LockNotEnabled, "InvalidRequest"),
    (e.VersioningLocked, "InvalidBucketState"),
    (e.InvalidRetention, "InvalidArgument"),
    (e.VersionIsDeleteMarker, "MethodNotAllowed"),
    (e.UploadNotFound, "NoSuchUpload"),
    (e.PreconditionFailed, "PreconditionFailed"),
    (e.InvalidPart, "InvalidPart"),
    (e.EntityTooSmall, "EntityTooSmall"),
    (e.InvalidPartNumber, "InvalidArgument"),
    (e.MissingChecksum, "InvalidRequest"),
    (e.CopiesUnavailable, "ServiceUnavailable"),
    (e.SiteUnavailable, "ServiceUnavailable"),
    (e.SiteFull, "ServiceUnavailable"),
    (e.CatalogBusy, "ServiceUnavailable"),
    (e.DomicileError, "InternalError"),
)


def code_for(exc: BaseException) -> str:
    """The S3 error code for ``exc``: the first matching row of :data:`ERROR_CODES`.

    Anything outside the error tree is an ``InternalError``.
    """
    if isinstance(exc, e.DomicileError):
        for cls, rule in ERROR_CODES:
            if isinstance(exc, cls):
                return rule if isinstance(rule, str) else rule(exc)
    return "InternalError"


def message_for(exc: BaseException, code: str) -> str:
    """The message sent to the client for ``exc`` answered as ``code``.

    Internal errors and exceptions outside the tree get the table's message only (their
    details belong in the log line, found by the request id). A placement refusal lists
    each refused site and its reasons.
    """
    if code == "InternalError" or not isinstance(exc, e.DomicileError):
        return ERRORS[code].message
    text = str(exc)
    if isinstance(exc, e.PlacementRefused):
        sites = _site_reasons(exc)
        if sites:
            text += " Sites: " + "; ".join(sites) + "."
    return text


def _site_reasons(exc: e.PlacementRefused) -> list[str]:
    out = []
    for verdict in getattr(exc.decision, "verdicts", ()):
        if verdict.accepted:
            continue
        reasons = ", ".join(r.text for r in verdict.reasons) or "refused"
        out.append(f"{verdict.site_id}: {reasons}")
    return out


def error_xml(
    code: str,
    message: str,
    resource: str,
    request_id: str,
    extra: Mapping[str, str] | None = None,
) -> bytes:
    """The standard S3 ``<Error>`` document (UTF-8, with the XML declaration).

    ``extra`` adds elements after ``RequestId`` (``BucketName``, ``Key``, ``Policy``...);
    their names must be plain XML names (ValueError otherwise). Values are escaped.
    """
    parts = [
        element("Code", code),
        element("Message", message),
        element("Resource", resource),
        element("RequestId", request_id),
    ]
    for name, value in (extra or {}).items():
        if not name.isascii() or not name.isalnum() or not name[0].isalpha():
            raise ValueError(f"{name!r} is not a plain XML element name")
        parts.append(element(name, value))
    body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error>' + "".join(parts) + "</Error>"
    return body.encode("utf-8")


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """What the gateway sends for a failed request: status, code and ``<Error>`` body."""

    status: int
    code: str
    body: bytes


_CONTEXT_ELEMENTS: Final = (("bucket", "BucketName"), ("key", "Key"), ("policy", "Policy"))


def render_error(exc: BaseException, *, resource: str, request_id: str) -> ErrorReply:
    """The reply for ``exc``: code by :func:`code_for`, message by :func:`message_for`.

    The error's ``bucket``, ``key`` and ``policy`` context become ``BucketName``, ``Key``
    and ``Policy`` elements (never for internal errors).
    """
    code = code_for(exc)
    extra: dict[str, str] = {}
    if code != "InternalError" and isinstance(exc, e.DomicileError):
        for field, name in _CONTEXT_ELEMENTS:
            if field in exc.context:
                extra[name] = str(exc.context[field])
    body = error_xml(code, message_for(exc, code), resource, request_id, extra)
    return ErrorReply(status_of(code), code, body)
