"""Keyring commands: keys init, keys new, keys list, keys recipient."""

from __future__ import annotations

import os

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say
from domicile.config import PASSPHRASE_ENV
from domicile.crypto import Secret
from domicile.display import table
from domicile.engine import keyring_open
from domicile.engine.keys import add_identity, keyring_init

#: ``--passphrase`` of the commands that create a keyring.
passphrase_option = click.option(
    "--passphrase",
    "ask_passphrase",
    is_flag=True,
    help=f"Protect the keyring with a passphrase (asked twice; or from {PASSPHRASE_ENV}).",
)


def new_passphrase(ask: bool) -> Secret | None:
    """The passphrase of a keyring to create: ``$DOMICILE_PASSPHRASE`` or asked twice
    (``None`` unless ``ask``)."""
    if not ask:
        return None
    value = os.environ.get(PASSPHRASE_ENV) or click.prompt(
        "keyring passphrase", hide_input=True, confirmation_prompt=True
    )
    return Secret(value)


@click.group()
def keys() -> None:
    """The age identities that can read this deployment's data."""


@keys.command(name="init")
@passphrase_option
@pass_state
def keys_init(state: State, ask_passphrase: bool) -> None:
    """Create the keyring that the configuration names (for a hand-written configuration;
    an existing keyring is never overwritten)."""
    recipient = keyring_init(state.config_path, new_passphrase(ask_passphrase))
    if state.as_json:
        emit_json({"recipient": recipient})
        return
    say("created the keyring; its recipient is ", (recipient, "bold"))
    say("back it up offline: whoever holds it can read every object")


@keys.command(name="new")
@pass_state
def keys_new(state: State) -> None:
    """Add a fresh X25519 identity to the keyring and print its recipient (recorded in
    the audit log as key_created)."""
    recipient = add_identity(state.engine)
    if state.as_json:
        emit_json({"recipient": recipient})
    else:
        say("new identity added; its recipient is ", (recipient, "bold"))


@keys.command(name="list")
@pass_state
def keys_list(state: State) -> None:
    """List the keyring's identities by their recipients (secrets are never printed)."""
    recipients = [str(r) for r in keyring_open(state.config_path).recipients]
    if state.as_json:
        emit_json({"recipients": recipients})
        return
    t = table("keyring", "#", "recipient (public key)")
    for i, r in enumerate(recipients, 1):
        t.add_row(str(i), r)
    console.print(t)


@keys.command(name="recipient")
@pass_state
def keys_recipient(state: State) -> None:
    """Print the keyring's primary recipient (age1...), to share with writers."""
    recipient = str(keyring_open(state.config_path).recipients[0])
    if state.as_json:
        emit_json({"recipient": recipient})
    else:
        click.echo(recipient)


COMMANDS = (keys,)
