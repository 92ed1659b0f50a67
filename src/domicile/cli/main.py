"""Entry point of the ``domicile`` command: global options and error rendering."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from domicile.cli import (
    audit,
    audit_proofs,
    buckets,
    keys,
    locks,
    objects,
    plans,
    registry,
    report,
    residency,
    serve,
    setup,
    shred,
    tenants,
    upkeep,
    witness,
)
from domicile.cli.exitcodes import exit_code
from domicile.cli.state import State
from domicile.cli.ui import print_error
from domicile.config import CONFIG_ENV
from domicile.errors import DomicileError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar=CONFIG_ENV,
    default=Path("domicile-data/domicile.toml"),
    show_default=True,
    help=f"The deployment's configuration file (or set {CONFIG_ENV}).",
)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
@click.version_option(package_name="domicile")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, as_json: bool) -> None:
    """domicile: keep encrypted copies of your objects only where your policy allows."""
    ctx.obj = ctx.with_resource(State(config_path, as_json))


for module in (
    setup,
    objects,
    buckets,
    locks,
    residency,
    keys,
    upkeep,
    plans,
    registry,
    audit,
    audit_proofs,
    report,
    serve,
    shred,
    tenants,
    witness,
):
    for command in module.COMMANDS:
        cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; domicile errors become a message, a hint and an exit code."""
    try:
        cli.main(args=argv, prog_name="domicile", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except DomicileError as exc:
        as_json = "--json" in (argv if argv is not None else sys.argv[1:])
        print_error(exc, as_json=as_json)
        sys.exit(exit_code(exc))
    except BrokenPipeError:
        sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
