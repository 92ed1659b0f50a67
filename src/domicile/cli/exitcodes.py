"""The one table from errors to exit codes (documented in docs/cli.md)."""

from __future__ import annotations

from domicile import errors as e

OK = 0
UNEXPECTED = 1
USAGE = 2  # click's own code for bad usage
#: A residency refusal: also ``policy explain`` when its decision is REFUSED.
RESIDENCY_REFUSED = 5

#: Most specific classes first; the first ``isinstance`` match wins.
EXIT_CODES: tuple[tuple[type[e.DomicileError], int], ...] = (
    (e.ConfigError, 3),
    (e.BucketNotFound, 4),
    (e.ObjectNotFound, 4),
    (e.VersionIsDeleteMarker, 4),
    (e.BlobNotFound, 4),
    (e.ResidencyError, RESIDENCY_REFUSED),
    (e.CryptoError, 6),
    (e.SiteError, 7),
    (e.CopiesUnavailable, 7),
    (e.InvalidName, 8),
    (e.InvalidRange, 8),
    (e.InvalidRetention, 8),
    (e.BucketAlreadyExists, 9),
    (e.BucketNotEmpty, 9),
    (e.SiteNotEmpty, 9),
    (e.PreconditionFailed, 9),
    (e.LeaseHeld, 9),
    (e.CatalogError, 10),
    (e.AuditAltered, 12),
    (e.LockError, 15),
)


def exit_code(error: e.DomicileError) -> int:
    """The exit code for ``error``: the first matching row of :data:`EXIT_CODES`, else 1."""
    return next((code for cls, code in EXIT_CODES if isinstance(error, cls)), UNEXPECTED)
