"""Building a site from its configuration: the ``backend`` table of ``[sites.<id>]``.

Known backend types and their keys::

    {type = "local", path = "...", fsync = true}   a folder (relative: to the config file)
    {type = "memory"}                              a throw-away dict, for tests and demos
    {type = "s3", endpoint = "...", bucket = "..."} any S3-compatible bucket (docs/s3-sites.md)

Each type has one opener in ``_OPENERS``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from domicile.errors import ConfigError
from domicile.sites.base import Site
from domicile.sites.local import LocalSite
from domicile.sites.memory import MemorySite
from domicile.sites.s3_config import open_s3_site

_Opener = Callable[[str, Mapping[str, Any], Path, bool], Site]


def open_site(
    site_id: str, backend: Mapping[str, Any], *, base_dir: Path, create: bool = False
) -> Site:
    """The :class:`Site` that ``backend`` describes.

    ``create=True`` makes a missing local folder a site folder (``LocalSite.create``): do
    it when a site is set up, never on an ordinary start, so that an unmounted disk shows as
    SiteUnavailable instead of being silently replaced by an empty folder. Raises
    ConfigError, naming the site and the key, for a bad or unknown backend.
    """
    kind = backend.get("type")
    opener = _OPENERS.get(kind) if isinstance(kind, str) else None
    if opener is None:
        raise ConfigError(
            f"site {site_id}: unknown backend type {kind!r}",
            hint=f"set sites.{site_id}.backend.type to one of: {', '.join(sorted(_OPENERS))}",
            site=site_id,
            key=f"sites.{site_id}.backend.type",
        )
    return opener(site_id, backend, base_dir, create)


def _open_local(site_id: str, backend: Mapping[str, Any], base_dir: Path, create: bool) -> Site:
    _only_keys(site_id, backend, {"type", "path", "fsync"})
    path, fsync = backend.get("path"), backend.get("fsync", True)
    if not isinstance(path, str) or not path or "\x00" in path:
        raise ConfigError(
            f"site {site_id}: a local backend needs a folder path, got {path!r}",
            hint=f'set sites.{site_id}.backend.path = "/srv/domicile/{site_id}" (a folder '
            "path; relative paths are relative to the config file)",
            site=site_id,
            key=f"sites.{site_id}.backend.path",
        )
    if not isinstance(fsync, bool):
        raise ConfigError(
            f"site {site_id}: backend.fsync must be true or false, got {fsync!r}",
            hint="leave fsync out (true): turning it off risks losing blobs on a power cut",
            site=site_id,
            key=f"sites.{site_id}.backend.fsync",
        )
    root = (base_dir / Path(path).expanduser()).absolute()
    if create:
        return LocalSite.create(site_id, root, fsync=fsync)
    return LocalSite(site_id, root, fsync=fsync)


def _open_memory(site_id: str, backend: Mapping[str, Any], base_dir: Path, create: bool) -> Site:
    _only_keys(site_id, backend, {"type"})
    return MemorySite(site_id)


def _only_keys(site_id: str, backend: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(backend) - allowed)
    if unknown:
        raise ConfigError(
            f"site {site_id}: unknown backend key(s) {', '.join(unknown)} "
            f"for type {backend.get('type')!r}",
            hint=f"the keys of this backend type are: {', '.join(sorted(allowed))}",
            site=site_id,
            key=f"sites.{site_id}.backend.{unknown[0]}",
        )


_OPENERS: dict[str, _Opener] = {
    "local": _open_local,
    "memory": _open_memory,
    "s3": open_s3_site,
}
