"""Plan commands: plan (a dry run) and apply (with the plan shown first)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, err_console, say, styled
from domicile.display import human_size, table
from domicile.engine import Plan


def plan_json(plan: Plan) -> dict[str, Any]:
    return {
        "versions": plan.versions,
        "steps": [asdict(s) for s in plan.steps],
        "blocked": [asdict(b) for b in plan.blocked],
        "routes": plan.routes(),
        "empty": plan.empty,
    }


def print_plan(plan: Plan) -> None:
    """The plan as tables: copies to add and remove, bytes per route, what is blocked."""
    if plan.empty:
        say(("nothing to do", "green"), f": all {plan.versions} objects comply")
        return
    t = table(
        f"plan: {len(plan.adds)} copies to add, {len(plan.removes)} to remove "
        f"({len(plan.violations)} residency violations)",
        "",
        "object",
        "site",
        "from",
        "size",
        "why",
    )
    for s in plan.steps:
        mark = styled(("+ add", "green") if s.action == "add" else ("- remove", "red"))
        if s.violation:
            mark = styled(("! evacuate", "bold red"))
        t.add_row(
            mark, f"{s.bucket}/{s.key}", s.site_id, s.source or "", human_size(s.bytes), s.reason
        )
    console.print(t)
    routes = plan.routes()
    if routes:
        r = table("bytes to copy", "route", "bytes")
        for route, n in routes.items():
            r.add_row(route, human_size(n))
        console.print(r)
    for b in plan.blocked:
        say(("cannot comply", "red"), f" {b.bucket}/{b.key}: {b.reason}")


@click.command(name="plan")
@click.argument("bucket", required=False)
@pass_state
def plan_cmd(state: State, bucket: str | None) -> None:
    """Show what must change for every copy to comply with its policy (changes nothing)."""
    plan = state.engine.plan(bucket=bucket)
    if state.as_json:
        emit_json(plan_json(plan))
    else:
        print_plan(plan)


@click.command(name="apply")
@click.argument("bucket", required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--concurrency", default=4, show_default=True, help="Objects moved at once.")
@click.option("--limit", "limit_mib", type=float, help="Bandwidth limit in MiB/s.")
@pass_state
def apply_cmd(
    state: State, bucket: str | None, yes: bool, concurrency: int, limit_mib: float | None
) -> None:
    """Carry out the plan: copy, verify, switch, then delete; safe to interrupt and re-run."""
    plan = state.engine.plan(bucket=bucket)
    if not state.as_json:
        print_plan(plan)
    if not plan.steps:
        if state.as_json:
            emit_json({"added": 0, "removed": 0, "blocked": [asdict(b) for b in plan.blocked]})
        if plan.blocked:
            raise SystemExit(11)
        return
    if not yes and not click.confirm("apply this plan?", err=True):
        raise click.Abort
    total = sum(s.bytes for s in plan.adds)
    with Progress(
        TextColumn("apply"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task("apply", total=total)
        report = state.engine.apply(
            plan,
            progress=lambda n: bar.advance(task, n),
            concurrency=concurrency,
            bandwidth=limit_mib * 1024 * 1024 if limit_mib else None,
        )
    if state.as_json:
        emit_json(asdict(report))
    else:
        say(
            f"added {report.added} copies ({human_size(report.bytes_copied)}), "
            f"removed {report.removed}"
        )
        if report.interrupted:
            say(f"resumed: {report.interrupted} steps of an interrupted apply were re-planned")
        for line in report.failed:
            say(("failed", "red"), f" {line}")
    if report.failed or report.blocked:
        raise SystemExit(11)


COMMANDS = (plan_cmd, apply_cmd)
