"""Turning an ``OSError`` from a site's disk into the right :class:`~domicile.errors.SiteError`.

One table, used by every site that writes to a file system:

======================  =======================  =========================================
errno                   error                    what the user should do
======================  =======================  =========================================
ENOSPC, EDQUOT, EFBIG   SiteFull                 free space, or drain the site
EACCES, EPERM, EROFS    SiteAccessDenied         fix permissions or remount read-write
anything else           SiteUnavailable          check the disk; mount, recreate, suspend
======================  =======================  =========================================
"""

from __future__ import annotations

import errno
from pathlib import Path

from domicile.errors import SiteAccessDenied, SiteError, SiteFull, SiteUnavailable

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
_DENIED = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

#: The hint for a site folder that is missing or cannot be reached.
UNAVAILABLE_HINT = "mount or recreate the folder, or set the site's status to suspended"


def site_error_from_os(
    exc: OSError,
    *,
    site: str,
    operation: str,
    path: Path,
    root: Path,
    blob: str | None = None,
) -> SiteError:
    """The :class:`SiteError` for ``exc``, naming the site, the operation, the path and errno."""
    code = errno.errorcode.get(exc.errno or 0, "EUNKNOWN")
    what = f"{operation} of blob {blob}" if blob else operation
    message = f"site {site}: {what} failed: {exc.strerror or exc} [{code}] at {path}"
    context = {"site": site, "operation": operation, "blob": blob, "path": str(path)}
    if exc.errno in _FULL:
        return SiteFull(
            message,
            hint=f"free space on the disk holding {root}, or set the site's status to "
            "draining so that new copies go to other sites",
            **context,
        )
    if exc.errno in _DENIED:
        return SiteAccessDenied(
            message,
            hint=f"let the user running domicile read and write {root} "
            "(and mount it read-write), or set the site's status to suspended",
            **context,
        )
    return SiteUnavailable(
        message, hint=f"check the disk holding {root}; {UNAVAILABLE_HINT}", **context
    )
