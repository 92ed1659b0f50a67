"""Keyring commands: keys new (--pq), keys list, keys recipient (--pq)."""

from __future__ import annotations

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say
from domicile.display import table
from domicile.engine import keyring_open
from domicile.engine.keys import add_identity
from domicile.errors import KeyringError


@click.group()
def keys() -> None:
    """The age identities that can read this deployment's data."""


@keys.command(name="new")
@click.option(
    "--pq",
    is_flag=True,
    help="A post-quantum hybrid identity (mlkem768x25519, age1pq1...), used by policies "
    "with pq = true; age 1.3 or later reads it.",
)
@pass_state
def keys_new(state: State, pq: bool) -> None:
    """Add a fresh X25519 (or, with --pq, post-quantum) identity to the keyring and print
    its recipient (recorded in the audit log as key_created)."""
    recipient = add_identity(state.engine, post_quantum=pq)
    if state.as_json:
        emit_json({"recipient": recipient, "post_quantum": pq})
    else:
        kind = "post-quantum identity" if pq else "identity"
        say(f"new {kind} added; its recipient is ", (recipient, "bold"))


@keys.command(name="list")
@pass_state
def keys_list(state: State) -> None:
    """List the keyring's identities by their recipients (secrets are never printed)."""
    keyring = keyring_open(state.config_path)
    recipients = [str(r) for r in keyring.recipients]
    if state.as_json:
        pq = [str(r) for r in keyring.recipients_of(post_quantum=True)]
        emit_json({"recipients": recipients, "post_quantum": pq})
        return
    t = table("keyring", "#", "kind", "recipient (public key)")
    for i, r in enumerate(keyring.recipients, 1):
        text = str(r)
        shown = f"{text[:24]}...{text[-8:]}" if r.post_quantum else text
        t.add_row(str(i), "post-quantum" if r.post_quantum else "X25519", shown)
    console.print(t)


@keys.command(name="recipient")
@click.option("--pq", is_flag=True, help="The first post-quantum recipient (age1pq1...).")
@pass_state
def keys_recipient(state: State, pq: bool) -> None:
    """Print the keyring's primary recipient (age1...), to share with writers; with --pq,
    its first post-quantum one (age1pq1...)."""
    found = keyring_open(state.config_path).recipients_of(post_quantum=pq)
    if not found:
        kind = "post-quantum" if pq else "classic (X25519)"
        raise KeyringError(
            f"the keyring has no {kind} identity",
            hint="add one with 'domicile keys new" + (" --pq'" if pq else "'"),
        )
    recipient = str(found[0])
    if state.as_json:
        emit_json({"recipient": recipient})
    else:
        click.echo(recipient)


COMMANDS = (keys,)
