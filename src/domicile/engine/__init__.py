"""The engine: the composition root and the services behind the library, CLI and gateway."""

from __future__ import annotations

from domicile.catalog import Bucket
from domicile.engine.api import Domicile, open
from domicile.engine.configedit import set_site_status
from domicile.engine.keys import keyring_add, keyring_open
from domicile.engine.plan import ApplyReport, Plan, Step
from domicile.engine.records import (
    CopyInfo,
    Deletion,
    ListResult,
    ObjectInfo,
    ObjectMeta,
    ObjectReader,
    SiteView,
    VersionsList,
)
from domicile.engine.setup import example_config, init_deployment

open_deployment = open

__all__ = [
    "ApplyReport",
    "Bucket",
    "CopyInfo",
    "Deletion",
    "Domicile",
    "ListResult",
    "ObjectInfo",
    "ObjectMeta",
    "ObjectReader",
    "Plan",
    "SiteView",
    "Step",
    "VersionsList",
    "example_config",
    "init_deployment",
    "keyring_add",
    "keyring_open",
    "open",
    "open_deployment",
    "set_site_status",
]
