"""Bucket commands: mb (make bucket), rb (remove bucket)."""

from __future__ import annotations

from dataclasses import asdict

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import emit_json, say


@click.command()
@click.argument("name")
@click.option("--policy", required=True, help="The residency policy the bucket is bound to.")
@click.option("--tenant", default="default", show_default=True)
@pass_state
def mb(state: State, name: str, policy: str, tenant: str) -> None:
    """Make a bucket NAME bound to a residency policy."""
    bucket = state.engine.create_bucket(name, policy, tenant)
    if state.as_json:
        emit_json(asdict(bucket))
    else:
        say(f"bucket {bucket.name} created under policy {bucket.policy}")


@click.command()
@click.argument("name")
@pass_state
def rb(state: State, name: str) -> None:
    """Remove the empty bucket NAME."""
    state.engine.delete_bucket(name)
    if state.as_json:
        emit_json({"bucket": name, "removed": True})
    else:
        say(f"bucket {name} removed")


COMMANDS = (mb, rb)
