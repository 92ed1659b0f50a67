"""Residency commands: sites, policy explain."""

from __future__ import annotations

from dataclasses import asdict

import click

from domicile.cli.plans import plan_json, print_plan
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say, styled
from domicile.display import table
from domicile.engine import set_site_status
from domicile.policy import explain_json, explain_text


@click.group(invoke_without_command=True)
@click.pass_context
def sites(ctx: click.Context) -> None:
    """The configured sites: country, operator, legal exposure, status and health."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    assert state is not None
    if state.as_json:
        emit_json([asdict(v) for v in state.engine.sites()])
        return
    print_sites(state)


def print_sites(state: State) -> None:
    """The sites table."""
    views = state.engine.sites()
    t = table("sites", "site", "country", "operator", "provider", "subject to", "status", "health")
    for v in views:
        if not v.healthy:
            health = styled(("open", "red"), f" {v.last_error}")
        elif v.latency_ms is not None:
            health = styled(("ok", "green"), f" {v.latency_ms:.1f} ms")
            if v.p99_ms is not None:
                health.append(f" (p50 {v.p50_ms:.1f}, p99 {v.p99_ms:.1f})")
        else:
            health = styled(("ok", "green"))
        t.add_row(
            v.site_id,
            v.country,
            v.operator,
            v.provider,
            ", ".join(v.subject_to),
            v.status,
            health,
        )
    console.print(t)


@sites.command(name="set-status")
@click.argument("site")
@click.argument("status", type=click.Choice(["active", "draining", "suspended", "retired"]))
@pass_state
def sites_set_status(state: State, site: str, status: str) -> None:
    """Set SITE's STATUS in the configuration, then show the plan it calls for."""
    previous = set_site_status(state.config_path, site, status)
    state.reopen()
    state.engine.record_event("site_status", sites=(site,), detail={"from": previous, "to": status})
    plan = state.engine.plan()
    if state.as_json:
        emit_json({"site": site, "previous": previous, "status": status, "plan": plan_json(plan)})
        return
    say(f"site {site}: {previous} -> {status}")
    print_plan(plan)
    if not plan.empty:
        say("run 'domicile apply' to carry it out")


@click.group()
def policy() -> None:
    """Residency policies."""


@policy.command(name="explain")
@click.argument("bucket")
@pass_state
def policy_explain(state: State, bucket: str) -> None:
    """Which sites a new object in BUCKET would go to, and why each other site is refused."""
    decision = state.engine.explain(bucket)
    if state.as_json:
        emit_json(explain_json(decision))
    else:
        click.echo(explain_text(decision))


COMMANDS = (sites, policy)
