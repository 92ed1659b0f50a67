"""Nothing user-facing goes undocumented: commands, config keys, exit codes."""

from __future__ import annotations

from pathlib import Path

import click

from domicile.cli.exitcodes import EXIT_CODES
from domicile.cli.main import cli
from domicile.config import (
    AccessKeySection,
    AuditSection,
    BucketSection,
    DeploymentSection,
    GatewaySection,
    RegistrySection,
    TenantSection,
    WitnessSection,
)

DOCS = Path(__file__).parent.parent / "docs"


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            names += _commands(command, f"{prefix}{name} ")
        else:
            names.append(f"{prefix}{name}")
    return names


def test_every_command_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    commands = _commands(cli)
    assert len(commands) >= 15
    missing = [c for c in commands if f"`domicile {c}" not in text]
    assert not missing, f"undocumented commands in docs/cli.md: {missing}"


def test_every_option_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for group in [cli]:
        for param in group.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in ("--help", "--version"):
                    assert f"`{opt}" in text, f"global option {opt} is undocumented"


def test_every_config_key_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    for model in (
        DeploymentSection,
        BucketSection,
        GatewaySection,
        TenantSection,
        AccessKeySection,
        AuditSection,
        WitnessSection,
        RegistrySection,
    ):
        for key in model.model_fields:
            assert f"`{key}`" in text, f"config key {key} is undocumented"


def test_every_exit_code_is_documented() -> None:
    text = (DOCS / "cli.md").read_text()
    for cls, code in EXIT_CODES:
        assert f"`{cls.__name__}`" in text, f"{cls.__name__} is missing from the exit codes"
        assert f"| {code} |" in text


def test_the_readme_lists_every_doc() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    listed = readme.split("## Documentation", 1)[1]
    missing = [
        page.name for page in sorted(DOCS.glob("*.md")) if f"](docs/{page.name})" not in listed
    ]
    assert not missing, f"README.md's documentation list misses {missing}"
