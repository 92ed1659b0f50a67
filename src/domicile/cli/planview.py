"""How a plan reads: a summary that fits an 80-column terminal, one line per step under
``--details``, and JSON Lines under ``--json`` (documented in docs/cli.md).

Plain text through ``click.echo``: object keys are user text, never console markup.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import click

from domicile.catalog import Job
from domicile.display import human_size
from domicile.engine import REASONS, Blocked, PlanSummary, Step

#: The width the summary fits in.
WIDTH = 80
_ROUTE = 26


def fit(text: str, width: int = WIDTH) -> str:
    """``text`` cut to ``width`` characters, an ellipsis marking the cut."""
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_lines(plan: PlanSummary) -> list[str]:
    """The plan in at most 80 columns: totals, a row per route and reason, a few examples
    of each, the objects that cannot comply, and the legend of the reason codes."""
    if plan.empty:
        return [f"nothing to do: all {plan.versions:,} objects comply"]
    lines = [
        f"plan: {plan.changing:,} of {plan.versions:,} objects to change",
        f"  + {plan.adds:,} copies to add ({human_size(plan.bytes_to_copy)} to copy)",
        f"  - {plan.removes:,} copies to remove ({plan.violations:,} residency violations)",
    ]
    if plan.blocked:
        lines.append(f"  ! {plan.blocked:,} objects cannot comply")
    if plan.groups:
        lines += ["", f"  {'change':<7} {'route':<{_ROUTE}} {'why':<8} {'copies':>9} {'bytes':>11}"]
        for (action, route, reason), g in sorted(plan.groups.items()):
            size = human_size(g.bytes) if action == "add" else ""
            row = (
                f"  {action:<7} {fit(route, _ROUTE):<{_ROUTE}} {reason:<8} {g.count:>9,} {size:>11}"
            )
            lines.append(row.rstrip())
    lines += ["", "examples:"]
    for (action, route, reason), g in sorted(plan.groups.items()):
        lines.append(fit(f"  {action} {route} ({reason}):"))
        lines += [fit(f"    {example}") for example in g.examples]
    for reason, g in sorted(plan.blocked_groups.items()):
        lines.append(f"  cannot comply ({reason}):")
        lines += [fit(f"    {example}") for example in g.examples]
    lines += ["", "why:"]
    lines += [fit(f"  {code:<8} {REASONS[code]}") for code in plan.reasons()]
    return lines


def print_summary(plan: PlanSummary) -> None:
    for line in summary_lines(plan):
        click.echo(line)


def step_line(item: Step | Blocked) -> str:
    """One step for ``--details``: what, where, bytes, the reason's code and sentence."""
    if isinstance(item, Blocked):
        return f"! {item.bucket}/{item.key}  cannot comply  {item.reason}: {item.why}"
    mark = "+" if item.action == "add" else ("!" if item.violation else "-")
    size = f"  {human_size(item.bytes)}" if item.action == "add" else ""
    return f"{mark} {item.bucket}/{item.key}  {item.route}{size}  {item.reason}: {item.why}"


def step_json(item: Step | Blocked) -> dict[str, Any]:
    if isinstance(item, Blocked):
        return {"type": "blocked", **asdict(item)}
    return {"type": "step", **asdict(item)}


def result_json(job: Job, state: str, detail: str) -> dict[str, Any]:
    return {
        "type": "result",
        "job": job.id,
        "action": job.action,
        "bucket": job.bucket,
        "key": job.key,
        "version_id": job.version_id,
        "site_id": job.site_id,
        "state": state,
        "detail": detail,
    }


def emit_line(data: dict[str, Any]) -> None:
    """One JSON Lines record on stdout."""
    click.echo(json.dumps(data, sort_keys=True, default=str))
