"""Object Lock and lifecycle commands: lock, retention, legal-hold, lifecycle.

Each shows the current setting when given nothing to change, and shows the setting as it
is after a change; ``--json`` prints the same fields. Dates are ISO 8601, UTC unless they
say otherwise (``2030-01-01``, ``2030-01-01T12:00:00Z``).
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime

import click

from domicile.catalog import LOCK_MODES, BucketLock, VersionLock
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say, split_path
from domicile.display import table
from domicile.engine.lifecycle import Rule

LOCK_MODE = click.Choice(LOCK_MODES, case_sensitive=False)


def _iso(when: float | None) -> str | None:
    if when is None:
        return None
    return datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(value: str) -> float:
    """Epoch seconds of an ISO 8601 date (UTC unless it says otherwise); BadParameter."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date", param_hint="--until"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


# --- lock -------------------------------------------------------------------------------


@click.command()
@click.argument("bucket")
@click.option("--mode", type=LOCK_MODE, help="Default retention mode of new versions.")
@click.option("--days", type=click.IntRange(min=1), help="Default retention period in days.")
@click.option("--years", type=click.IntRange(min=1), help="Default retention period in years.")
@click.option("--no-default", is_flag=True, help="Remove the default retention.")
@pass_state
def lock(
    state: State,
    bucket: str,
    *,
    mode: str | None,
    days: int | None,
    years: int | None,
    no_default: bool,
) -> None:
    """Show or set the Object Lock default retention of BUCKET (created with
    'domicile mb --object-lock'): --mode with --days or --years, or --no-default."""
    if no_default and (mode or days or years):
        raise click.UsageError("--no-default takes no --mode, --days or --years")
    if mode or days or years:
        if not mode or (days is None) == (years is None):
            raise click.UsageError("give --mode with exactly one of --days and --years")
        state.engine.set_bucket_lock(bucket, mode.upper(), days=days, years=years)
    elif no_default:
        state.engine.set_bucket_lock(bucket, None)
    _show_bucket(state, bucket, state.engine.bucket_lock(bucket))


def _show_bucket(state: State, bucket: str, config: BucketLock | None) -> None:
    doc = {"bucket": bucket, "object_lock": config is not None}
    if config is not None:
        doc |= {"mode": config.mode, "days": config.days, "years": config.years}
    if state.as_json:
        emit_json(doc)
    elif config is None:
        say(f"bucket {bucket} has no Object Lock (it is enabled only at creation)")
    elif config.mode is None:
        say(f"bucket {bucket}: Object Lock on, no default retention")
    else:
        period = f"{config.days} days" if config.days is not None else f"{config.years} years"
        say(f"bucket {bucket}: Object Lock on, default {config.mode} for {period}")


# --- versions ---------------------------------------------------------------------------


@click.command()
@click.argument("path", metavar="BUCKET/KEY")
@click.option("--version-id", help="A version of the object (default: the current one).")
@click.option("--mode", type=LOCK_MODE, help="Retention mode to set (with --until).")
@click.option("--until", "until", help="Retain until this date (ISO 8601, UTC by default).")
@click.option("--clear", is_flag=True, help="Remove a GOVERNANCE retention (needs the bypass).")
@click.option(
    "--bypass-governance",
    is_flag=True,
    help="Shorten or clear a GOVERNANCE retention (never a COMPLIANCE one).",
)
@pass_state
def retention(
    state: State,
    path: str,
    *,
    version_id: str | None,
    mode: str | None,
    until: str | None,
    clear: bool,
    bypass_governance: bool,
) -> None:
    """Show or set the retention of BUCKET/KEY: --mode and --until extend it (or set a
    first one); shortening a GOVERNANCE retention needs --bypass-governance, a COMPLIANCE
    one cannot be shortened by anyone."""
    bucket, key = split_path(path)
    if clear and (mode or until):
        raise click.UsageError("--clear takes no --mode or --until")
    if (mode is None) != (until is None):
        raise click.UsageError("give --mode and --until together")
    if mode is not None and until is not None:
        state.engine.set_retention(
            bucket,
            key,
            mode.upper(),
            parse_date(until),
            version_id=version_id,
            bypass_governance=bypass_governance,
        )
    elif clear:
        state.engine.set_retention(
            bucket, key, None, None, version_id=version_id, bypass_governance=bypass_governance
        )
    _show_version(state, bucket, key, state.engine.object_lock(bucket, key, version_id=version_id))


@click.command(name="legal-hold")
@click.argument("path", metavar="BUCKET/KEY")
@click.argument("status", required=False, type=click.Choice(["on", "off"], case_sensitive=False))
@click.option("--version-id", help="A version of the object (default: the current one).")
@pass_state
def legal_hold(state: State, path: str, status: str | None, version_id: str | None) -> None:
    """Show, or put ('on') or lift ('off'), the legal hold of BUCKET/KEY: while it is on,
    no one can delete the version, whatever its retention."""
    bucket, key = split_path(path)
    if status is not None:
        state.engine.set_legal_hold(bucket, key, status.lower() == "on", version_id=version_id)
    _show_version(state, bucket, key, state.engine.object_lock(bucket, key, version_id=version_id))


def _show_version(state: State, bucket: str, key: str, found: VersionLock | None) -> None:
    doc = {
        "bucket": bucket,
        "key": key,
        "version": None if found is None else found.version_id,
        "mode": None if found is None else found.mode,
        "retain_until": None if found is None else _iso(found.retain_until),
        "legal_hold": found is not None and found.legal_hold,
        "copies": None if found is None else found.copies,
    }
    if state.as_json:
        emit_json(doc)
        return
    t = table(f"{bucket}/{key}", "field", "value")
    t.add_row("retention", f"{doc['mode']} until {doc['retain_until']}" if doc["mode"] else "none")
    t.add_row("legal hold", "on" if doc["legal_hold"] else "off")
    if found is not None:
        t.add_row("copies kept", str(found.copies))
    console.print(t)


# --- lifecycle --------------------------------------------------------------------------


@click.command()
@click.argument("bucket")
@click.option("--prefix", default="", help="The keys the rule applies to.")
@click.option("--noncurrent-days", type=click.IntRange(min=1), help="Expire noncurrent versions.")
@click.option("--expired-markers", is_flag=True, help="Remove delete markers left alone.")
@click.option("--abort-uploads-days", type=click.IntRange(min=1), help="Abort old uploads.")
@click.option("--clear", is_flag=True, help="Remove every rule.")
@pass_state
def lifecycle(
    state: State,
    bucket: str,
    *,
    prefix: str,
    noncurrent_days: int | None,
    expired_markers: bool,
    abort_uploads_days: int | None,
    clear: bool,
) -> None:
    """Show or set BUCKET's lifecycle rule (one rule; the gateway sets several), enforced
    by 'domicile sweep', which never expires a version under retention or legal hold."""
    asked = noncurrent_days is not None or expired_markers or abort_uploads_days is not None
    if clear and asked:
        raise click.UsageError("--clear takes no rule option")
    if asked:
        rule = Rule(
            id="domicile",
            prefix=prefix,
            noncurrent_days=noncurrent_days,
            expired_delete_marker=expired_markers,
            abort_upload_days=abort_uploads_days,
        )
        state.engine.set_lifecycle(bucket, [rule])
    elif clear:
        state.engine.set_lifecycle(bucket, None)
    rules = state.engine.lifecycle(bucket) or []
    if state.as_json:
        emit_json({"bucket": bucket, "rules": [asdict(r) for r in rules]})
        return
    if not rules:
        say(f"bucket {bucket} has no lifecycle rules")
        return
    t = table(f"lifecycle of {bucket}", "id", "prefix", "status", "actions")
    for r in rules:
        actions = [
            *([f"noncurrent after {r.noncurrent_days} d"] if r.noncurrent_days else []),
            *(["expired delete markers"] if r.expired_delete_marker else []),
            *([f"abort uploads after {r.abort_upload_days} d"] if r.abort_upload_days else []),
        ]
        t.add_row(r.id, r.prefix or "(all)", "on" if r.enabled else "off", ", ".join(actions))
    console.print(t)


COMMANDS = (lock, retention, legal_hold, lifecycle)
