"""Residency commands: sites, policy explain."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import click

from domicile.cli.exitcodes import RESIDENCY_REFUSED
from domicile.cli.planview import print_summary
from domicile.cli.state import State, pass_state
from domicile.cli.ui import console, emit_json, say, styled
from domicile.display import table
from domicile.engine import set_site_status
from domicile.engine.siteconfig import add_site, backend_from_spec, init_site, remove_site
from domicile.policy import explain_json, explain_text


@click.group(invoke_without_command=True)
@click.pass_context
def sites(ctx: click.Context) -> None:
    """The configured sites: country, operator, legal exposure, status and health."""
    if ctx.invoked_subcommand is not None:
        return
    state = ctx.find_object(State)
    assert state is not None
    if state.as_json:
        emit_json([asdict(v) for v in state.engine.sites()])
    else:
        print_sites(state)
    warn_registry(state)


def warn_registry(state: State) -> None:
    """What is out of date in the registry in use, on stderr (stdout stays parseable)."""
    for warning in state.engine.registry_warnings():
        say(("warning:", "yellow"), " ", warning, err=True)


def print_sites(state: State, only: str | None = None) -> None:
    """The sites table (only site ``only``'s row if given)."""
    views = [v for v in state.engine.sites() if only is None or v.site_id == only]
    t = table("sites", "site", "country", "operator", "provider", "subject to", "status", "health")
    for v in views:
        if not v.healthy:
            health = styled(("open", "red"), f" {v.last_error}")
        elif v.latency_ms is not None:
            health = styled(("ok", "green"), f" {v.latency_ms:.1f} ms")
            if v.p99_ms is not None:
                health.append(f" (p50 {v.p50_ms:.1f}, p99 {v.p99_ms:.1f})")
        else:
            health = styled(("ok", "green"))
        t.add_row(
            v.site_id,
            v.country,
            v.operator,
            v.provider,
            ", ".join(v.subject_to),
            v.status,
            health,
        )
    console.print(t)


@sites.command(name="set-status")
@click.argument("site")
@click.argument("status", type=click.Choice(["active", "draining", "suspended", "retired"]))
@pass_state
def sites_set_status(state: State, site: str, status: str) -> None:
    """Set SITE's STATUS in the configuration, then show the plan it calls for."""
    previous = set_site_status(state.config_path, site, status)
    state.reopen()
    state.engine.record_event("site_status", sites=(site,), detail={"from": previous, "to": status})
    plan = state.engine.plan()
    if state.as_json:
        emit_json({"site": site, "previous": previous, "status": status, "plan": plan.to_json()})
        return
    say(f"site {site}: {previous} -> {status}")
    print_summary(plan)
    if not plan.empty:
        say("run 'domicile apply' to carry it out")


@sites.command(name="add")
@click.argument("name")
@click.option("--template", help="A registry template (provider:region), e.g. aws:eu-central-1.")
@click.option(
    "--backend",
    "spec",
    required=True,
    help="local:PATH (a folder, relative to the configuration file) or s3://BUCKET[/PREFIX].",
)
@click.option("--endpoint", help="The S3 service's URL (s3:// backends).")
@click.option("--region", help="The S3 signing region (s3:// backends).")
@click.option("--access-key-env", help="The variable holding the S3 access key id.")
@click.option("--secret-key-env", help="The variable holding the S3 secret key.")
@click.option("--country", help="Where the hardware is (ISO 3166), over the template's.")
@click.option("--operator", help="The operating legal entity, over the template's.")
@click.option("--provider", help="The failure domain, over the template's.")
@pass_state
def sites_add(  # noqa: PLR0917 (click passes every option by name, one argument each)
    state: State,
    name: str,
    template: str | None,
    spec: str,
    endpoint: str | None,
    region: str | None,
    access_key_env: str | None,
    secret_key_env: str | None,
    country: str | None,
    operator: str | None,
    provider: str | None,
) -> None:
    """Add site NAME to the configuration and make its storage ready (a local folder is
    created; an S3 bucket must answer and take a write), then show it and the plan."""
    backend = backend_from_spec(
        spec,
        endpoint=endpoint,
        region=region,
        access_key_env=access_key_env,
        secret_key_env=secret_key_env,
    )
    given = {"template": template, "country": country, "operator": operator}
    body: dict[str, Any] = {k: v for k, v in given.items() if v}
    if provider:
        body["provider"] = provider
    body["backend"] = backend
    done = add_site(state.config_path, name, body)
    state.reopen()
    plan = state.engine.plan()
    if state.as_json:
        view = next(v for v in state.engine.sites() if v.site_id == name)
        emit_json({"site": asdict(view), "storage": done, "plan": plan.to_json()})
        return
    say(f"added site {name} to {state.config_path}: {done}")
    print_sites(state, only=name)
    print_summary(plan)
    if plan.steps:
        say("run 'domicile apply' to carry it out")


@sites.command(name="init")
@click.argument("name")
@pass_state
def sites_init(state: State, name: str) -> None:
    """Make the storage of site NAME, written into the configuration by hand, ready: its
    folder created and marked as a site folder, or its S3 bucket proven writable."""
    done = init_site(state.config_path, name)
    if state.as_json:
        emit_json({"site": name, "storage": done})
    else:
        say(f"site {name}: {done}")


@sites.command(name="remove")
@click.argument("name")
@pass_state
def sites_remove(state: State, name: str) -> None:
    """Remove site NAME from the configuration; refused while it holds copies (drain it
    first). Its folder or bucket is left as it is."""
    remove_site(state.engine, name)
    state.reopen()
    if state.as_json:
        emit_json({"site": name, "removed": True})
        return
    say(f"removed site {name} from {state.config_path} (its storage is left as it is)")


@click.group()
def policy() -> None:
    """Residency policies."""


@policy.command(name="explain")
@click.argument("bucket")
@pass_state
def policy_explain(state: State, bucket: str) -> None:
    """Which sites a new object in BUCKET would go to, and why each other site is refused
    (sites are probed: one that does not answer is passed over); exit 5 if REFUSED."""
    decision = state.engine.explain(bucket)
    failures = state.engine.site_failures()
    if state.as_json:
        emit_json(explain_json(decision, failures))
    else:
        click.echo(explain_text(decision, failures))
    warn_registry(state)
    if not decision.ok:
        raise SystemExit(RESIDENCY_REFUSED)


COMMANDS = (sites, policy)
