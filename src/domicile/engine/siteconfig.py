"""Changes to the sites of a deployment's configuration file, checked before they land.

The edit itself (comments and layout kept, atomic replace) is the configuration layer's
(:mod:`domicile.config.edit`); here each change is also checked against the residency
model, so that a change that would make a policy unsatisfiable never reaches the file.
"""

from __future__ import annotations

from pathlib import Path

from domicile.config import Config
from domicile.config.edit import edit_config, set_site_key
from domicile.errors import ConfigError
from domicile.policy import SiteStatus, load_world


def check_world(config: Config) -> None:
    """ConfigError unless ``config``'s entities, sites and policies make a valid world."""
    load_world(config.entities, config.sites, config.policies, source=str(config.path))


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
