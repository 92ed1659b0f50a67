"""Keyring commands: keys init, keys new (--pq), keys list, keys recipient (--pq)."""

from __future__ import annotations

import os

import click

from domicile.cli.ageplugin import identity_of
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say
from domicile.config import PASSPHRASE_ENV, load_config
from domicile.crypto import Secret
from domicile.crypto.keysource import SCHEME
from domicile.display import table
from domicile.engine import keyring_open
from domicile.engine.keys import add_identity, keyring_init
from domicile.errors import KeyringError

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


@keys.command(name="rotate")
@click.option(
    "--drop",
    "drop",
    multiple=True,
    metavar="RECIPIENT",
    help="A root recipient (age1...) no bucket identity is wrapped to any more (repeatable).",
)
@pass_state
def keys_rotate(state: State, drop: tuple[str, ...]) -> None:
    """Wrap every bucket identity again to the keyring's root identities (add the new one
    first with 'keys new'), leaving out --drop: only the small bkey- blobs are rewritten,
    never the data. Each re-wrap is recorded (bucket_key_rewrapped)."""
    report = state.engine.rewrap_bucket_keys(drop=drop)
    if state.as_json:
        emit_json({"keys": report.keys, "buckets": report.buckets, "left": report.left})
        return
    say(f"{report.keys} bucket identities wrapped again, in {len(report.buckets)} buckets")
    for where in report.left:
        say(("left", "yellow"), f" {where}: an old copy not removed (sweep removes it)")


_KINDS = {
    "X25519Recipient": "X25519",
    "MLKEM768X25519Recipient": "post-quantum",
    "P256TagRecipient": "P-256 (token)",
}


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
        t.add_row(str(i), _KINDS.get(type(r).__name__, type(r).__name__), shown)
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


@keys.command(name="age-identity")
@pass_state
def keys_age_identity(state: State) -> None:
    """Print the age identity line (AGE-PLUGIN-PKCS11-1...) with which stock age and the
    age-plugin-pkcs11 program decrypt blobs with this deployment's token, without domicile."""
    uri = load_config(state.config_path).deployment.keyring
    if not uri.startswith(SCHEME):
        raise KeyringError(
            "the keyring is a file, not a PKCS#11 token: age -i reads the file itself",
            hint="age -d -i KEYRING_FILE blob",
        )
    recipients = [str(r) for r in keyring_open(state.config_path).recipients]
    line = identity_of(uri)
    if state.as_json:
        emit_json({"identity": line, "recipients": recipients})
        return
    click.echo("# the root keys stay in the token: this line only names it (no PIN)")
    for recipient in recipients:
        click.echo(f"# recipient: {recipient}")
    click.echo(line)


COMMANDS = (keys,)
