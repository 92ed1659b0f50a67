"""Build a :class:`World` from the ``[entities]``, ``[sites]`` and ``[policies]`` tables.

The configuration layer parses the TOML file and hands the three tables over as plain
mappings with the file's path; every mistake found here is a :class:`ConfigError` naming
the file, the key path (``sites.gra.country``) and a hint (often "did you mean ...?").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domicile.errors import ConfigError
from domicile.policy.compiled import Compiled, compiled
from domicile.policy.countries import countries, normalize_country, suggest
from domicile.policy.model import Distinct, Entity, Policy, SiteSpec, SiteStatus
from domicile.policy.registry import Registry, load_registry
from domicile.policy.world import World

ENTITY_KEYS = ("name", "country", "parent", "also_subject_to", "source", "as_of", "note")
SITE_KEYS = ("template", "backend", "country", "operator", "provider", "status", "lock")
POLICY_KEYS = (
    "allow",
    "deny",
    "deny_subject_to",
    "copies",
    "distinct",
    "recipients",
    "audit_reads",
    "require",
    "pq",
)


def load_world(
    entities: Mapping[str, Any],
    sites: Mapping[str, Any],
    policies: Mapping[str, Any],
    *,
    source: str,
    registry: Registry | None = None,
) -> World:
    """Validate the three tables against ``registry`` (default: the shipped one).

    Raises :class:`ConfigError` for a malformed table, an unknown key, a misspelled
    country, bloc, entity or template, a parent cycle, and a policy that can never be
    met (``copies`` larger than the distinct failure domains of its compliant sites).
    """
    reg = registry or load_registry()
    where = _Where(source)
    own = {eid: _entity(where, eid, body) for eid, body in _tables(where, "entities", entities)}
    every = {**reg.entities, **own}
    world = World(
        registry=reg,
        entities=every,
        sites={
            sid: _site(where, reg, every, sid, body) for sid, body in _tables(where, "sites", sites)
        },
        policies={
            name: _policy(where, name, body) for name, body in _tables(where, "policies", policies)
        },
        source=source,
    )
    for policy in world.policies.values():
        check_satisfiable(world, policy)
    return world


def check_satisfiable(world: World, policy: Policy) -> None:
    """ConfigError unless the policy's compliant, non-retired sites span ``copies`` domains."""
    plan = compiled(world, policy)
    _check_required(world, policy, plan)
    capacity = plan.capacity(world)
    if capacity >= policy.copies:
        return
    ok_sites = sorted(s for s in world.sites if s not in plan.residency)
    distinct = policy.distinct.value
    raise ConfigError(
        f"{world.source}: policies.{policy.name}.copies: {policy.copies} copies on distinct "
        f"{distinct}s can never be met: the compliant sites ({', '.join(ok_sites) or 'none'}) "
        f"span {capacity} {distinct}(s)",
        hint=f"lower copies to {capacity} or less, widen allow, or add compliant sites "
        f"in other {distinct}s ('domicile sites' lists them)"
        if capacity
        else "no configured site satisfies this policy: check allow, deny and "
        "deny_subject_to against your sites ('domicile sites' lists them)",
        file=world.source,
        key=f"policies.{policy.name}.copies",
    )


def _check_required(world: World, policy: Policy, plan: Compiled) -> None:
    key = f"policies.{policy.name}.require"
    if len(policy.require) > policy.copies:
        raise ConfigError(
            f"{world.source}: {key}: {len(policy.require)} required places but only "
            f"{policy.copies} copies",
            hint="raise copies or require fewer places",
            file=world.source,
            key=key,
        )
    for term, places in zip(policy.require, plan.required, strict=True):
        if not any(
            world.sites[s].country in places
            for s in world.sites
            if s not in plan.residency and world.sites[s].status is not SiteStatus.RETIRED
        ):
            raise ConfigError(
                f"{world.source}: {key}: no compliant site is in {term}",
                hint=f"add a site in {term} that the policy allows, or drop the requirement",
                file=world.source,
                key=key,
            )


class _Where:
    """Error construction for one configuration file."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, key: str, message: str, hint: str) -> ConfigError:
        return ConfigError(f"{self.source}: {key}: {message}", hint=hint, file=self.source, key=key)

    def check_keys(self, key: str, body: Mapping[str, Any], known: tuple[str, ...]) -> None:
        for k in body:
            if k not in known:
                raise self.error(
                    f"{key}.{k}",
                    "unknown key",
                    suggest(k, known, what="a known key") + f" (known: {', '.join(known)})",
                )

    def string(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(key, f"expected a non-empty string, got {value!r}", "quote it")
        return value.strip()

    def strings(self, key: str, value: Any) -> tuple[str, ...]:
        if isinstance(value, str) or not isinstance(value, list | tuple):
            raise self.error(
                key, f"expected a list of strings, got {value!r}", f'write ["{value}"]'
            )
        return tuple(self.string(f"{key}[{i}]", v) for i, v in enumerate(value))

    def country(self, key: str, value: Any) -> str:
        text = self.string(key, value)
        code = normalize_country(text)
        if code is None:
            raise self.error(
                key,
                f"{text!r} is not an ISO 3166-1 alpha-2 country code",
                suggest(text, countries(), what="a country code"),
            )
        return code


def _tables(where: _Where, name: str, section: Mapping[str, Any]) -> list[tuple[str, Any]]:
    if not isinstance(section, Mapping):
        raise where.error(name, "must be a table", f"write it as [{name}.<id>] tables")
    out = []
    for key, body in section.items():
        if not isinstance(body, Mapping):
            raise where.error(
                f"{name}.{key}", "must be a table", f"write it as [{name}.{key}] and key = value"
            )
        out.append((str(key), body))
    return out


def _entity(where: _Where, eid: str, body: Mapping[str, Any]) -> Entity:
    key = f"entities.{eid}"
    where.check_keys(key, body, ENTITY_KEYS)
    if "country" not in body:
        raise where.error(f"{key}.country", "missing", "add the country of incorporation")
    parent = body.get("parent")
    return Entity(
        id=eid,
        name=where.string(f"{key}.name", body.get("name", eid)),
        country=where.country(f"{key}.country", body["country"]),
        parent=None if parent is None else where.string(f"{key}.parent", parent),
        also_subject_to=tuple(
            where.country(f"{key}.also_subject_to", c)
            for c in where.strings(f"{key}.also_subject_to", body.get("also_subject_to", []))
        ),
        source=body.get("source"),
        as_of=None if body.get("as_of") is None else str(body["as_of"]),
        note=body.get("note"),
    )


def _site(
    where: _Where, reg: Registry, every: Mapping[str, Entity], sid: str, body: Mapping[str, Any]
) -> SiteSpec:
    key = f"sites.{sid}"
    where.check_keys(key, body, SITE_KEYS)
    fields: dict[str, str] = {}
    template = body.get("template")
    if template is not None:
        template = where.string(f"{key}.template", template)
        tpl = reg.templates.get(template)
        if tpl is None:
            raise where.error(
                f"{key}.template",
                f"unknown template {template!r}",
                suggest(template, reg.templates, what="a registry template"),
            )
        fields = {"country": tpl.country, "operator": tpl.operator, "provider": tpl.provider}
    for name in ("country", "operator", "provider"):
        if name in body:
            fields[name] = where.string(f"{key}.{name}", body[name])
    for name in ("country", "operator"):
        if name not in fields:
            raise where.error(
                f"{key}.{name}", "missing", f"set {name}, or a template that provides it"
            )
    backend = body.get("backend", {})
    if not isinstance(backend, Mapping):
        raise where.error(f"{key}.backend", "must be a table", 'write backend = { type = "..." }')
    return SiteSpec(
        id=sid,
        country=where.country(f"{key}.country", fields["country"]),
        operator=fields["operator"],
        provider=fields.get("provider") or _root(every, fields["operator"]),
        status=_status(where, f"{key}.status", body.get("status", "active")),
        backend=backend,
        template=template,
        lock=_lock(where, f"{key}.lock", body.get("lock")),
    )


def _lock(where: _Where, key: str, value: Any) -> str | None:
    if value is None:
        return None
    text = where.string(key, value).lower()
    if text not in ("mirror", "off"):
        raise where.error(key, f"unknown lock {value!r}", 'write lock = "mirror", or leave it out')
    return None if text == "off" else text


def _status(where: _Where, key: str, value: Any) -> SiteStatus:
    text = where.string(key, value).lower()
    try:
        return SiteStatus(text)
    except ValueError:
        raise where.error(
            key, f"unknown status {value!r}", suggest(text, list(SiteStatus), what="a status")
        ) from None


def _policy(where: _Where, name: str, body: Mapping[str, Any]) -> Policy:
    key = f"policies.{name}"
    where.check_keys(key, body, POLICY_KEYS)
    if "allow" not in body:
        raise where.error(
            f"{key}.allow", "missing", 'say where copies may rest, e.g. allow = ["EU"]'
        )
    copies = body.get("copies", 1)
    if isinstance(copies, bool) or not isinstance(copies, int) or copies < 1:
        raise where.error(f"{key}.copies", f"expected an integer >= 1, got {copies!r}", "e.g. 2")
    distinct = where.string(f"{key}.distinct", body.get("distinct", "provider")).lower()
    if distinct not in list(Distinct):
        raise where.error(
            f"{key}.distinct",
            f"unknown failure domain {distinct!r}",
            suggest(distinct, list(Distinct), what="provider, site or country"),
        )
    audit = body.get("audit_reads", False)
    if not isinstance(audit, bool):
        raise where.error(
            f"{key}.audit_reads",
            f"expected true or false, got {audit!r}",
            "write true or false, unquoted",
        )
    pq = body.get("pq", False)
    if not isinstance(pq, bool):
        raise where.error(
            f"{key}.pq",
            f"expected true or false, got {pq!r}",
            "write true or false, unquoted",
        )
    return Policy(
        name=name,
        allow=where.strings(f"{key}.allow", body["allow"]),
        deny=where.strings(f"{key}.deny", body.get("deny", [])),
        deny_subject_to=where.strings(f"{key}.deny_subject_to", body.get("deny_subject_to", [])),
        copies=copies,
        distinct=Distinct(distinct),
        recipients=where.strings(f"{key}.recipients", body.get("recipients", [])),
        audit_reads=audit,
        require=where.strings(f"{key}.require", body.get("require", [])),
        pq=pq,
    )


def _root(every: Mapping[str, Entity], operator: str) -> str:
    """The top of the operator's parent chain: the default failure domain of a site."""
    seen = {operator}
    root = operator
    parent = every[operator].parent if operator in every else None
    while parent is not None and parent in every and parent not in seen:
        seen.add(parent)
        root = parent
        parent = every[parent].parent
    return root
