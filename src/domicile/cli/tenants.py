"""Tenant commands: tenant remove (offboarding, which Object Lock cannot be bypassed by)."""

from __future__ import annotations

from dataclasses import asdict

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import emit_json, say


@click.group()
def tenant() -> None:
    """Tenants' data."""


@tenant.command(name="remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def remove(state: State, name: str, yes: bool) -> None:
    """Delete every bucket, object version, delete marker and upload of tenant NAME,
    except the versions under Object Lock retention or legal hold (kept with their
    buckets, each refusal audited). Exit 15 if something was kept."""
    buckets = [b.name for b in state.engine.list_buckets(name)]
    if not yes and not click.confirm(
        f"delete the {len(buckets)} buckets of tenant {name} and everything in them?", err=True
    ):
        raise click.Abort
    report = state.engine.remove_tenant(name)
    if state.as_json:
        emit_json(asdict(report))
    else:
        say(
            f"tenant {name}: removed {len(report.buckets_removed)} buckets, "
            f"{report.versions_removed} versions and delete markers, "
            f"{report.uploads_aborted} uploads"
        )
        for version, why in report.kept.items():
            say(("kept", "yellow"), f" {version}: {why}")
        if report.buckets_kept:
            say(f"buckets kept: {', '.join(report.buckets_kept)}")
    if report.kept:
        raise SystemExit(15)


COMMANDS = (tenant,)
