"""Witness commands: witness init, witness follow, witness public-key, witness serve."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import emit_json, say
from domicile.witness import WitnessFolder
from domicile.witness.http import WitnessServer

_FOLDER = click.argument("folder", type=click.Path(path_type=Path, file_okay=False))


@click.group()
def witness() -> None:
    """A transparency-log witness: cosigns a deployment's audit checkpoints after checking
    that its history only grew (run it in another jurisdiction, or at your auditor's)."""


@witness.command(name="init")
@_FOLDER
@click.option("--name", required=True, help="The witness's key name, e.g. witness.example/ch-1.")
@pass_state
def witness_init(state: State, folder: Path, name: str) -> None:
    """Create a witness in FOLDER with a new Ed25519 key; print its public key (vkey)."""
    made = WitnessFolder.init(folder, name)
    vkey = made.cosigner.vkey()
    if state.as_json:
        emit_json({"folder": str(folder), "name": made.name, "vkey": vkey})
    else:
        say(f"witness {made.name} created in {folder}; its public key:")
        click.echo(vkey)


@witness.command(name="follow")
@_FOLDER
@click.argument("origin")
@click.argument("log_key", metavar="LOG_KEY")
@pass_state
def witness_follow(state: State, folder: Path, origin: str, log_key: str) -> None:
    """Cosign checkpoints of the log ORIGIN signed by LOG_KEY (the log's Ed25519 note
    key, name+id+key)."""
    followed = WitnessFolder(folder).follow(origin, log_key)
    if state.as_json:
        emit_json({"origin": followed.origin, "key": followed.key})
    else:
        say(f"following {followed.origin}")


@witness.command(name="public-key")
@_FOLDER
@pass_state
def witness_public_key(state: State, folder: Path) -> None:
    """Print the witness's public key (a vkey): what a deployment lists in
    [audit] witnesses to require its cosignature."""
    vkey = WitnessFolder(folder).cosigner.vkey()
    if state.as_json:
        emit_json({"vkey": vkey})
    else:
        click.echo(vkey)


@witness.command(name="serve")
@_FOLDER
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=9100, show_default=True, type=click.IntRange(0, 65535))
@click.option("--prefix", default="", help="URL prefix before /add-checkpoint.")
def witness_serve(folder: Path, host: str, port: int, prefix: str) -> None:
    """Serve POST <prefix>/add-checkpoint (c2sp.org/tlog-witness) until Ctrl-C."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = WitnessServer(WitnessFolder(folder), host, port, prefix)
    click.echo(
        f"witness {server.folder.name} on {server.url}/add-checkpoint "
        f"({len(server.folder.logs)} logs followed); Ctrl-C stops it",
        err=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


COMMANDS = (witness,)
