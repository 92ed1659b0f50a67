"""``domicile shred BUCKET``: crypto-shredding, after a confirmation naming what becomes
unreadable and where copies still rest."""

from __future__ import annotations

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import emit_json, say
from domicile.engine.shred import ShredPlan, ShredReceipt


@click.command()
@click.argument("bucket")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def shred(state: State, bucket: str, yes: bool) -> None:
    """Destroy BUCKET's data identity everywhere domicile keeps it (catalog, sites,
    memory), delete its objects where the sites answer, and sign a receipt listing every
    blob that could not be deleted and is now unreadable ciphertext. Refused while Object
    Lock retention or a legal hold is in force on one of its versions."""
    engine = state.engine
    plan = engine.plan_shred(bucket)
    if not yes:
        _show(plan)
        if not click.confirm(f"shred bucket {bucket}? this cannot be undone", err=True):
            raise click.Abort
    receipt = engine.shred(bucket)
    if state.as_json:
        emit_json(_receipt_json(receipt))
        return
    say(
        ("shredded", "bold"),
        f" {bucket}: {receipt.key_versions} identity versions and {receipt.key_copies} "
        f"site copies destroyed; {receipt.blobs_deleted} blobs deleted",
    )
    for where in receipt.unreadable:
        say(("unreadable", "yellow"), f" {where} (not deleted: ciphertext nobody can open)")
    if receipt.checkpoint is not None:
        say(
            f"receipt: audit record {receipt.record_seq} ({receipt.record_hash[:16]}...), "
            f"signed by checkpoint {receipt.checkpoint.seq}"
        )


def _show(plan: ShredPlan) -> None:
    say(
        f"bucket {plan.bucket}: {plan.versions} object versions become unreadable for good, "
        "with every key domicile holds (root identities included)"
    )
    for site_id, count in plan.blobs.items():
        say(f"  {site_id}: {count} blobs (deleted if the site answers, else left as ciphertext)")
    where = ", ".join(plan.key_sites) or "-"
    say(f"  its data identity: {plan.key_versions} versions, copies on {where}")
    for recipient in plan.extra_recipients:
        say(
            ("  note", "yellow"),
            f": the policy's extra recipient {recipient[:20]}... still opens the copies "
            "that are not deleted",
        )


def _receipt_json(receipt: ShredReceipt) -> dict[str, object]:
    checkpoint = receipt.checkpoint
    return {
        "bucket": receipt.bucket,
        "key_versions": receipt.key_versions,
        "key_copies_destroyed": receipt.key_copies,
        "blobs_deleted": receipt.blobs_deleted,
        "unreadable": receipt.unreadable,
        "record": {"seq": receipt.record_seq, "hash": receipt.record_hash},
        "checkpoint": None
        if checkpoint is None
        else {"seq": checkpoint.seq, "head": checkpoint.head_hash, "time": checkpoint.time},
    }


COMMANDS = (shred,)
