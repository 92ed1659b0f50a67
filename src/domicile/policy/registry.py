"""The shipped registry: country blocs, operator entities and provider regions (templates).

The data lives in ``data/registry.toml`` inside this package; every bloc, entity and
template carries the public ``source`` it was checked against and the ``as_of`` date. The
registry as a whole carries ``reviewed`` (when its facts were last checked against their
sources), and a fact that expires carries ``valid_until`` (a bloc's per-member table, e.g.
a time-limited adequacy decision). :func:`load_registry` parses and validates the shipped
file once per process (another file, a newer one an operator loads, is read by the engine
and validated by :func:`parse_registry`); :func:`registry_warnings` says when a registry
is older than an age or a fact has expired (the registry is still applied as written:
only a new registry changes verdicts).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from domicile.errors import ConfigError
from domicile.policy.countries import normalize_country
from domicile.policy.model import Entity

REGISTRY_FILE = "domicile/policy/data/registry.toml"


@dataclass(frozen=True, slots=True)
class Bloc:
    """A named group of countries; ``limits`` notes, per member, where membership is partial."""

    id: str
    name: str
    members: frozenset[str]
    limits: Mapping[str, str]
    source: str
    as_of: str
    note: str | None = None
    #: Per member, the last day its membership is valid (ISO date), for facts that expire.
    valid_until: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Template:
    """A well-known provider region that a site can be filled from (``provider:region``)."""

    id: str
    name: str
    country: str
    operator: str
    provider: str
    source: str
    as_of: str
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Registry:
    """Versioned, dated reference data: blocs, entities and templates, by id."""

    version: str
    date: str
    blocs: Mapping[str, Bloc]
    entities: Mapping[str, Entity]
    templates: Mapping[str, Template]
    #: When the facts were last checked against their sources as a whole (ISO date).
    reviewed: str = ""
    #: Where it was read from (the shipped file's package path, or a file's path).
    source: str = ""
    #: The SHA-256 (hex) of the file's bytes, when read from a file.
    sha256: str | None = None


@cache
def load_registry() -> Registry:
    """The registry shipped with this version of domicile (parsed once, then cached)."""
    data = _shipped()
    return parse_registry(
        tomllib.loads(data.decode("utf-8")),
        source=REGISTRY_FILE,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def registry_warnings(registry: Registry, *, today: dt.date, max_age_days: int) -> tuple[str, ...]:
    """What is out of date in ``registry`` on ``today``: its review older than
    ``max_age_days``, and every fact whose ``valid_until`` has passed."""
    out = []
    reviewed = dt.date.fromisoformat(registry.reviewed or registry.date)
    age = (today - reviewed).days
    if age > max_age_days:
        out.append(
            f"the residency registry {registry.version} was last reviewed on "
            f"{reviewed.isoformat()}, {age} days ago (more than [registry] max_age_days = "
            f"{max_age_days}): its facts may be out of date; load a newer registry file "
            "with 'domicile registry diff FILE' to see what it changes"
        )
    for bloc in registry.blocs.values():
        for country, until in sorted(bloc.valid_until.items()):
            if dt.date.fromisoformat(until) < today:
                out.append(
                    f"registry fact expired on {until}: {country} in bloc {bloc.id} "
                    f"({bloc.limits.get(country) or bloc.name}); it is still applied as "
                    "written until a registry that renews or drops it is adopted"
                )
    return tuple(out)


def _shipped() -> bytes:
    return resources.files("domicile.policy").joinpath("data/registry.toml").read_bytes()


def parse_registry(doc: Mapping[str, Any], *, source: str, sha256: str | None = None) -> Registry:
    """Validate a parsed registry document; :class:`ConfigError` names the bad key."""
    head = _table(doc, "registry", source)
    date = _date(_str(head, "date", source, "registry"), source, "registry.date")
    blocs = {
        bid: _bloc(bid, _table(body, "", source, f"blocs.{bid}"), source)
        for bid, body in _table(doc, "blocs", source).items()
    }
    entities = {
        eid: _entity(eid, _table(body, "", source, f"entities.{eid}"), source)
        for eid, body in _table(doc, "entities", source).items()
    }
    templates = {
        tid: _template(tid, _table(body, "", source, f"templates.{tid}"), source)
        for tid, body in _table(doc, "templates", source).items()
    }
    for ent in entities.values():
        if ent.parent is not None and ent.parent not in entities:
            raise _error(source, f"entities.{ent.id}.parent", f"unknown entity {ent.parent!r}")
    for tpl in templates.values():
        if tpl.operator not in entities:
            raise _error(source, f"templates.{tpl.id}.operator", f"unknown {tpl.operator!r}")
    reviewed = head.get("reviewed", date)
    return Registry(
        version=_str(head, "version", source, "registry"),
        date=date,
        blocs=MappingProxyType(blocs),
        entities=MappingProxyType(entities),
        templates=MappingProxyType(templates),
        reviewed=_date(reviewed, source, "registry.reviewed"),
        source=source,
        sha256=sha256,
    )


def _bloc(bid: str, body: Mapping[str, Any], source: str) -> Bloc:
    where = f"blocs.{bid}"
    members = frozenset(_country(c, source, f"{where}.members") for c in body.get("members", []))
    limits = {
        _country(c, source, f"{where}.limits"): str(text)
        for c, text in dict(body.get("limits", {})).items()
    }
    stray = sorted(set(limits) - members)
    if stray:
        raise _error(source, f"{where}.limits", f"limits for non-members {stray}")
    valid_until = {
        _country(c, source, f"{where}.valid_until"): _date(d, source, f"{where}.valid_until.{c}")
        for c, d in dict(body.get("valid_until", {})).items()
    }
    stray = sorted(set(valid_until) - members)
    if stray:
        raise _error(source, f"{where}.valid_until", f"dates for non-members {stray}")
    return Bloc(
        id=bid,
        name=_str(body, "name", source, where),
        members=members,
        limits=MappingProxyType(limits),
        source=_str(body, "source", source, where),
        as_of=_str(body, "as_of", source, where),
        note=body.get("note"),
        valid_until=MappingProxyType(valid_until),
    )


def _entity(eid: str, body: Mapping[str, Any], source: str) -> Entity:
    where = f"entities.{eid}"
    return Entity(
        id=eid,
        name=_str(body, "name", source, where),
        country=_country(_str(body, "country", source, where), source, f"{where}.country"),
        parent=body.get("parent"),
        also_subject_to=tuple(
            _country(c, source, f"{where}.also_subject_to") for c in body.get("also_subject_to", [])
        ),
        source=_str(body, "source", source, where),
        as_of=_str(body, "as_of", source, where),
        note=body.get("note"),
    )


def _template(tid: str, body: Mapping[str, Any], source: str) -> Template:
    where = f"templates.{tid}"
    return Template(
        id=tid,
        name=_str(body, "name", source, where),
        country=_country(_str(body, "country", source, where), source, f"{where}.country"),
        operator=_str(body, "operator", source, where),
        provider=_str(body, "provider", source, where),
        source=_str(body, "source", source, where),
        as_of=_str(body, "as_of", source, where),
        note=body.get("note"),
    )


def _table(doc: Mapping[str, Any], name: str, source: str, where: str = "") -> Mapping[str, Any]:
    value = doc.get(name, {}) if name else doc
    if not isinstance(value, Mapping):
        raise _error(source, where or name, "expected a table")
    return value


def _str(body: Mapping[str, Any], key: str, source: str, where: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise _error(source, f"{where}.{key}", "a non-empty string is required")
    return value


def _date(value: Any, source: str, key: str) -> str:
    """An ISO date (``2025-12-27``; a TOML date too), as its ISO string."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise _error(source, key, f"{value!r} is not a date (YYYY-MM-DD)") from None


def _country(text: Any, source: str, key: str) -> str:
    code = normalize_country(text) if isinstance(text, str) else None
    if code is None:
        raise _error(source, key, f"{text!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _error(source: str, key: str, message: str) -> ConfigError:
    return ConfigError(
        f"{source}: {key}: {message}",
        hint="fix this entry of the registry file (if it is the shipped one, reinstall domicile)",
        file=source,
        key=key,
    )
