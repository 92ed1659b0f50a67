"""Storage sites: the :class:`Site` protocol, its implementations and its wrappers.

Adapters here import only the floor (``domicile.errors``, ``domicile.types``): no site knows
of objects, policies, keys or the catalog.
"""

from domicile.sites.base import (
    BlobInfo,
    Leftover,
    LocksBlobs,
    Site,
    SweepsTemp,
    check_blob_id,
    new_blob_id,
)
from domicile.sites.factory import open_site
from domicile.sites.faulty import FaultySite
from domicile.sites.local import LocalSite
from domicile.sites.memory import MemorySite
from domicile.sites.wrappers import ReadOnlySite, RetryingSite

__all__ = [
    "BlobInfo",
    "FaultySite",
    "Leftover",
    "LocalSite",
    "LocksBlobs",
    "MemorySite",
    "ReadOnlySite",
    "RetryingSite",
    "Site",
    "SweepsTemp",
    "check_blob_id",
    "new_blob_id",
    "open_site",
]
