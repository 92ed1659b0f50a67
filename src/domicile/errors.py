"""The one error tree of domicile.

Every error raised on purpose by domicile derives from :class:`DomicileError`. Each carries
structured context (operation, bucket, key, site, ...), an optional ``hint`` telling the user
what to do next, and knows whether retrying can help. The faces map this tree to the outside
world in exactly one table each: S3 error codes in the gateway, exit codes in the CLI.

::

    DomicileError
    ├── ConfigError                  a configuration file or value is wrong (file, key path, hint)
    ├── InvalidName                  a hostile or malformed bucket, key or site name
    ├── InvalidRange                 a byte range outside the object
    ├── ResidencyError
    │   └── PlacementRefused         no placement satisfies the policy (per-site reasons)
    ├── CryptoError
    │   ├── ArmorError               ASCII armor is malformed
    │   ├── HeaderError              the age header is malformed
    │   ├── HeaderMacError           the header MAC does not verify (tampered header)
    │   ├── NoIdentityMatch          none of our identities can unwrap the file key
    │   ├── PayloadError             the STREAM payload is not authentic
    │   │   ├── ChunkAuthError       a chunk fails authentication (bit flip, reorder, wrong key)
    │   │   ├── TruncatedError       the payload ends early (missing final chunk)
    │   │   └── TrailingDataError    bytes follow the final chunk
    │   └── KeyringError
    │       ├── KeyringNotFound      no keyring file where one was expected
    │       ├── WrongPassphrase      the keyring passphrase does not decrypt it
    │       └── MalformedKey         an identity or recipient string is invalid
    ├── SiteError                    a storage site failed (always names the site)
    │   ├── BlobNotFound             the blob does not exist on that site
    │   ├── SiteUnavailable          unreachable, timed out, 5xx (retryable)
    │   ├── SiteFull                 no space left on the site
    │   ├── SiteAccessDenied         credentials refused by the site
    │   └── SiteCorrupt              short read or size mismatch from the site
    ├── CatalogError
    │   ├── BucketNotFound
    │   ├── BucketAlreadyExists
    │   ├── BucketNotEmpty
    │   ├── SiteNotEmpty             a site to remove still holds copies: drain it first
    │   ├── ObjectNotFound           (context ``delete_marker``: the key's latest is a marker)
    │   │   └── VersionNotFound      no version of that id (S3 NoSuchVersion)
    │   ├── VersionIsDeleteMarker    a version id names a delete marker, which has no bytes
    │   ├── UploadNotFound           no multipart upload of that id (completed, aborted, swept)
    │   ├── PreconditionFailed       a conditional write found the key not as it expected
    │   ├── CatalogVersionError      the catalog schema is newer than this program
    │   └── CatalogBusy              the database is unreachable or a write conflicted (retryable)
    │       └── CatalogConflict      a concurrent write took a unique row first
    ├── MultipartError               a multipart upload cannot be completed as asked
    │   ├── InvalidPart              a listed part was never uploaded or its ETag differs
    │   ├── InvalidPartNumber        a part number outside 1..10,000
    │   ├── EntityTooSmall           a part other than the last is under the 5 MiB minimum
    │   └── MissingChecksum          a part lacks the checksum its upload requires
    ├── LockError                    Object Lock forbids or cannot apply what was asked
    │   ├── ObjectLocked             the version is under retention or legal hold (refused)
    │   ├── LockNotEnabled           the bucket has no Object Lock (enable it at creation)
    │   ├── VersioningLocked         a bucket with Object Lock cannot suspend versioning
    │   └── InvalidRetention         a retention mode, date or period is malformed
    ├── AuditError
    │   ├── AuditFormatError         an audit record, checkpoint or export line is malformed
    │   ├── AuditKeyError            the audit signing key is missing or unreadable
    │   └── AuditAltered             the chain does not verify: nothing was signed
    │       └── ProofInvalid         a proof bundle does not prove what it claims
    ├── CopiesUnavailable            no copy of an object could be read (every fault listed)
    ├── RequestRejected              the gateway refuses a request (signature, body; S3 code)
    └── ServeError                   the gateway could not start its workers or keep them up
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class DomicileError(Exception):
    """Root of every error domicile raises on purpose.

    ``message`` says what went wrong; ``hint`` says what to do next; ``context`` holds
    structured fields (``operation``, ``bucket``, ``key``, ``site``, ...) for logs and JSON.
    """

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, hint: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context: dict[str, Any] = {k: v for k, v in context.items() if v is not None}

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready rendering: error class, message, hint and context."""
        out: dict[str, Any] = {"error": type(self).__name__, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        out.update(_jsonable(self.context))
        return out


def _jsonable(context: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, str | int | float | bool | list | dict) else str(v)
        for k, v in context.items()
    }


# --- configuration and names --------------------------------------------------------------


class ConfigError(DomicileError):
    """A configuration file or value is wrong; ``context`` names the file and key path."""


class InvalidName(DomicileError):
    """A bucket, key, site or policy name is malformed or hostile."""


class InvalidRange(DomicileError):
    """A requested byte range does not overlap the object."""


# --- residency --------------------------------------------------------------------------


class ResidencyError(DomicileError):
    """A residency rule forbids the operation."""


class PlacementRefused(ResidencyError):
    """The policy cannot be met; ``decision`` explains every site considered and why."""

    def __init__(self, message: str, *, decision: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.decision = decision


# --- cryptography -----------------------------------------------------------------------


class CryptoError(DomicileError):
    """An age file or key could not be used."""


class ArmorError(CryptoError):
    """The ASCII armor around an age file is malformed."""


class HeaderError(CryptoError):
    """The age header is malformed or unsupported."""


class HeaderMacError(CryptoError):
    """The header MAC does not verify: the header was changed after it was written."""


class NoIdentityMatch(CryptoError):
    """None of the available identities can unwrap this file's key."""


class PayloadError(CryptoError):
    """The encrypted payload is not authentic; no unauthenticated plaintext was released."""


class ChunkAuthError(PayloadError):
    """A payload chunk failed authentication (changed, reordered or under another key)."""


class TruncatedError(PayloadError):
    """The payload ends before its final chunk."""


class TrailingDataError(PayloadError):
    """Bytes follow the final chunk of the payload."""


class KeyringError(CryptoError):
    """The keyring could not be opened or used."""


class KeyringNotFound(KeyringError):
    """No keyring file exists at the given path."""


class WrongPassphrase(KeyringError):
    """The passphrase does not decrypt the keyring."""


class MalformedKey(KeyringError):
    """An identity (``AGE-SECRET-KEY-1...``) or recipient (``age1...``) is invalid."""


# --- sites ------------------------------------------------------------------------------


class SiteError(DomicileError):
    """A storage site failed; ``context['site']`` names it."""


class BlobNotFound(SiteError):
    """The blob does not exist on the site."""


class SiteUnavailable(SiteError):
    """The site cannot be reached or answered with a transient failure."""

    retryable = True


class SiteFull(SiteError):
    """The site has no space left for the blob."""


class SiteAccessDenied(SiteError):
    """The site refused our credentials."""


class SiteCorrupt(SiteError):
    """The site returned fewer or other bytes than it holds by its own account."""


# --- catalog ----------------------------------------------------------------------------


class CatalogError(DomicileError):
    """The catalog refused or failed an operation."""


class BucketNotFound(CatalogError):
    """No bucket of that name exists."""


class BucketAlreadyExists(CatalogError):
    """A bucket of that name exists already."""


class BucketNotEmpty(CatalogError):
    """The bucket still holds objects."""


class SiteNotEmpty(CatalogError):
    """The site still holds copies (or upload parts) that the catalog records."""


class ObjectNotFound(CatalogError):
    """No object of that key exists in the bucket. When the key's latest version is a
    delete marker, the context says so: ``delete_marker=True`` and ``version`` (its id)."""


class VersionNotFound(ObjectNotFound):
    """The key has no version of that id (deleted for good, or never made)."""


class VersionIsDeleteMarker(CatalogError):
    """A version id names a delete marker: it has no bytes or metadata to read (S3 answers
    405 MethodNotAllowed). Context: ``bucket``, ``key``, ``version``."""


class UploadNotFound(CatalogError):
    """No multipart upload of that id is in progress (completed, aborted or swept)."""


class PreconditionFailed(CatalogError):
    """A conditional write found its key's current version not as it expected (one exists
    where none was expected, or its ETag differs); nothing was written."""


class LeaseHeld(CatalogError):
    """Another run holds the job's scope (an ``apply`` or ``repair`` running elsewhere);
    context ``holder`` (host:pid), ``since`` and ``expires`` (ISO times)."""


class CatalogVersionError(CatalogError):
    """The catalog was written by a newer domicile than this one."""


class CatalogBusy(CatalogError):
    """The catalog's database could not do it now: unreachable, restarting, or the write
    lost to a concurrent one (deadlock, serialisation); nothing was written, a retry may
    succeed."""


class CatalogConflict(CatalogBusy):
    """A concurrent write took a unique row (a key, a name) first; nothing was written."""


# --- multipart uploads ------------------------------------------------------------------


class MultipartError(DomicileError):
    """A multipart upload cannot be completed with the parts listed."""


class InvalidPart(MultipartError):
    """A listed part was never uploaded, or its ETag is not the one given."""


class InvalidPartNumber(MultipartError):
    """A part number outside 1..10,000 (context ``part``)."""


class EntityTooSmall(MultipartError):
    """A part other than the last is smaller than the minimum part size (5 MiB)."""


class MissingChecksum(MultipartError):
    """A part comes without the named checksum its upload requires (context ``checksum``)."""


# --- audit ------------------------------------------------------------------------------


class AuditError(DomicileError):
    """The audit log could not be read, written or verified."""


class AuditFormatError(AuditError):
    """An audit record, checkpoint or export line is malformed (``context`` says where)."""


class AuditKeyError(AuditError):
    """The audit signing key or its public half is missing or unreadable."""


class AuditAltered(AuditError):
    """The audit chain (or the checkpoints on the sites) does not verify, so domicile
    refused to sign its head; ``context`` names the first bad record (``seq``, ``kind``)."""


class ProofInvalid(AuditAltered):
    """An inclusion or consistency proof bundle does not verify (a changed record, another
    signer, too few witnesses, a forked history): exit 12 like altered history."""


# --- object lock ------------------------------------------------------------------------


class LockError(DomicileError):
    """Object Lock forbids the operation, or cannot apply the lock asked for."""


class ObjectLocked(LockError):
    """A version under retention or legal hold cannot be deleted, lose a copy it needs,
    nor have its retention shortened; ``context`` names the version, its mode and until."""


class LockNotEnabled(LockError):
    """The bucket was created without Object Lock, so no version of it can be locked."""


class VersioningLocked(LockError):
    """A bucket with Object Lock keeps versioning enabled: it cannot be suspended."""


class InvalidRetention(LockError):
    """A retention mode, retain-until date, period or legal-hold status is malformed."""


# --- reads ------------------------------------------------------------------------------


class CopiesUnavailable(DomicileError):
    """No copy of the object could be read; ``context['faults']`` lists each failure."""

    retryable = True


# --- requests at the edge ---------------------------------------------------------------


class RequestRejected(DomicileError):
    """The gateway refuses a client request before it reaches the engine.

    ``code`` is the S3 error code to answer with (``SignatureDoesNotMatch``,
    ``MalformedXML``, ...); the gateway's table gives its HTTP status. ``headers`` are sent
    with the error (a 304 carries the object's ``ETag`` and ``Last-Modified``).
    """

    def __init__(self, message: str, *, code: str, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.code = code
        self.headers: list[tuple[str, str]] = []


class ServeError(DomicileError):
    """The gateway could not start its worker processes, or keep them running."""
