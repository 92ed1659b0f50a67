"""Edits of the configuration file that keep the operator's comments and layout.

The file is parsed with tomlkit, which keeps every comment, blank line and the order of
keys, and accepts every shape TOML allows for a site: a ``[sites.<id>]`` table, an inline
table (``<id> = { template = ..., backend = { ... } }`` under ``[sites]``), or dotted
keys (``sites.<id>.status = ...``). :func:`edit_config` applies one change to the
document, validates the whole new text (``parse_config``, then the caller's ``check``,
which the layers above use for the residency model) and only then replaces the file,
atomically (a temp file in the same folder, fsync, rename, fsync of the folder) and with
the file's own permissions. Edits are serialised by an exclusive lock on a file beside the
configuration, so two commands editing it at once both keep their change; the holder of
that lock also removes temp files left by an editor killed mid-write.
"""

from __future__ import annotations

import fcntl
import os
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import tomlkit
from tomlkit.items import InlineTable, Table, Whitespace

from domicile.config import Config, load_config, parse_config
from domicile.errors import ConfigError

_T = TypeVar("_T")
Check = Callable[[Config], None]
#: The name of a new configuration's text before it replaces the file.
_TEMP_PREFIX, _TEMP_SUFFIX = ".domicile-edit-", ".toml"


def edit_config(
    path: Path, change: Callable[[tomlkit.TOMLDocument], _T], *, check: Check | None = None
) -> _T:
    """Apply ``change`` to the document at ``path`` and save it; return what it returned.

    The new text must be a valid configuration (and pass ``check``), else ConfigError and
    the file is left as it was.
    """
    path = load_config(path).path  # the file as it is must be valid: its errors first
    with _editing(path):
        return _edit(path, change, check)


@contextmanager
def _editing(path: Path) -> Iterator[None]:
    """Hold the configuration's edit lock; remove what dead editors left."""
    lock = path.with_name(f".{path.name}.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        for leftover in path.parent.glob(f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}"):
            leftover.unlink(missing_ok=True)  # no live editor: we hold the lock
        yield
    finally:
        os.close(fd)  # releases the lock


def _edit(path: Path, change: Callable[[tomlkit.TOMLDocument], _T], check: Check | None) -> _T:
    doc = tomlkit.parse(path.read_text(encoding="utf-8"))
    try:
        result = change(doc)
    except ConfigError as exc:
        if "file" in exc.context:
            raise
        raise ConfigError(
            f"{path}: {exc.message}", hint=exc.hint, **{**exc.context, "file": str(path)}
        ) from None
    new = tomlkit.dumps(doc)
    try:
        parsed = tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - tomlkit writes valid TOML
        raise ConfigError(f"the edit of {path} would not be valid TOML: {exc}") from None
    config = parse_config(parsed, path)
    if check is not None:
        check(config)
    _replace(path, new)
    return result


def sites_table(doc: tomlkit.TOMLDocument) -> Any:
    """The document's ``sites`` table, whatever its shape (added, empty, if missing)."""
    if "sites" not in doc:
        doc.add(tomlkit.nl())
        doc.add("sites", tomlkit.table(is_super_table=True))
    return doc["sites"]


def site_table(doc: tomlkit.TOMLDocument, site_id: str) -> Any:
    """The table of ``site_id`` (a table, an inline table or a dotted-key table);
    ConfigError naming the sites there are if there is none."""
    sites = doc.get("sites")
    body = sites.get(site_id) if isinstance(sites, Mapping) else None
    if not isinstance(body, Mapping):
        names = sorted(sites) if isinstance(sites, Mapping) else []
        raise ConfigError(
            f"no site {site_id!r} in the configuration",
            hint=f"the sites are {', '.join(names)}" if names else "the file defines no site",
            key=f"sites.{site_id}",
        )
    return body


def set_site_key(doc: tomlkit.TOMLDocument, site_id: str, key: str, value: Any) -> Any:
    """Set ``sites.<site_id>.<key>``; return its previous value (None if it was unset)."""
    body = site_table(doc, site_id)
    previous = body.get(key)
    body[key] = value
    return previous.unwrap() if hasattr(previous, "unwrap") else previous


def set_table_key(doc: tomlkit.TOMLDocument, table: str, key: str, value: Any) -> Any:
    """Set ``<table>.<key>`` (the table added at the end if missing); return the previous
    value (None if it was unset)."""
    if table not in doc:
        doc.add(tomlkit.nl())
        doc.add(table, tomlkit.table())
    body = doc[table]
    previous = body.get(key)
    body[key] = value
    return previous.unwrap() if hasattr(previous, "unwrap") else previous


def add_site(doc: tomlkit.TOMLDocument, site_id: str, body: Mapping[str, Any]) -> None:
    """Add the site ``site_id`` with the keys of ``body`` (a nested mapping is written as
    an inline table): a ``[sites.<id>]`` table after the last one, or an inline table
    where the sites are written as inline tables."""
    sites = sites_table(doc)
    if site_id in sites:
        raise ConfigError(
            f"site {site_id!r} is already in the configuration",
            hint="choose another name, or edit the existing site",
            key=f"sites.{site_id}",
        )
    if not (isinstance(sites, Table) and _holds_tables(sites)):
        sites[site_id] = _inline(body)  # inline tables and dotted keys: one inline entry
        return
    table = tomlkit.table()
    for key, value in body.items():
        table.add(key, _inline(value) if isinstance(value, Mapping) else value)
    tail = _detach_trailing(sites)
    last = _last_table(sites)
    if last is not None:
        sites[last].value.body.append((None, tomlkit.ws("\n")))
    sites.append(site_id, table)
    if tail:
        for item in tail:
            table.value.body.append((None, item))
    else:
        table.add(tomlkit.nl())


def remove_site(doc: tomlkit.TOMLDocument, site_id: str) -> None:
    """Remove the site ``site_id``'s table (and any comments written inside it)."""
    site_table(doc, site_id)
    sites = doc["sites"]
    tail = _detach_trailing(sites) if _last_table(sites) == site_id else []
    del sites[site_id]
    last = _last_table(sites)
    if tail and last is not None:
        body = sites[last].value.body
        while body and body[-1][0] is None and isinstance(body[-1][1], Whitespace):
            body.pop()
        body.extend((None, item) for item in tail)


def _holds_tables(sites: Table) -> bool:
    """Whether the sites are written as ``[sites.<id>]`` tables (or there are none yet)."""
    entries = [k for k, _ in sites.value.body if k is not None]
    return not entries or _last_table(sites) is not None


def _last_table(sites: Any) -> str | None:
    """The id of the last site written as a ``[sites.<id>]`` table."""
    names = [
        k.key
        for k, v in getattr(getattr(sites, "value", None), "body", [])
        if k is not None and not k.is_dotted() and isinstance(v, Table)
    ]
    return names[-1] if names else None


def _detach_trailing(sites: Any) -> list[Any]:
    """Take the comments that follow the last site table after a blank line (they
    introduce what comes next in the file) off that table, so that a new table goes
    before them; return them."""
    last = _last_table(sites) if isinstance(sites, Table) else None
    if last is None:
        return []
    body: list[tuple[Any, Any]] = sites[last].value.body
    end = len(body)
    while end > 0 and body[end - 1][0] is None:
        end -= 1
    for i in range(end, len(body)):
        item = body[i][1]
        if isinstance(item, Whitespace) and "\n" in item.as_string():
            tail = [v for _, v in body[i:]]
            del body[i:]
            return tail
    return []


def _inline(value: Mapping[str, Any]) -> InlineTable:
    """``value`` as an inline table written ``{ key = value, ... }`` (the example's style)."""
    parts = [
        f"{tomlkit.key(k).as_string()} = "
        + (_inline(v).as_string() if isinstance(v, Mapping) else tomlkit.item(v).as_string())
        for k, v in value.items()
    ]
    entry = tomlkit.parse("x = { " + ", ".join(parts) + " }\n")["x"]
    assert isinstance(entry, InlineTable)
    return entry


def _replace(path: Path, text: str) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
