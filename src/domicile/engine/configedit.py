"""Targeted edits of the configuration file that keep the user's comments and layout."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from domicile.config import load_config
from domicile.errors import ConfigError
from domicile.policy import SiteStatus, load_world

_HEADER = re.compile(r"^\s*\[\s*sites\.(?:\"(?P<q>[^\"]+)\"|(?P<b>[A-Za-z0-9_-]+))\s*\]")
_STATUS = re.compile(r"^\s*status\s*=")


def set_site_status(config_path: Path, site_id: str, status: str) -> str:
    """Set ``status`` of ``[sites.<site_id>]`` in the file; return the previous status.

    The edited file is validated as a whole before it replaces the old one, atomically.
    """
    try:
        new = SiteStatus(status)
    except ValueError:
        raise ConfigError(
            f"unknown site status {status!r}",
            hint=f"one of {', '.join(s.value for s in SiteStatus)}",
        ) from None
    config = load_config(config_path)
    world = load_world(config.entities, config.sites, config.policies, source=str(config.path))
    if site_id not in world.sites:
        raise ConfigError(
            f"no site {site_id!r} in {config.path}",
            hint=f"the sites are {', '.join(sorted(world.sites))}",
        )
    previous = world.sites[site_id].status.value
    lines = config.path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(
        i for i, line in enumerate(lines) if (m := _HEADER.match(line)) and site_id in m.groups()
    )
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    entry = f'status = "{new.value}"\n'
    for i in range(start + 1, end):
        if _STATUS.match(lines[i]):
            lines[i] = entry
            break
    else:
        lines.insert(start + 1, entry)
    _replace(config.path, "".join(lines))
    return previous


def _replace(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".domicile-", suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        config = load_config(tmp)
        load_world(config.entities, config.sites, config.policies, source=str(path))
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
