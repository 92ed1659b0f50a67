"""The engine: the composition root and the services behind the library, CLI and gateway."""

from __future__ import annotations

from domicile.catalog import Bucket
from domicile.engine.api import Domicile, open
from domicile.engine.apply import ApplyReport
from domicile.engine.keys import keyring_add, keyring_open
from domicile.engine.plan import REASONS, Blocked, PlanSummary, Step
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
from domicile.engine.siteconfig import set_site_status

open_deployment = open

__all__ = [
    "REASONS",
    "ApplyReport",
    "Blocked",
    "Bucket",
    "CopyInfo",
    "Deletion",
    "Domicile",
    "ListResult",
    "ObjectInfo",
    "ObjectMeta",
    "ObjectReader",
    "PlanSummary",
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
