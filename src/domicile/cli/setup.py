"""Set-up commands: init (a new deployment) and demo (what ``make run`` shows)."""

from __future__ import annotations

import hashlib
import shlex
from pathlib import Path

import click

from domicile.cli.keys import new_passphrase, passphrase_option
from domicile.cli.objects import print_where
from domicile.cli.residency import print_sites
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json
from domicile.display import human_size
from domicile.engine import init_deployment
from domicile.policy import explain_text


@click.command()
@passphrase_option
@pass_state
def init(state: State, ask_passphrase: bool) -> None:
    """Write a working, commented deployment at --config: sites, a policy, a keyring."""
    path = init_deployment(state.config_path, passphrase=new_passphrase(ask_passphrase))
    if state.as_json:
        emit_json({"config": str(path)})
        return
    console.print(f"wrote {path}", highlight=False)
    console.print("edit its [sites] and [policies], then: domicile policy explain reports")


DEMO_BUCKET = "reports"
DEMO_KEY = "2026/q3/board-minutes.txt"


def _demo_body() -> bytes:
    line = b"Q3 board minutes: revenue up, residency audit passed, keys rotated.\n"
    return line * 3000  # ~200 KiB: four STREAM chunks, read back by range too


@click.command()
@pass_state
def demo(state: State) -> None:
    """Create the demo deployment if needed, store a file, show where it went, read it back."""
    created = not state.config_path.exists()
    if created:
        init_deployment(state.config_path)
    engine = state.engine
    cfg = shlex.quote(str(state.config_path))
    say = console.print
    say(
        ("created" if created else "using")
        + f" the demo deployment at [bold]{state.config_path.parent}[/]",
        highlight=False,
    )
    say()
    say("[bold]1. Sites[/]: three local folders standing for three providers")
    print_sites(state)
    body = _demo_body()
    info = engine.put(DEMO_BUCKET, DEMO_KEY, body, content_type="text/plain")
    say()
    say(
        f"[bold]2. Stored[/] {DEMO_BUCKET}/{DEMO_KEY} ({human_size(info.size)}), encrypted "
        "once with age, copied to two providers:",
        highlight=False,
    )
    print_where(state, DEMO_BUCKET, DEMO_KEY)
    say()
    say("[bold]3. Why[/]: the policy's decision for every site")
    click.echo(explain_text(engine.explain(DEMO_BUCKET)))
    back = engine.get(DEMO_BUCKET, DEMO_KEY).read()
    part = engine.get(DEMO_BUCKET, DEMO_KEY, 100_000, 100_070).read()
    same = hashlib.sha256(back).digest() == hashlib.sha256(body).digest()
    say()
    say(
        f"[bold]4. Read back[/]: {len(back)} bytes, "
        + ("[green]identical[/]" if same else "[red]DIFFERENT[/]")
        + f"; bytes 100000-100069 by range: {part[:40]!r}...",
        highlight=False,
    )
    say()
    say("[bold]Try it yourself[/]:")
    for line in (
        f"domicile --config {cfg} ls {DEMO_BUCKET}/2026/q3/",
        f"domicile --config {cfg} put ./README.md {DEMO_BUCKET}/readme.md",
        f"domicile --config {cfg} where {DEMO_BUCKET}/readme.md",
        f"domicile --config {cfg} get {DEMO_BUCKET}/{DEMO_KEY} -",
        f"age -d -i {shlex.quote(str(Path(state.config_path).parent / 'keyring.txt'))} "
        "<any blob under sites/>   # the stock age tool reads every blob",
    ):
        click.echo(f"  .venv/bin/{line}" if line.startswith("domicile") else f"  {line}")
    if not same:
        raise click.ClickException("the object read back differs from what was stored")


COMMANDS = (init, demo)
