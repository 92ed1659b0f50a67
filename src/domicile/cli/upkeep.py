"""Upkeep commands: verify, repair, rebuild-catalog, sweep."""

from __future__ import annotations

from dataclasses import asdict

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, err_console, say
from domicile.display import human_size, table


def _progress(total: int, label: str) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )


@click.command()
@click.option(
    "--level",
    type=click.Choice(["quick", "full", "deep"]),
    default="quick",
    show_default=True,
    help="quick: exists with its size; full: re-hash the ciphertext; deep: decrypt it.",
)
@click.argument("bucket", required=False)
@pass_state
def verify(state: State, level: str, bucket: str | None) -> None:
    """Check every copy (of BUCKET, or of all buckets); mark missing and corrupt ones."""
    engine = state.engine
    total = engine.count_versions(bucket)
    with _progress(total, f"verify ({level})") as bar:
        task = bar.add_task("verify", total=total)
        report = engine.verify(level, bucket=bucket, progress=lambda n: bar.advance(task, n))
    if state.as_json:
        emit_json({**asdict(report), "ok": report.ok})
    else:
        say(
            f"verified {report.copies} copies of {report.versions} objects ({level}, "
            f"{human_size(report.bytes_read)} read): ",
            ("all good", "green") if report.ok else (f"{len(report.problems)} problems", "red"),
        )
        if report.problems:
            t = table("problems", "object", "site", "kind", "detail")
            for p in report.problems:
                t.add_row(f"{p.bucket}/{p.key}", p.site_id, p.kind, p.detail)
            console.print(t)
            say("next: 'domicile repair' restores the copies from healthy ones")
    if not report.ok:
        raise SystemExit(11)


@click.command()
@click.argument("bucket", required=False)
@pass_state
def repair(state: State, bucket: str | None) -> None:
    """Restore every object's copy count from healthy copies, within its policy."""
    engine = state.engine
    total = engine.count_versions(bucket)
    with _progress(total, "repair") as bar:
        task = bar.add_task("repair", total=total)
        report = engine.repair(bucket=bucket, progress=lambda n: bar.advance(task, n))
    if state.as_json:
        emit_json(asdict(report))
    else:
        t = table(f"repaired {len(report.added)} copies", "object", "to site", "from", "bytes")
        for a in report.added:
            t.add_row(f"{a.bucket}/{a.key}", a.site_id, a.source, human_size(a.bytes))
        console.print(t)
        for r in report.removed:
            say(
                f"removed the {r.state} copy of {r.bucket}/{r.key} on {r.site_id} "
                "(its good copies are enough)"
            )
        for u in report.unrepairable:
            say(("cannot repair", "red"), f" {u.bucket}/{u.key}: {u.reason}")
    if report.unrepairable:
        raise SystemExit(11)


@click.command(name="rebuild-catalog")
@pass_state
def rebuild_catalog(state: State) -> None:
    """Rebuild an empty catalog from the manifests on the sites and the keyring."""
    with _progress(0, "manifests") as bar:
        task = bar.add_task("manifests", total=None)
        report = state.engine.rebuild_catalog(progress=lambda n: bar.advance(task, n))
    if state.as_json:
        emit_json(asdict(report))
        return
    say(
        f"rebuilt {report.versions} objects with {report.placements} copies from "
        f"{report.manifests} manifests; buckets created: {', '.join(report.buckets_created) or '-'}"
    )
    say(
        f"restored {report.audit_records} audit records and {report.audit_checkpoints} "
        "checkpoints from the sites"
    )
    for problem in report.problems:
        say(("warning", "yellow"), f" {problem}")


@click.command()
@click.option("--grace", default=24.0, show_default=True, help="Hours a blob must be old.")
@click.option("--dry-run", is_flag=True, help="List the orphans without removing them.")
@pass_state
def sweep(state: State, grace: float, dry_run: bool) -> None:
    """Abort expired multipart uploads, remove what writers that died left on the sites
    (temp files, unfinished S3 uploads), then blobs that no catalog entry references
    (crashed writes, interrupted jobs)."""
    engine = state.engine
    expiry = engine.config.deployment.multipart_expiry_hours
    aborted = 0 if dry_run else engine.sweep_uploads(older_than=expiry * 3600)
    life = None if dry_run else engine.enforce_lifecycle()
    report = engine.sweep(grace=grace * 3600, dry_run=dry_run)
    if state.as_json:
        emit_json(
            {
                **asdict(report),
                "removed": report.removed,
                "leftovers": report.leftovers,
                "uploads_aborted": aborted,
                "lifecycle": None if life is None else asdict(life),
            }
        )
        return
    if not dry_run:
        say(f"aborted {aborted} multipart uploads older than {expiry:g} h")
    if life is not None and (life.uploads_aborted or life.versions_expired or life.kept_locked
                             or life.markers_expired):  # fmt: skip
        say(
            f"lifecycle rules: {life.versions_expired} noncurrent versions and "
            f"{life.markers_expired} delete markers expired, {life.uploads_aborted} uploads "
            f"aborted, {len(life.kept_locked)} versions kept by Object Lock"
        )
    verb = "would remove" if dry_run else "removed"
    t = table(
        f"sweep ({verb} {report.leftovers} leftovers of dead writers, {report.removed} orphan "
        "blobs)",
        "site",
        "leftovers",
        "leftover bytes",
        "orphans",
        "orphan bytes",
        "too young",
    )
    for s in report.sites:
        t.add_row(
            s.site_id,
            str(len(s.leftovers)),
            human_size(s.leftover_bytes),
            str(len(s.removed)),
            human_size(s.bytes_removed),
            str(s.young),
        )
        if s.error:
            say((s.site_id, "red"), f": {s.error}")
    console.print(t)


COMMANDS = (verify, repair, rebuild_catalog, sweep)
