"""Set-up commands: init (a new deployment) and demo (what ``make run`` shows)."""

from __future__ import annotations

import hashlib
import shlex

import click

from domicile.cli.keys import new_passphrase, passphrase_option
from domicile.cli.objects import print_where
from domicile.cli.residency import print_sites
from domicile.cli.state import State, pass_state
from domicile.cli.ui import emit_json, say
from domicile.display import human_size
from domicile.engine import ObjectInfo, init_deployment
from domicile.engine.manifest import manifest_blob_id
from domicile.engine.writer import SMALL_OBJECT
from domicile.policy import explain_text
from domicile.sites.layout import fan_of


@click.command()
@passphrase_option
@pass_state
def init(state: State, ask_passphrase: bool) -> None:
    """Write a working, commented deployment at --config: sites, a policy, a keyring."""
    path = init_deployment(state.config_path, passphrase=new_passphrase(ask_passphrase))
    if state.as_json:
        emit_json({"config": str(path)})
        return
    say(f"wrote {path}")
    say("edit its [sites] and [policies], then: domicile policy explain reports")


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
    say(
        "created" if created else "using",
        " the demo deployment at ",
        (str(state.config_path.parent), "bold"),
    )
    say()
    say(("1. Sites", "bold"), ": three local folders standing for three providers")
    print_sites(state)
    body = _demo_body()
    info = engine.put(DEMO_BUCKET, DEMO_KEY, body, content_type="text/plain")
    say()
    say(
        ("2. Stored", "bold"),
        f" {DEMO_BUCKET}/{DEMO_KEY} ({human_size(info.size)}), encrypted once with age, "
        "copied to two providers:",
    )
    print_where(state, DEMO_BUCKET, DEMO_KEY)
    say()
    say(("3. Why", "bold"), ": the policy's decision for every site")
    click.echo(explain_text(engine.explain(DEMO_BUCKET)))
    back = engine.get(DEMO_BUCKET, DEMO_KEY).read()
    part = engine.get(DEMO_BUCKET, DEMO_KEY, 100_000, 100_070).read()
    same = hashlib.sha256(back).digest() == hashlib.sha256(body).digest()
    say()
    say(
        ("4. Read back", "bold"),
        f": {len(back)} bytes, ",
        ("identical", "green") if same else ("DIFFERENT", "red"),
        f"; bytes 100000-100069 by range: {part[:40]!r}...",
    )
    say()
    say(("Try it yourself", "bold"), ":")
    for line in (
        f"domicile --config {cfg} ls {DEMO_BUCKET}/2026/q3/",
        f"domicile --config {cfg} put ./README.md {DEMO_BUCKET}/readme.md",
        f"domicile --config {cfg} where {DEMO_BUCKET}/readme.md",
        f"domicile --config {cfg} get {DEMO_BUCKET}/{DEMO_KEY} -",
    ):
        click.echo(f"  .venv/bin/{line}")
    recover = recover_command(state, info)
    if recover is not None:
        click.echo(
            "  # without domicile: the stock age tool opens the bucket's identity with the\n"
            "  # keyring, then the blob; a small object's blob holds its bytes, a newline and\n"
            "  # its manifest, so head -c SIZE keeps the object:\n"
            f"  {recover}"
        )
    if not same:
        raise click.ClickException("the object read back differs from what was stored")


def recover_command(state: State, info: ObjectInfo) -> str | None:
    """The shell one-liner that prints exactly the object ``info`` with the stock ``age``,
    from its blob on the first local site holding a copy (the bucket's identity opened
    first from its local ``bkey-`` copy with the keyring): an object of at most 1 MiB is
    one blob whose plaintext is its bytes, a newline and its manifest (docs/exit.md). None
    for a larger object or one with no copy on a local folder."""
    if info.size > SMALL_OBJECT:
        return None
    config = state.engine.config
    base = state.config_path.parent  # as the user wrote it: the paths stay short
    blob = manifest_blob_id(info.version_id)
    keyring = shlex.quote(str(base / config.deployment.keyring))

    def local(site_id: str, blob_id: str) -> str | None:
        backend = config.sites.get(site_id, {}).get("backend", {})
        if backend.get("type") != "local":
            return None
        return shlex.quote(str(base / backend["path"] / fan_of(blob_id) / blob_id))

    # the blob is wrapped to its bucket's identity, itself wrapped to the keyring
    keys = [p for s, b in state.engine.bucket_key_copies(info.bucket) if (p := local(s, b))]
    for copy in state.engine.where(info.bucket, info.key):
        path = local(copy.site_id, blob)
        if path is None:
            continue
        if not keys:  # written before bucket identities: wrapped to the keyring itself
            return f"age -d -i {keyring} {path} | head -c {info.size}"
        return f"age -d -i {keyring} {keys[0]} | age -d -i - {path} | head -c {info.size}"
    return None


COMMANDS = (init, demo)
