"""Audit records of CLI commands that change keys (issue 8 item 1)."""

from __future__ import annotations

from pathlib import Path

import domicile
from tests.cli.conftest import Run


def test_keys_new_records_key_created_with_the_recipient_only(deployment: Path, run: Run) -> None:
    cfg = ("--config", str(deployment))
    new = run(*cfg, "--json", "keys", "new").json()["recipient"]
    with domicile.open(deployment) as engine:
        created = [r for r in engine.audit.records() if r.action == "key_created"]
    assert [r.detail["source"] for r in created] == ["keyring", "keys_new"]
    assert created[-1].detail["recipient"] == new
    assert created[-1].actor.startswith("cli:")
    assert all("AGE-SECRET" not in r.canonical.decode().upper() for r in created)
