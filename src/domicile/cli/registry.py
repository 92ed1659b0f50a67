"""Registry commands: show, diff and adopt a residency registry file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from domicile.cli.planview import print_summary
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say
from domicile.config import load_config
from domicile.display import table
from domicile.engine.registries import (
    RegistryDiff,
    adopt_registry,
    configured_registry,
    registry_diff,
    registry_file,
    warnings_for,
)
from domicile.policy import Registry

registry_path = click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))


@click.group()
def registry() -> None:
    """The residency registry: blocs, entities and provider regions, with their dates."""


@registry.command(name="show")
@click.argument("file", required=False, type=click.Path(path_type=Path, dir_okay=False))
@pass_state
def registry_show(state: State, file: Path | None) -> None:
    """Show FILE's registry (default: the one in use): version, dates, digest, counts, the
    facts that expire, and what is out of date."""
    config = load_config(state.config_path)
    reg = registry_file(file) if file else configured_registry(config)
    warnings = warnings_for(config, reg)
    if state.as_json:
        emit_json({**_summary(reg), "warnings": list(warnings)})
        return
    t = table(f"registry {reg.version}", "field", "value")
    for name, value in _summary(reg).items():
        if name != "expiring":
            t.add_row(name, str(value))
    console.print(t)
    for fact in _summary(reg)["expiring"]:
        say(f"{fact['bloc']}: {fact['member']} valid until {fact['valid_until']}")
    for warning in warnings:
        say(("warning:", "yellow"), " ", warning)


@registry.command(name="diff")
@registry_path
@pass_state
def registry_diff_cmd(state: State, file: Path) -> None:
    """What adopting the registry in FILE would change for this deployment: the facts that
    differ, the sites whose facts change, and every residency verdict that changes."""
    config = load_config(state.config_path)
    diff = registry_diff(config, registry_file(file))
    if state.as_json:
        emit_json(_diff_json(diff))
    else:
        _print_diff(diff, file)
    if diff.error:
        raise SystemExit(3)


@registry.command(name="adopt")
@registry_path
@pass_state
def registry_adopt(state: State, file: Path) -> None:
    """Use the registry in FILE from now on ([registry] file in the configuration, comments
    kept), then show the plan it implies (run 'domicile apply' to carry it out)."""
    before = configured_registry(load_config(state.config_path))
    written = adopt_registry(state.config_path, file)
    state.reopen()
    reg = state.engine.context.world.registry
    state.engine.record_event(
        "registry_adopted",
        detail={
            "file": written,
            "from_version": before.version,
            "from_sha256": before.sha256 or "",
            "to_version": reg.version,
            "to_sha256": reg.sha256 or "",
        },
    )
    plan = state.engine.plan()
    if state.as_json:
        emit_json({"registry": written, "plan": plan.to_json()})
        return
    say(f"[registry] file = {written!r}: registry {reg.version} of {reg.date} in use")
    print_summary(plan)
    if plan.steps:
        say("run 'domicile apply' to carry it out")


def _summary(reg: Registry) -> dict[str, Any]:
    return {
        "version": reg.version,
        "date": reg.date,
        "reviewed": reg.reviewed,
        "source": reg.source,
        "sha256": reg.sha256,
        "blocs": len(reg.blocs),
        "entities": len(reg.entities),
        "templates": len(reg.templates),
        "expiring": [
            {"bloc": b.id, "member": c, "valid_until": d}
            for b in reg.blocs.values()
            for c, d in sorted(b.valid_until.items())
        ],
    }


def _diff_json(diff: RegistryDiff) -> dict[str, Any]:
    return {
        "from": {"version": diff.old.version, "date": diff.old.date, "source": diff.old.source},
        "to": {"version": diff.new.version, "date": diff.new.date, "source": diff.new.source},
        "facts": list(diff.facts),
        "sites": [{"site": c.site_id, "changes": list(c.what)} for c in diff.sites],
        "verdicts": [
            {
                "policy": v.policy,
                "site": v.site_id,
                "compliant_before": v.compliant_before,
                "compliant_after": v.compliant_after,
                "reasons_before": list(v.before),
                "reasons_after": list(v.after),
            }
            for v in diff.verdicts
        ],
        "error": diff.error,
        "warnings": list(diff.warnings),
    }


def _print_diff(diff: RegistryDiff, file: Path) -> None:
    old, new = diff.old, diff.new
    say(f"registry {old.version} of {old.date} (in use) -> {new.version} of {new.date} ({file})")
    say(f"facts that differ: {len(diff.facts)}")
    for line in diff.facts:
        say(f"  {line}")
    if diff.error:
        say(("this registry does not fit the configuration:", "bold red"), " ", diff.error)
        return
    if diff.sites:
        t = table("sites whose facts change", "site", "change")
        for c in diff.sites:
            t.add_row(c.site_id, "; ".join(c.what))
        console.print(t)
    if diff.verdicts:
        t = table("residency verdicts that change", "policy", "site", "before", "after")
        for v in diff.verdicts:
            t.add_row(v.policy, v.site_id, _verdict(v.before), _verdict(v.after))
        console.print(t)
    else:
        say("no residency verdict changes for this deployment's sites and policies")
    for warning in diff.warnings:
        say(("warning:", "yellow"), " ", warning)
    rel = os.path.relpath(file.absolute(), Path.cwd())
    say(
        f"to adopt it: 'domicile registry adopt {rel}' (or [registry] file in the "
        "configuration), then 'domicile plan' shows the moves it implies"
    )


def _verdict(reasons: tuple[str, ...]) -> str:
    return "compliant" if not reasons else "refused: " + "; ".join(reasons)


COMMANDS = (registry,)
