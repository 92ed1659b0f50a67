"""The CLI prints text as written: no rich markup or emoji code can eat a name or a word.

Bucket names cannot hold brackets (S3's rules), but keys, metadata, site ids and policy
names can: each hostile name below is walked through the commands that print it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from domicile.cli.ui import styled
from tests.cli.conftest import Run

KEY = "q3/[bold]x[/] :smile: [sites].txt"
SITE = "[red]gra[/]"
POLICY = "[i]eu[/i]"
META = "[u]v[/u]"


def test_init_names_the_sections_to_edit(tmp_path: Path, run: Run) -> None:
    result = run("--config", str(tmp_path / "d" / "domicile.toml"), "init")
    assert result.code == 0, result.err
    assert "edit its [sites] and [policies], then: domicile policy explain reports" in result.out


def test_styled_pieces_are_not_markup() -> None:
    line = styled(("ok", "green"), " [bold]x[/] :smile:")
    assert line.plain == "ok [bold]x[/] :smile:"
    assert [(s.start, s.end, str(s.style)) for s in line.spans] == [(0, 2, "green")]


@pytest.fixture
def hostile(deployment: Path) -> Path:
    """The init deployment with a site and a policy renamed to markup-like names."""
    text = deployment.read_text()
    text = text.replace("[sites.ovh-gra]", f'[sites."{SITE}"]')
    text = text.replace("[policies.eu-only]", f'[policies."{POLICY}"]')
    text = text.replace('policy = "eu-only"', f'policy = "{POLICY}"')
    text = text.replace('default_policy = "eu-only"', f'default_policy = "{POLICY}"')
    deployment.write_text(text)
    return deployment


def _printed(out: str, *names: str) -> None:
    for name in names:
        assert name in out, f"{name!r} is not printed as written:\n{out}"
    assert "\N{SMILING FACE WITH SMILING EYES}" not in out
    assert "\N{SMILING FACE WITH OPEN MOUTH AND SMILING EYES}" not in out


def test_hostile_names_print_as_written(hostile: Path, run: Run, tmp_path: Path) -> None:
    cfg = ("--config", str(hostile))
    src = tmp_path / "in.txt"
    src.write_bytes(b"minutes\n")

    put = run(*cfg, "put", str(src), f"reports/{KEY}", "--meta", f"owner={META}")
    assert put.code == 0, put.err
    _printed(put.out, f"stored reports/{KEY}", SITE)

    _printed(run(*cfg, "ls", "reports", "--delimiter", "").out, KEY)
    _printed(run(*cfg, "ls", "reports").out, "q3/")
    _printed(run(*cfg, "ls", "reports", "--versions", "--delimiter", "").out, KEY)
    _printed(run(*cfg, "ls").out, POLICY)
    _printed(run(*cfg, "stat", f"reports/{KEY}").out, KEY, META)
    _printed(run(*cfg, "where", f"reports/{KEY}").out, KEY, SITE)
    _printed(run(*cfg, "sites").out, SITE)
    _printed(run(*cfg, "policy", "explain", "reports").out, SITE, POLICY)
    _printed(run(*cfg, "audit", "tail").out, KEY)
    _printed(run(*cfg, "report").out, SITE, POLICY)

    status = run(*cfg, "sites", "set-status", SITE, "draining")
    assert status.code == 0, status.err
    _printed(status.out, f"site {SITE}: active -> draining", KEY)

    missing = run(*cfg, "get", f"reports/{KEY}.gone", str(tmp_path / "out"))
    assert missing.code != 0
    _printed(missing.err, f"{KEY}.gone")

    rm = run(*cfg, "rm", f"reports/{KEY}")
    assert rm.code == 0, rm.err
    _printed(rm.out, f"removed reports/{KEY}")
