"""The residency registry a deployment uses, its warnings, and what another one changes.

A deployment uses the registry shipped with domicile unless ``[registry] file`` names
another file (a newer registry an operator adopted). :func:`registry_diff` compares the
registry in use with a candidate file over this deployment's configuration: the facts that
differ, the sites whose country, operator chain or failure domain change, and the
(policy, site) residency verdicts that change — what ``domicile registry diff FILE`` shows
before the file is adopted (after which ``domicile plan`` lists the moves it implies).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from domicile.config import Config, load_config
from domicile.config.edit import edit_config, set_table_key
from domicile.errors import ConfigError
from domicile.policy import (
    Bloc,
    Entity,
    Registry,
    Template,
    World,
    check_copy,
    load_registry,
    load_world,
    parse_registry,
    registry_warnings,
    subject_to,
)

_V = TypeVar("_V")


def registry_file(path: str | os.PathLike[str]) -> Registry:
    """The registry in the file at ``path`` (same format as the shipped one); ConfigError
    naming the file when it cannot be read or is not a valid registry."""
    path = Path(path).absolute()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the registry file {path}: {exc.strerror}",
            hint="check the path ([registry] file is relative to the configuration file)",
            file=str(path),
        ) from None
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} is not valid TOML: {exc}", hint="fix the syntax", file=str(path)
        ) from None
    return parse_registry(doc, source=str(path), sha256=hashlib.sha256(data).hexdigest())


def configured_registry(config: Config) -> Registry:
    """The registry ``config`` uses: ``[registry] file``, else the shipped one."""
    path = config.registry_path
    return load_registry() if path is None else registry_file(path)


def world_of(config: Config, registry: Registry | None = None) -> World:
    """``config``'s residency world over ``registry`` (default: the one it uses)."""
    return load_world(
        config.entities,
        config.sites,
        config.policies,
        source=str(config.path),
        registry=registry or configured_registry(config),
    )


def check_world(config: Config) -> None:
    """ConfigError unless ``config``'s entities, sites and policies make a valid world over
    the registry it uses (the check of every configuration edit)."""
    world_of(config)


def warnings_for(
    config: Config, registry: Registry, today: dt.date | None = None
) -> tuple[str, ...]:
    """What is out of date in ``registry`` today, by ``config``'s ``max_age_days``."""
    return registry_warnings(
        registry,
        today=today or dt.datetime.now(dt.UTC).date(),
        max_age_days=config.registry.max_age_days,
    )


@dataclass(frozen=True, slots=True)
class SiteChange:
    """A site whose residency facts differ: ``what`` lists ``field: before -> after``."""

    site_id: str
    what: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VerdictChange:
    """A (policy, site) pair whose residency verdict changes (``before``/``after``: the
    reasons a copy there is refused, empty when compliant)."""

    policy: str
    site_id: str
    compliant_before: bool
    compliant_after: bool
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RegistryDiff:
    """What adopting ``new`` instead of ``old`` changes for one deployment."""

    old: Registry
    new: Registry
    facts: tuple[str, ...]
    sites: tuple[SiteChange, ...] = ()
    verdicts: tuple[VerdictChange, ...] = ()
    #: Why the configuration does not load over the new registry (None when it does).
    error: str | None = None
    warnings: tuple[str, ...] = ()


def adopt_registry(config_path: Path, file: Path) -> str:
    """Write ``[registry] file`` (relative to the configuration file when under its
    folder), once the configuration is known to load over that registry; return the value
    written."""
    config = load_config(config_path)
    target = file.absolute()
    try:
        value = str(target.relative_to(config.base_dir))
    except ValueError:
        value = str(target)
    registry_file(target)  # a clear error for a bad file before anything else
    edit_config(
        config.path,
        lambda doc: set_table_key(doc, "registry", "file", value),
        check=check_world,
    )
    return value


def registry_diff(config: Config, candidate: Registry) -> RegistryDiff:
    """Compare the registry ``config`` uses with ``candidate``, over ``config``."""
    current = configured_registry(config)
    old_world = world_of(config, current)
    facts = fact_changes(current, candidate)
    notes = warnings_for(config, candidate)
    try:
        new_world = world_of(config, candidate)
    except ConfigError as exc:
        return RegistryDiff(current, candidate, facts, error=str(exc), warnings=notes)
    return RegistryDiff(
        current,
        candidate,
        facts,
        sites=_site_changes(old_world, new_world),
        verdicts=_verdict_changes(old_world, new_world),
        warnings=notes,
    )


def fact_changes(old: Registry, new: Registry) -> tuple[str, ...]:
    """One line per fact that differs between two registries."""
    out = _changed(
        ("version", old.version, new.version),
        ("date", old.date, new.date),
        ("reviewed", old.reviewed, new.reviewed),
    )
    out += _keyed("bloc", old.blocs, new.blocs, _bloc_facts)
    out += _keyed("entity", old.entities, new.entities, _entity_facts)
    out += _keyed("template", old.templates, new.templates, _template_facts)
    return tuple(out)


def _changed(*facts: tuple[str, str, str]) -> list[str]:
    """``name: before -> after`` for each (name, before, after) that differs."""
    return [f"{name}: {a} -> {b}" for name, a, b in facts if a != b]


def _keyed(
    kind: str,
    old: Mapping[str, _V],
    new: Mapping[str, _V],
    facts: Callable[[_V], Mapping[str, str]],
) -> list[str]:
    out = [f"{kind} {k}: added" for k in sorted(set(new) - set(old))]
    out += [f"{kind} {k}: removed" for k in sorted(set(old) - set(new))]
    for k in sorted(set(old) & set(new)):
        before, after = facts(old[k]), facts(new[k])
        out += [
            f"{kind} {k}: {name} {before.get(name, '-')} -> {after.get(name, '-')}"
            for name in sorted(set(before) | set(after))
            if before.get(name) != after.get(name)
        ]
    return out


def _bloc_facts(bloc: Bloc) -> dict[str, str]:
    out = {f"member {c}": "yes" for c in bloc.members}
    out |= {f"limit {c}": text for c, text in bloc.limits.items()}
    out |= {f"{c} valid until": until for c, until in bloc.valid_until.items()}
    return out


def _entity_facts(entity: Entity) -> dict[str, str]:
    return {
        "country": entity.country,
        "parent": entity.parent or "-",
        "also_subject_to": ", ".join(entity.also_subject_to) or "-",
    }


def _template_facts(template: Template) -> dict[str, str]:
    return {
        "country": template.country,
        "operator": template.operator,
        "provider": template.provider,
    }


def _site_changes(old: World, new: World) -> tuple[SiteChange, ...]:
    out = []
    for sid, before in old.sites.items():
        after = new.sites[sid]
        what = _changed(
            ("country", before.country, after.country),
            ("operator", before.operator, after.operator),
            ("provider", before.provider, after.provider),
            ("subject to", _exposure(old, before.operator), _exposure(new, after.operator)),
        )
        if what:
            out.append(SiteChange(sid, tuple(what)))
    return tuple(out)


def _exposure(world: World, operator: str) -> str:
    return ", ".join(j for j, _ in subject_to(world, operator)) or "-"


def _verdict_changes(old: World, new: World) -> tuple[VerdictChange, ...]:
    out = []
    for name, policy in sorted(old.policies.items()):
        for sid in sorted(old.sites):
            a = check_copy(policy, old, sid)
            b = check_copy(new.policies[name], new, sid)
            before = tuple(r.text for r in a.reasons if r.residency)
            after = tuple(r.text for r in b.reasons if r.residency)
            if before != after:
                out.append(VerdictChange(name, sid, a.compliant, b.compliant, before, after))
    return tuple(out)
