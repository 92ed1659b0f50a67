"""``domicile serve``: the S3 gateway over this deployment, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import shlex
import sys

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, table
from domicile.config import GatewaySection
from domicile.errors import ConfigError
from domicile.gateway import logs
from domicile.gateway.app import Gateway
from domicile.gateway.server import Server, run


@click.command()
@click.option("--listen", metavar="HOST:PORT", help="Address to listen on ([gateway] listen).")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Structured (JSON) log lines on stderr from this level up.",
)
@click.option(
    "--show-secret",
    is_flag=True,
    help="Put the first tenant's secret in the printed aws commands (what make run does).",
)
@pass_state
def serve(state: State, listen: str | None, log_level: str, show_secret: bool) -> None:
    """Serve the S3 API: every S3 client gets residency, encryption and copies unchanged."""
    engine = state.engine
    config = engine.config
    if not config.tenants:
        raise ConfigError(
            f"{config.path}: no [tenants] table: nobody could sign a request to the gateway",
            hint='add [tenants.NAME] keys = [{ access_key = "...", secret = "..." }]',
            file=str(config.path),
            key="tenants",
        )
    settings = config.gateway
    if listen:
        settings = GatewaySection.model_validate({**settings.model_dump(), "listen": listen})
    logs.configure(log_level)
    gateway = Gateway(engine, settings)
    server = Server(gateway)
    _banner(state, server, gateway, show_secret=show_secret)
    try:
        run(server)
    finally:
        gateway.close()
    console.print("gateway stopped; in-flight requests finished, audit head signed")


def _banner(state: State, server: Server, gateway: Gateway, *, show_secret: bool) -> None:
    config = gateway.engine.config
    say = console.print
    say(f"[bold]domicile S3 gateway[/] on [bold]{server.endpoint}[/]", highlight=False)
    rows = table(None, "tenant", "access key", "secret in", "buckets")
    for name, tenant in config.tenants.items():
        buckets = ", ".join(b.name for b in gateway.engine.list_buckets(name)) or "-"
        for key in tenant.keys:
            where = f"${key.secret_env}" if key.secret_env else config.path.name
            rows.add_row(name, key.access_key, where, buckets)
    say(rows)
    first = next(iter(config.tenants.values())).keys[0]
    policies = gateway.engine.policy_names()
    secret = shlex.quote(first.secret_value()) if show_secret else "<its secret>"
    env = (
        f"AWS_ACCESS_KEY_ID={first.access_key} "
        f"AWS_SECRET_ACCESS_KEY={secret} "
        f"AWS_DEFAULT_REGION={policies[0] if policies else 'us-east-1'}"
    )
    ca = (
        f" --ca-bundle {shlex.quote(str(config.base_dir / config.gateway.tls_cert))}"
        if (server.scheme == "https")
        else ""
    )
    say("\n[bold]Try it[/] (in another terminal; the region names the bucket's policy):")
    for command in (
        "s3 mb s3://my-bucket",
        "s3 cp ./README.md s3://my-bucket/readme.md",
        "s3 ls s3://my-bucket/",
    ):
        console.print(
            f"  {env} aws --endpoint-url {server.endpoint}{ca} {command}",
            highlight=False,
            soft_wrap=True,
        )
    me = shlex.quote(sys.argv[0]) if sys.argv[0].endswith("domicile") else "domicile"
    say(
        f"\nthen [bold]{me} --config {shlex.quote(str(state.config_path))} where "
        "my-bucket/readme.md[/] shows where its copies rest. Ctrl-C stops the gateway.",
        highlight=False,
    )


COMMANDS = (serve,)
