"""domicile: keep encrypted copies of your objects only where your policy allows, and prove it.

The library in one call::

    import domicile

    with domicile.open("domicile-data/domicile.toml") as d:
        d.put("reports", "2026/q3.pdf", open("q3.pdf", "rb"))
        for copy in d.where("reports", "2026/q3.pdf"):
            print(copy.site_id, copy.country, copy.operator, copy.subject_to)
        data = d.get("reports", "2026/q3.pdf").read()

The engine's names are loaded on first use, so that importing one core (``domicile.crypto``,
``domicile.policy``) does not load the whole engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from domicile import errors
from domicile.errors import DomicileError
from domicile.types import ByteRange

if TYPE_CHECKING:
    from domicile.engine import (
        CopyInfo,
        Domicile,
        ListResult,
        ObjectInfo,
        ObjectMeta,
        ObjectReader,
        SiteView,
        init_deployment,
        open,
    )

__version__ = "0.1.0.dev0"

_ENGINE_NAMES = frozenset(
    {
        "CopyInfo",
        "Domicile",
        "ListResult",
        "ObjectInfo",
        "ObjectMeta",
        "ObjectReader",
        "SiteView",
        "init_deployment",
        "open",
    }
)

__all__ = [
    "ByteRange",
    "CopyInfo",
    "Domicile",
    "DomicileError",
    "ListResult",
    "ObjectInfo",
    "ObjectMeta",
    "ObjectReader",
    "SiteView",
    "__version__",
    "errors",
    "init_deployment",
    "open",
]


def __getattr__(name: str) -> Any:
    if name in _ENGINE_NAMES:
        return getattr(importlib.import_module("domicile.engine"), name)
    raise AttributeError(f"module 'domicile' has no attribute {name!r}")
