"""How S3 and transport failures become domicile's site errors, in one table.

=====================================================  =======================================
what the server or the network said                    domicile error
=====================================================  =======================================
404 ``NoSuchKey`` / HEAD 404 (bucket present)          BlobNotFound
``NoSuchBucket`` / HEAD 404 (bucket absent)            SiteError (not retryable): the bucket
403, ``AccessDenied``, ``InvalidAccessKeyId``,         SiteAccessDenied
``SignatureDoesNotMatch``, no credentials at all
5xx, ``SlowDown``, ``RequestTimeout``, connection      SiteUnavailable (retryable)
refused/reset, timeouts
``EntityTooLarge``, ``QuotaExceeded``, 507             SiteFull
body shorter than its ``Content-Length``               SiteCorrupt
TLS certificate refused                                SiteError (not retryable)
anything else                                          SiteError
=====================================================  =======================================

Every error names the site, the operation and, when there is one, the blob; none carries a
credential (the access key id is not even shown: it is partly secret at some providers).
"""

from __future__ import annotations

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    IncompleteReadError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)

from domicile.errors import (
    BlobNotFound,
    SiteAccessDenied,
    SiteCorrupt,
    SiteError,
    SiteFull,
    SiteUnavailable,
)

_DENIED = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AllAccessDisabled",
    "AccountProblem",
    "403",
}
_TRANSIENT = {"SlowDown", "RequestTimeout", "ServiceUnavailable", "InternalError", "Throttling"}
_FULL = {"EntityTooLarge", "QuotaExceeded", "InsufficientStorage", "507"}
_MISSING = {"NoSuchKey", "404", "NotFound"}


def translate(
    exc: BaseException,
    *,
    site: str,
    operation: str,
    bucket: str,
    endpoint: str,
    blob_id: str | None = None,
) -> SiteError:
    """The domicile error for a botocore failure ``exc`` during ``operation`` on ``site``.

    ``NoSuchBucket`` and HEAD's bare 404 are told apart by the caller (HEAD has no body),
    which passes an explicit ``NoSuchBucket`` code through :func:`missing_bucket`.
    """
    where = f"site {site} ({endpoint}, bucket {bucket!r})"
    what = f"{operation} {blob_id}" if blob_id else operation
    ctx = {"site": site, "operation": operation, "blob_id": blob_id, "endpoint": endpoint}
    if isinstance(exc, ClientError):
        return _client_error(exc, where, what, ctx, bucket)
    return _transport_error(exc, where, what, ctx)


def _client_error(
    exc: ClientError, where: str, what: str, ctx: dict[str, str | None], bucket: str
) -> SiteError:
    site, blob_id = str(ctx["site"]), ctx["blob_id"]
    endpoint, operation = str(ctx["endpoint"]), str(ctx["operation"])
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    said = f"{code or status}: {error.get('Message') or 'no message'}"
    if code == "NoSuchBucket":
        return missing_bucket(site=site, bucket=bucket, endpoint=endpoint, operation=operation)
    if code in _MISSING or (status == 404 and not code):
        return BlobNotFound(f"blob {blob_id} not found on {where}", **ctx)
    if code in _DENIED or status == 403:
        return denied(where, what, said, ctx)
    if code in _FULL or status == 507:
        return SiteFull(
            f"{where} refused {what}: no space ({said})",
            hint="free space or raise the quota on that bucket, or mark the site "
            "draining so that placement stops choosing it",
            **ctx,
        )
    if code in _TRANSIENT or status >= 500 or status == 429:
        return SiteUnavailable(
            f"{where} failed {what} with a transient error ({said})",
            hint="domicile retries with backoff and reads other copies; if it lasts, "
            "check the provider's status page",
            **ctx,
        )
    return SiteError(f"{where} refused {what} ({said})", **ctx)


def _transport_error(
    exc: BaseException, where: str, what: str, ctx: dict[str, str | None]
) -> SiteError:
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return denied(where, what, "no usable credentials were found", ctx)
    if isinstance(exc, IncompleteReadError):
        return SiteCorrupt(
            f"{where} sent a short body for {what} ({exc})",
            hint="the copy on that site may be damaged; domicile reads another copy, and "
            "'domicile verify' repairs it",
            **ctx,
        )
    if isinstance(exc, SSLError):
        return SiteError(
            f"{where}: the TLS certificate was refused during {what} ({exc})",
            hint="set ca_file to the CA that signed the endpoint's certificate (never turn "
            "verify_tls off outside a laboratory)",
            **ctx,
        )
    if isinstance(exc, ConnectionError | ReadTimeoutError | ResponseStreamingError):
        return SiteUnavailable(
            f"{where} is unreachable during {what} ({type(exc).__name__})",
            hint="check the endpoint, the network and the provider's status; domicile "
            "reads other copies meanwhile",
            **ctx,
        )
    if isinstance(exc, BotoCoreError):
        return SiteError(f"{where}: {what} failed ({exc})", **ctx)
    raise TypeError(f"not a botocore failure: {type(exc).__name__}") from exc


def denied(where: str, what: str, said: str, ctx: dict[str, str | None]) -> SiteAccessDenied:
    """The error for refused or absent credentials (the credentials themselves never shown)."""
    site = ctx["site"]
    return SiteAccessDenied(
        f"{where} refused our credentials for {what} ({said})",
        hint=f"check the access key and secret of site {site}: sites.{site}.backend."
        "access_key_env / secret_key_env name the environment variables that hold them",
        **ctx,
    )


def missing_bucket(*, site: str, bucket: str, endpoint: str, operation: str) -> SiteError:
    """The error for a bucket that does not exist (a configuration problem, not transient)."""
    return SiteError(
        f"site {site}: bucket {bucket!r} does not exist at {endpoint}",
        hint=f"create the bucket with the provider's tools, or fix sites.{site}.backend.bucket"
        " (domicile never creates buckets on its own)",
        site=site,
        operation=operation,
        endpoint=endpoint,
        bucket=bucket,
    )
