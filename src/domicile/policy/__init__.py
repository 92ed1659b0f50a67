"""The residency model: who operates each site, under which laws, and where copies may rest.

A pure core: no I/O besides loading its own data files (the registry and the ISO 3166
country list). The engine builds a :class:`World` with :func:`load_world` and asks
:func:`decide` before every write and :func:`check_copy` for every existing copy.
"""

from __future__ import annotations

from domicile.policy.compiled import Compiled, compiled
from domicile.policy.countries import countries, normalize_country
from domicile.policy.explain import explain_json, explain_text
from domicile.policy.loading import check_satisfiable, load_world
from domicile.policy.model import Distinct, Entity, Exposure, Policy, SiteSpec, SiteStatus
from domicile.policy.placement import Decision, check_copy, decide
from domicile.policy.registry import (
    Bloc,
    Registry,
    Template,
    load_registry,
    parse_registry,
    registry_warnings,
)
from domicile.policy.verdicts import CODES, RESIDENCY_CODES, Reason, Verdict
from domicile.policy.world import World, subject_to

__all__ = [
    "CODES",
    "RESIDENCY_CODES",
    "Bloc",
    "Compiled",
    "Decision",
    "Distinct",
    "Entity",
    "Exposure",
    "Policy",
    "Reason",
    "Registry",
    "SiteSpec",
    "SiteStatus",
    "Template",
    "Verdict",
    "World",
    "check_copy",
    "check_satisfiable",
    "compiled",
    "countries",
    "decide",
    "explain_json",
    "explain_text",
    "load_registry",
    "load_world",
    "normalize_country",
    "parse_registry",
    "registry_warnings",
    "subject_to",
]
