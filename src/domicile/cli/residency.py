"""Residency commands: sites, policy explain."""

from __future__ import annotations

from dataclasses import asdict

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, table
from domicile.policy import explain_json, explain_text


@click.command()
@pass_state
def sites(state: State) -> None:
    """The configured sites: country, operator, legal exposure, status and health."""
    if state.as_json:
        emit_json([asdict(v) for v in state.engine.sites()])
        return
    print_sites(state)


def print_sites(state: State) -> None:
    """The sites table."""
    views = state.engine.sites()
    t = table("sites", "site", "country", "operator", "provider", "subject to", "status", "health")
    for v in views:
        health = "[green]ok[/]" if v.healthy else f"[red]failing[/] {v.last_error}"
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
