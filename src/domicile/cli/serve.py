"""``domicile serve``: the S3 gateway over this deployment, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, say
from domicile.config import GatewaySection
from domicile.display import table
from domicile.errors import ConfigError
from domicile.gateway import logs
from domicile.gateway.app import Gateway
from domicile.gateway.server import Server, exit_abandoning, run
from domicile.gateway.workers import Supervisor, check_free

#: The bucket the printed aws commands create (unless it exists) and use.
TRY_BUCKET = "my-bucket"


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
    "--workers",
    type=click.IntRange(1, 64),
    help="Processes serving the API ([gateway] workers; more than one uses every core).",
)
@click.option(
    "--show-secret",
    is_flag=True,
    help="Put the first tenant's secret in the printed aws commands (what make run does).",
)
@pass_state
def serve(
    state: State, listen: str | None, log_level: str, workers: int | None, show_secret: bool
) -> None:
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
    overrides = {"listen": listen, "workers": workers}
    settings = GatewaySection.model_validate(
        {**config.gateway.model_dump(), **{k: v for k, v in overrides.items() if v}}
    )
    logs.configure(log_level)
    if settings.workers > 1:
        supervisor = Supervisor(state.config_path, settings, settings.workers, log_level=log_level)
        endpoint = f"{settings.scheme}://{supervisor.listen}"
        supervisor.run(lambda: _banner(state, endpoint, settings, show_secret=show_secret))
    else:
        check_free(settings.host, settings.port)
        gateway = Gateway(engine, settings)
        server = Server(gateway)
        _banner(state, server.endpoint, settings, show_secret=show_secret)
        try:
            run(server)
        finally:
            abandoned = gateway.close()
        if abandoned:
            state.reopen()  # closes the engine: the audit head is signed
            say(
                f"gateway stopped; {abandoned} request(s) still waiting on a site that "
                f"stopped answering were abandoned after {settings.shutdown_grace:g} s; "
                "audit head signed"
            )
            exit_abandoning(abandoned)
    say("gateway stopped; in-flight requests finished, audit head signed")


def _banner(state: State, endpoint: str, settings: GatewaySection, *, show_secret: bool) -> None:
    engine = state.engine
    config = engine.config
    workers = f" ({settings.workers} worker processes)" if settings.workers > 1 else ""
    say(("domicile S3 gateway", "bold"), " on ", (endpoint, "bold"), workers)
    for warning in engine.registry_warnings():
        say(("warning:", "yellow"), " ", warning)
    rows = table(None, "tenant", "access key", "secret in", "buckets")
    for name, tenant in config.tenants.items():
        buckets = ", ".join(b.name for b in engine.list_buckets(name)) or "-"
        for key in tenant.keys:
            where = f"${key.secret_env}" if key.secret_env else config.path.name
            rows.add_row(name, key.access_key, where, buckets)
    console.print(rows)
    first = next(iter(config.tenants.values())).keys[0]
    policies = engine.policy_names()
    secret = shlex.quote(first.secret_value()) if show_secret else "<its secret>"
    env = (
        f"AWS_ACCESS_KEY_ID={first.access_key} "
        f"AWS_SECRET_ACCESS_KEY={secret} "
        f"AWS_DEFAULT_REGION={policies[0] if policies else 'us-east-1'}"
    )
    ca = (
        f" --ca-bundle {shlex.quote(str(config.base_dir / settings.tls_cert))}"
        if settings.tls_cert
        else ""
    )
    say("\n", ("Try it", "bold"), " (in another terminal; the region names the bucket's policy):")
    aws = _beside_me("aws") or "aws"
    exists = any(b.name == TRY_BUCKET for b in engine.list_buckets())  # a second make run
    for command in (
        *(() if exists else (f"s3 mb s3://{TRY_BUCKET}",)),
        f"s3 cp ./README.md s3://{TRY_BUCKET}/readme.md",
        f"s3 ls s3://{TRY_BUCKET}/",
    ):
        console.print(
            f"  {env} {aws} --endpoint-url {endpoint}{ca} {command}",
            soft_wrap=True,
        )
    me = _beside_me("domicile") or "domicile"
    say(
        "\nthen ",
        (
            f"{me} --config {shlex.quote(str(state.config_path))} where {TRY_BUCKET}/readme.md",
            "bold",
        ),
        " shows where its copies rest. Ctrl-C stops the gateway.",
    )


def _beside_me(program: str) -> str | None:
    """``program`` in the folder of the running ``domicile`` (``.venv/bin/aws`` after
    ``make``), quoted for a shell, or None when this is not a ``domicile`` script or the
    program is not there."""
    me = Path(sys.argv[0])
    if me.name != "domicile" or not (me.parent / program).is_file():
        return None
    return shlex.quote(str(me.parent / program))


COMMANDS = (serve,)
