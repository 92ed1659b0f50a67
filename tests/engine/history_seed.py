"""A deployment whose history holds a violation window: four sites, copies on ``de``, then
``de``'s operator handed to an entity under Chinese law (the eu-only policy denies CN
exposure) and ``domicile apply`` moving the copies out. The audit records' own times are
the expected window bounds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import domicile
from domicile.audit import Record
from domicile.sites import LocalSite
from tests.engine.conftest import make_deployment, put_until_on

EXTRA = """
[entities.acme-nl]
name = "ACME Netherlands B.V."
country = "NL"

[entities.acme-cn]
name = "ACME Beijing Operations Co., Ltd."
country = "CN"

[sites.nl]
country = "NL"
operator = "acme-nl"
provider = "acme"
backend = { type = "local", path = "sites/nl" }
"""

KEYS = [f"k{i}" for i in range(6)]


def deployment(root: Path, extra: str = "") -> Path:
    """Four sites (fr, de, nl in the EU; us refused), bucket docs under eu-only."""
    LocalSite.create("nl", root / "sites" / "nl")
    path = make_deployment(root, EXTRA)
    if extra:
        path.write_text(path.read_text().replace("[deployment]\n", "[deployment]\n" + extra, 1))
    return path


def fill(path: Path) -> None:
    """Put the objects, at least one of them with a copy on ``de``."""
    with domicile.open(path) as engine:
        for key in KEYS:
            engine.put("docs", key, os.urandom(200))
        put_until_on(engine, "docs", KEYS, "de", lambda: os.urandom(200))


def hand_over(path: Path, what: str = 'operator = "hetzner-online"', to: str = "") -> None:
    """Edit ``de``'s definition in the configuration (default: to operator acme-cn)."""
    to = to or 'operator = "acme-cn"'
    path.write_text(path.read_text().replace(what, to, 1))


def apply(path: Path) -> None:
    with domicile.open(path) as engine:
        report = engine.apply()
        assert report.removed and not report.failed, report


@dataclass
class Expected:
    """The records that bound the window: the site change, and each copy's removal."""

    change: Record
    removals: dict[str, Record]  # version id -> its placement_removed from de


def expected(path: Path) -> Expected:
    with domicile.open(path) as engine:
        records = list(engine.audit.records())
    change = next(r for r in records if r.action == "site_change" and r.sites == ("de",))
    removals = {
        str(r.version): r for r in records if r.action == "placement_removed" and r.sites == ("de",)
    }
    return Expected(change, removals)


def seconds(record: Record) -> float:
    return record.time / 1_000_000
