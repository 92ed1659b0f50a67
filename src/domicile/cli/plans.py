"""Plan commands: plan (a dry run) and apply (with the plan's summary shown first)."""

from __future__ import annotations

from collections.abc import Callable

import click
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from domicile.catalog import Job
from domicile.cli.planview import (
    emit_line,
    print_summary,
    result_json,
    step_json,
    step_line,
)
from domicile.cli.state import State, pass_state
from domicile.cli.ui import err_console
from domicile.display import human_size
from domicile.engine import ApplyReport, Blocked, PlanSummary, Step

_details = click.option(
    "-v",
    "--details",
    is_flag=True,
    help="Also print every step as it is found, with the reason in full.",
)


def _on_step(state: State, details: bool) -> Callable[[Step | Blocked], None] | None:
    if state.as_json:
        return lambda item: emit_line(step_json(item))
    if details:
        return lambda item: click.echo(step_line(item))
    return None


@click.command(name="plan")
@click.argument("bucket", required=False)
@_details
@pass_state
def plan_cmd(state: State, bucket: str | None, details: bool) -> None:
    """Show what must change for every copy to comply with its policy (changes nothing):
    a summary; --details streams every step, --json streams JSON Lines."""
    plan = state.engine.plan(bucket=bucket, on_step=_on_step(state, details))
    if state.as_json:
        emit_line({"type": "summary", **plan.to_json()})
    else:
        print_summary(plan)


@click.command(name="apply")
@click.argument("bucket", required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--concurrency", default=4, show_default=True, help="Objects moved at once.")
@click.option("--limit", "limit_mib", type=float, help="Bandwidth limit in MiB/s.")
@_details
@pass_state
def apply_cmd(
    state: State,
    *,
    bucket: str | None,
    yes: bool,
    concurrency: int,
    limit_mib: float | None,
    details: bool,
) -> None:
    """Carry out the plan: copy, verify, switch, then delete; one apply per scope at a
    time; each step re-checked when it runs; safe to interrupt and re-run."""
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
        task = bar.add_task("apply", total=None, start=False)

        def confirm(plan: PlanSummary) -> bool:
            if state.as_json:
                emit_line({"type": "summary", **plan.to_json()})
            else:
                print_summary(plan)
            if not yes and not click.confirm("apply this plan?", err=True):
                return False
            bar.update(task, total=plan.bytes_to_copy)
            bar.start_task(task)
            return True

        def on_result(job: Job, outcome: str, detail: str) -> None:
            if state.as_json:
                emit_line(result_json(job, outcome, detail))
            elif details or outcome != "done":
                click.echo(
                    f"{outcome}: {job.bucket}/{job.key} {job.action} {job.site_id}: {detail}"
                )

        report = state.engine.apply(
            bucket=bucket,
            confirm=confirm,
            progress=lambda n: bar.advance(task, n),
            on_step=_on_step(state, details),
            on_result=on_result,
            concurrency=concurrency,
            bandwidth=limit_mib * 1024 * 1024 if limit_mib else None,
        )
    if not report.plan.steps:  # nothing to confirm: the summary was not shown yet
        if state.as_json:
            emit_line({"type": "summary", **report.plan.to_json()})
        else:
            print_summary(report.plan)
    _print_report(state, report)
    if report.cancelled:
        raise click.Abort
    if report.failed or report.blocked:
        raise SystemExit(11)


def _print_report(state: State, report: ApplyReport) -> None:
    if state.as_json:
        emit_line({"type": "report", **report.to_json()})
        return
    for run in report.taken_over:
        click.echo(f"took over from {run}: its unfinished steps were planned again")
    if report.cancelled or not report.plan.steps:
        return
    click.echo(
        f"added {report.added:,} copies ({human_size(report.bytes_copied)}), removed "
        f"{report.removed:,}; skipped: stale {report.skipped:,}; failed {report.failed:,}"
    )


COMMANDS = (plan_cmd, apply_cmd)
