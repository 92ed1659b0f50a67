"""Transparency-log commands of the audit group: audit log-key, audit tree, audit prove,
audit consistency, audit check-proof (the last needs no deployment: an auditor's tool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from domicile.audit.proofs import (
    CONSISTENCY_FORMAT,
    INCLUSION_FORMAT,
    verify_consistency_bundle,
    verify_inclusion_bundle,
)
from domicile.audit.tlog import cosignatures
from domicile.cli.audit import audit
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say, split_path
from domicile.cli.vkeys import log_verifier, witness_verifier
from domicile.display import table, when
from domicile.errors import ProofInvalid

_OUTPUT = click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE."
)


def _write(bundle: dict[str, Any], output: Path | None) -> None:
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


@audit.command(name="log-key")
@pass_state
def audit_log_key(state: State) -> None:
    """The audit log's origin and note key (a vkey): what witnesses follow and auditors
    check proofs with."""
    tree = state.engine.audit.tree
    assert tree is not None
    if state.as_json:
        emit_json({"origin": tree.origin, "vkey": tree.signer.vkey()})
    else:
        click.echo(tree.signer.vkey())


@audit.command(name="tree")
@pass_state
def audit_tree(state: State) -> None:
    """The signed tree checkpoints: size, time of the witnesses' cosignatures."""
    tree = state.engine.audit.tree
    assert tree is not None
    rows = [
        (
            c.size,
            [
                (w.witness, w.timestamp)
                for w in cosignatures(c.note, [x.verifier for x in tree.witnesses])
            ],
        )
        for c in tree.checkpoints()
    ]
    if state.as_json:
        emit_json(
            {
                "origin": tree.origin,
                "quorum": tree.quorum,
                "checkpoints": [
                    {"size": size, "witnesses": [{"name": n, "time": t} for n, t in ws]}
                    for size, ws in rows
                ],
            }
        )
        return
    say(f"log {tree.origin}, {tree.quorum} witness cosignatures required")
    t = table("tree checkpoints", "size", "witnessed by (time)")
    for size, ws in rows[-20:]:
        t.add_row(str(size), ", ".join(f"{n} ({when(ts)})" for n, ts in ws) or "-")
    console.print(t)


@audit.command(name="prove")
@click.argument("path", metavar="BUCKET/KEY")
@_OUTPUT
@pass_state
def audit_prove(state: State, path: str, output: Path | None) -> None:
    """Prove every audit record about BUCKET/KEY is in the log: an inclusion bundle
    against the newest signed (and witnessed) tree checkpoint, to verify offline with
    `domicile audit check-proof`."""
    bucket, key = split_path(path)
    tree = state.engine.audit.tree
    assert tree is not None
    _write(tree.prove(bucket, key), output)


@audit.command(name="consistency")
@click.argument("old", type=click.IntRange(1))
@click.argument("new", type=click.IntRange(1))
@_OUTPUT
@pass_state
def audit_consistency(state: State, old: int, new: int, output: Path | None) -> None:
    """Prove the tree checkpoint of size NEW extends the one of size OLD (history only
    grew in between): a consistency bundle for `domicile audit check-proof`."""
    tree = state.engine.audit.tree
    assert tree is not None
    _write(tree.consistency(old, new), output)


@audit.command(name="check-proof")
@click.argument("bundle_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option("--log-key", required=True, help="The log's vkey (`domicile audit log-key`).")
@click.option("--witness", "witnesses", multiple=True, help="A witness's vkey (repeatable).")
@click.option("--quorum", type=click.IntRange(0), default=None, help="Cosignatures needed "
              "(default: every --witness).")  # fmt: skip
@click.pass_context
def audit_check_proof(
    ctx: click.Context,
    bundle_file: Path,
    log_key: str,
    witnesses: tuple[str, ...],
    quorum: int | None,
) -> None:
    """Verify a proof bundle offline, with public keys only (no deployment needed): the
    records it proves, or the consistency of two checkpoints. Exit 12 if it does not verify."""
    as_json = bool(ctx.find_root().params.get("as_json"))
    try:
        bundle = json.loads(bundle_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ProofInvalid(f"{bundle_file} is not a JSON proof bundle: {err}") from err
    if not isinstance(bundle, dict):
        raise ProofInvalid(f"{bundle_file} is not a JSON proof bundle")
    log = log_verifier(log_key)
    ws = [witness_verifier(w) for w in witnesses]
    need = len(ws) if quorum is None else quorum
    if bundle.get("format") == CONSISTENCY_FORMAT:
        old, new = verify_consistency_bundle(bundle, log, ws, need)
        result: dict[str, Any] = {"ok": True, "old": old.head.size, "new": new.head.size}
        message = f"tree {new.head.size} extends tree {old.head.size}"
        cosigned = new.cosigned_by
    elif bundle.get("format") == INCLUSION_FORMAT:
        head, records = verify_inclusion_bundle(bundle, log, ws, need)
        result = {
            "ok": True,
            "size": head.head.size,
            "records": [
                {"seq": r.seq, "action": r.action, "bucket": r.bucket, "key": r.key, "time": r.time}
                for r in records
            ],
        }
        message = f"{len(records)} records proved in tree {head.head.size}"
        cosigned = head.cosigned_by
    else:
        raise ProofInvalid(
            f"{bundle_file} is neither a {INCLUSION_FORMAT} nor a {CONSISTENCY_FORMAT} bundle"
        )
    result["witnesses"] = [c.witness for c in cosigned]
    if as_json:
        emit_json(result)
    else:
        by = ", ".join(c.witness for c in cosigned) or "no witness"
        say(("proof verified", "green"), f": {message}, cosigned by {by}")


COMMANDS = ()
