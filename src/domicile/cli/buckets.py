"""Bucket commands: mb (make bucket), rb (remove bucket), versioning."""

from __future__ import annotations

from dataclasses import asdict

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import emit_json, say


@click.command()
@click.argument("name")
@click.option("--policy", required=True, help="The residency policy the bucket is bound to.")
@click.option("--tenant", default="default", show_default=True)
@click.option(
    "--object-lock",
    is_flag=True,
    help="Enable Object Lock (and versioning, for good): see 'domicile lock'.",
)
@pass_state
def mb(state: State, name: str, policy: str, tenant: str, object_lock: bool) -> None:
    """Make a bucket NAME bound to a residency policy."""
    bucket = state.engine.create_bucket(name, policy, tenant, object_lock=object_lock)
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


#: What ``domicile versioning`` asks for, and the status it sets.
_STATUS = {"enable": "Enabled", "suspend": "Suspended"}


@click.command()
@click.argument("name")
@click.argument("action", type=click.Choice(["enable", "suspend", "status"]), default="status")
@pass_state
def versioning(state: State, name: str, action: str) -> None:
    """Show (status) or set (enable, suspend) the versioning of bucket NAME.

    Enabled: every write keeps the previous version, a delete writes a delete marker.
    Suspended: writes replace the key's null version, other versions are kept. A bucket
    never goes back to unversioned. Each change is an audit record."""
    if action == "status":
        status = state.engine.versioning(name)
    else:
        status = state.engine.set_versioning(name, _STATUS[action]).versioning
    if state.as_json:
        emit_json({"bucket": name, "versioning": status})
    else:
        say(f"bucket {name}: versioning {status or 'never enabled'}")


COMMANDS = (mb, rb, versioning)
