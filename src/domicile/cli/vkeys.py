"""Public keys given on the command line as vkeys (``name+id+base64``): the audit log's
note key (``--log-key``) and witnesses' cosignature keys (``--witness``)."""

from __future__ import annotations

import click

from domicile.audit.note import Verifier, verifier_from_vkey
from domicile.audit.tlog import CosignatureVerifier


def log_verifier(vkey: str) -> Verifier:
    """A ``--log-key`` option's verifier (BadParameter when it is no Ed25519 note key)."""
    try:
        return verifier_from_vkey(vkey)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--log-key") from err


def witness_verifier(vkey: str) -> CosignatureVerifier:
    """A ``--witness`` option's verifier (BadParameter when it is no witness key)."""
    try:
        return CosignatureVerifier.from_vkey(vkey)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--witness") from err
