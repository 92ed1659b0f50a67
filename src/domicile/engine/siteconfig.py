"""Changes to the sites of a deployment's configuration file, checked before they land.

The edit itself (comments and layout kept, atomic replace) is the configuration layer's
(:mod:`domicile.config.edit`); here each change is also checked against the residency
model, so that a change that would make a policy unsatisfiable never reaches the file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from domicile.config import Config, load_config
from domicile.config.edit import add_site as edit_add_site
from domicile.config.edit import edit_config, set_site_key
from domicile.config.edit import remove_site as edit_remove_site
from domicile.engine.registries import check_world
from domicile.errors import ConfigError, InvalidName, SiteError, SiteNotEmpty
from domicile.policy import SiteStatus
from domicile.sites import LocalSite, new_blob_id, open_site

if TYPE_CHECKING:
    from domicile.engine.api import Domicile


def set_site_status(config_path: Path, site_id: str, status: str) -> str:
    """Set ``status`` of site ``site_id`` in the file; return the previous status."""
    try:
        new = SiteStatus(status)
    except ValueError:
        raise ConfigError(
            f"unknown site status {status!r}",
            hint=f"one of {', '.join(s.value for s in SiteStatus)}",
        ) from None
    previous = edit_config(
        config_path,
        lambda doc: set_site_key(doc, site_id, "status", new.value),
        check=check_world,
    )
    return str(previous or SiteStatus.ACTIVE.value)


#: A site id: what ``sites add`` accepts (it names folders, audit records and S3 errors).
SITE_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def backend_from_spec(
    spec: str,
    *,
    endpoint: str | None = None,
    region: str | None = None,
    access_key_env: str | None = None,
    secret_key_env: str | None = None,
) -> dict[str, Any]:
    """The ``backend`` table for ``local:PATH`` or ``s3://BUCKET[/PREFIX]`` (with the S3
    ``endpoint`` and, optionally, region and the names of the key variables)."""
    if spec.startswith("local:") and spec.removeprefix("local:"):
        if endpoint or region or access_key_env or secret_key_env:
            raise ConfigError(
                "--endpoint, --region and the key options are for an s3:// backend",
                hint="drop them, or give --backend s3://BUCKET[/PREFIX]",
            )
        return {"type": "local", "path": spec.removeprefix("local:")}
    if spec.startswith("s3://") and spec.removeprefix("s3://").split("/", 1)[0]:
        bucket, _, prefix = spec.removeprefix("s3://").partition("/")
        if not endpoint:
            raise ConfigError(
                f"an s3 backend needs the endpoint of its service ({spec})",
                hint="add --endpoint https://s3.<region>.<provider>... (see docs/s3-sites.md)",
            )
        backend: dict[str, Any] = {"type": "s3", "endpoint": endpoint, "bucket": bucket}
        if prefix:
            backend["prefix"] = prefix if prefix.endswith("/") else prefix + "/"
        for key, value in (
            ("region", region),
            ("access_key_env", access_key_env),
            ("secret_key_env", secret_key_env),
        ):
            if value:
                backend[key] = value
        return backend
    raise ConfigError(
        f"unknown backend {spec!r}",
        hint="give local:PATH (a folder; relative to the configuration file) or "
        "s3://BUCKET[/PREFIX] with --endpoint URL",
    )


def add_site(config_path: Path, site_id: str, body: Mapping[str, Any]) -> str:
    """Add site ``site_id`` (its ``template``, ``backend``, ...) to the configuration file.

    Before the file changes, the new configuration is checked (the residency model
    included) and the site's storage is made ready: a local folder is created and marked
    as a site folder (an existing non-empty folder that is not one is refused); an S3
    bucket must answer, and a probe blob is written, read back and deleted. Returns a
    sentence saying what was done to the storage.
    """
    if not SITE_ID.fullmatch(site_id):
        raise InvalidName(
            f"invalid site name {site_id!r}",
            hint="1-63 characters of a-z, 0-9, '_' and '-', starting with a letter or digit",
        )
    done: list[str] = []

    def ready(config: Config) -> None:
        check_world(config)
        done.append(prepare_storage(config, site_id))

    edit_config(config_path, lambda doc: edit_add_site(doc, site_id, body), check=ready)
    return done[0]


def init_site(config_path: Path, site_id: str) -> str:
    """Make the storage of site ``site_id``, already in the configuration file (written by
    hand), ready: :func:`prepare_storage`. The file is not changed."""
    config = load_config(config_path)
    if site_id not in config.sites:
        raise ConfigError(
            f"{config.path}: no site {site_id!r}",
            hint=f"the sites are {', '.join(sorted(config.sites)) or 'none'}; "
            "'domicile sites add' adds one",
            file=str(config.path),
            key=f"sites.{site_id}",
        )
    check_world(config)
    return prepare_storage(config, site_id)


def prepare_storage(config: Config, site_id: str) -> str:
    """Make site ``site_id``'s storage ready and prove it takes a write: see
    :func:`add_site`. SiteError (naming the site and where) if it does not."""
    backend = config.sites[site_id].get("backend", {})
    site = open_site(site_id, backend, base_dir=config.base_dir, create=True)
    where = (
        f"folder {site.root}"
        if isinstance(site, LocalSite)
        else f"bucket {backend.get('bucket')} at {backend.get('endpoint')}"
        if backend.get("type") == "s3"
        else f"{backend.get('type')} storage"
    )
    probe = new_blob_id("probe-")
    data = b"domicile sites add: write probe\n"
    try:
        site.put(probe, [data])
        if b"".join(site.get(probe)) != data:
            raise SiteError(f"site {site_id}: the probe blob read back differs", site=site_id)
        site.delete(probe)
    except SiteError as exc:
        raise SiteError(
            f"site {site_id}: the {where} does not take a write: {exc.message}",
            hint="check the path or the endpoint, the bucket, the credentials and their "
            "write permission; the configuration was not changed",
            site=site_id,
        ) from None
    finally:
        site.close()
    if isinstance(site, LocalSite):
        return f"its {where} is a site folder and takes writes"
    return f"its {where} is reachable and takes writes"


def remove_site(engine: Domicile, site_id: str) -> None:
    """Remove site ``site_id`` from ``engine``'s configuration file; SiteNotEmpty while the
    catalog records copies (or multipart upload parts) on it. Its storage is not touched.
    """
    copies, parts = engine.site_holdings(site_id)
    if copies or parts:
        held = ", ".join(
            text
            for n, text in ((copies, f"{copies} object copies"), (parts, f"{parts} upload parts"))
            if n
        )
        raise SiteNotEmpty(
            f"site {site_id} still holds {held}",
            hint=f"drain it first: 'domicile sites set-status {site_id} draining', then "
            "'domicile apply' (which moves its copies away); remove it once 'domicile plan' "
            "has nothing left to move off it",
            site=site_id,
        )
    edit_config(engine.config.path, lambda doc: edit_remove_site(doc, site_id), check=check_world)
