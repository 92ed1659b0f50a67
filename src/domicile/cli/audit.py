"""Audit commands: audit verify, audit export, audit tail."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click

from domicile.audit import (
    ChainReport,
    Checkpoint,
    Head,
    export_lines,
    load_public_key,
    public_key_text,
    verify_chain,
)
from domicile.audit.export import parse_export
from domicile.audit.proofs import verify_tree_notes
from domicile.audit.verify import with_findings
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say
from domicile.cli.vkeys import witness_verifier
from domicile.display import table, when
from domicile.engine.audithistory import export_from_folder
from domicile.engine.keys import passphrase_from_env
from domicile.engine.keysource import open_keyring_at
from domicile.errors import AuditFormatError


@click.group()
def audit() -> None:
    """The hash-chained, signed audit log."""


@audit.command(name="verify")
@click.option(
    "--export",
    "export_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Verify an export offline instead of the catalog.",
)
@click.option(
    "--public-key",
    type=click.Path(path_type=Path, dir_okay=False),
    help="With --export: the deployment's audit public key.",
)
@click.option(
    "--expect-head",
    metavar="SEQ:HASH",
    help="Fail unless the chain reaches seq SEQ and record SEQ has hash HASH.",
)
@click.option(
    "--expect-checkpoint",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="A checkpoint file (ckpt-...) fetched from a site: its signature is checked and "
    "the chain must reach it and match it.",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    metavar="VKEY",
    help="With --export: a witness whose cosignatures count (repeatable).",
)
@click.option(
    "--quorum",
    type=click.IntRange(0),
    default=None,
    help="With --export: cosignatures the newest tree checkpoint needs (default: every --witness).",
)
@pass_state
def audit_verify(  # noqa: PLR0917 (click passes every option)
    state: State,
    export_file: Path | None,
    public_key: Path | None,
    expect_head: str | None,
    expect_checkpoint: Path | None,
    witnesses: tuple[str, ...],
    quorum: int | None,
) -> None:
    """Recompute the chain and check every checkpoint (the catalog's and every site's, or
    an export's); say where history was changed. --expect-head / --expect-checkpoint: fail
    unless the chain reaches that head (an auditor's note, or a file from a site)."""
    expected = _parse_head(expect_head) if expect_head is not None else None
    given = _read_checkpoint(expect_checkpoint) if expect_checkpoint is not None else None
    if export_file is not None:
        if public_key is None:
            raise click.UsageError("--export needs --public-key")
        with export_file.open(encoding="utf-8") as lines:
            records, checkpoints, trees = parse_export(lines)
        key = load_public_key(public_key)
        report = verify_chain(records, checkpoints, key, expected_head=given, expected=expected)
        ws = [witness_verifier(w) for w in witnesses]
        need = len(ws) if quorum is None else quorum
        tree = verify_tree_notes(records, trees, key, ws, need)
        report = with_findings(report, tree.problems, tree.notices)
        if need and not tree.witnessed:  # asked for witnesses, and they did not vouch
            _show(state, report)
            if tree.witnessed is None:
                say(("the export holds no tree checkpoint: nothing is witnessed", "red"))
            raise SystemExit(12)
    else:
        report = state.engine.audit.verify(expected, given)
    _show(state, report)
    if not report.ok:
        raise SystemExit(12)


def _parse_head(text: str) -> Head:
    match = re.fullmatch(r"([0-9]+):([0-9a-f]{64})", text.strip())
    if match is None or int(match.group(1)) < 1:
        raise click.BadParameter(
            "give SEQ:HASH, e.g. 1200:<64 lowercase hex> (a seq >= 1 and a record hash)",
            param_hint="--expect-head",
        )
    return Head(int(match.group(1)), match.group(2))


def _read_checkpoint(path: Path) -> Checkpoint:
    try:
        return Checkpoint.from_dict(json.loads(path.read_bytes()))
    except (AuditFormatError, ValueError, TypeError) as exc:
        raise click.BadParameter(
            f"{path} is not a checkpoint file ({exc})", param_hint="--expect-checkpoint"
        ) from exc


def _show(state: State, report: ChainReport) -> None:
    if state.as_json:
        emit_json(
            {
                "ok": report.ok,
                "records": report.records,
                "unsigned": report.unsigned,
                "latest_checkpoint": report.latest_checkpoint.seq
                if report.latest_checkpoint
                else None,
                "problems": [
                    {"seq": p.seq, "kind": str(p.kind), "message": p.message}
                    for p in report.problems
                ],
                "notices": list(report.notices),
            }
        )
        return
    for notice in report.notices:
        say(("note:", "yellow"), f" {notice}")
    if report.ok:
        cp = report.latest_checkpoint
        say(
            ("audit chain intact", "green"),
            f": {report.records} records, last signed checkpoint "
            f"at {cp.seq if cp else '-'}, {report.unsigned} records after it",
        )
    else:
        for p in report.problems:
            say((f"seq {p.seq}: {p.kind}", "red"), f" {p.message}")


@audit.command(name="export")
@click.option("--since", default=0, show_default=True, help="Records after this sequence.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    default="-",
    help="File to write (default: stdout).",
)
@click.option(
    "--from-site",
    "site_folder",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    help="Read the history shipped to a site instead: a copy of its folder (or of its "
    "bucket prefix); needs --keyring, not the deployment.",
)
@click.option(
    "--keyring",
    help="With --from-site: the keyring file (passphrase from $DOMICILE_PASSPHRASE), or "
    "the token's pkcs11: URI (PIN from $DOMICILE_PKCS11_PIN).",
)
@pass_state
def audit_export(
    state: State, since: int, output: Path, site_folder: Path | None, keyring: str | None
) -> None:
    """Write records and checkpoints as JSON Lines, for offline verification."""
    if site_folder is not None:
        if keyring is None:
            raise click.UsageError("--from-site needs --keyring")
        if not keyring.startswith("pkcs11:") and not Path(keyring).is_file():
            raise click.BadParameter(f"no keyring file {keyring}", param_hint="--keyring")
        identities = open_keyring_at(keyring, passphrase_from_env()).identities
        lines = export_from_folder(site_folder, identities)
    else:
        log = state.engine.audit
        trees = (
            [c.note.to_bytes().decode("utf-8") for c in log.tree.checkpoints()] if log.tree else []
        )
        lines = export_lines(log.records(since), log.checkpoints(), trees)
    if str(output) == "-":
        for line in lines:
            sys.stdout.write(line if line.endswith("\n") else line + "\n")
        return
    with output.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line if line.endswith("\n") else line + "\n")


@audit.command(name="public-key")
@pass_state
def audit_public_key(state: State) -> None:
    """Print the audit public key (base64), to verify exports elsewhere."""
    click.echo(public_key_text(state.engine.audit.public_key))


@audit.command(name="tail")
@click.option("-n", "count", default=20, show_default=True, help="How many records.")
@pass_state
def audit_tail(state: State, count: int) -> None:
    """The latest audit records."""
    records = list(state.engine.audit.records())[-count:]
    if state.as_json:
        emit_json([r.body() for r in records])
        return
    t = table("audit", "seq", "time", "actor", "action", "object", "sites", "result")
    for r in records:
        obj = "/".join(x for x in (r.bucket, r.key) if x)
        t.add_row(
            str(r.seq), when(r.time / 1e6), r.actor, r.action, obj, ", ".join(r.sites), r.result
        )
    console.print(t)


COMMANDS = (audit,)
