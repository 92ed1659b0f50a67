"""open_site: from a site's backend table to a Site, with precise errors for bad tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from domicile.errors import ConfigError, SiteUnavailable
from domicile.sites import LocalSite, MemorySite, open_site


def test_local_relative_path_resolves_against_base_dir(tmp_path: Path) -> None:
    site = open_site("a", {"type": "local", "path": "data/a"}, base_dir=tmp_path, create=True)
    assert isinstance(site, LocalSite)
    assert site.root == tmp_path / "data" / "a"
    site.put("b1", [b"x"])
    assert (tmp_path / "data" / "a" / ".domicile-site").exists()


def test_local_absolute_path_ignores_base_dir(tmp_path: Path) -> None:
    target = tmp_path / "abs"
    site = open_site("a", {"type": "local", "path": str(target)}, base_dir=Path("/nowhere"))
    assert isinstance(site, LocalSite)
    assert site.root == target


def test_opening_does_no_io_and_never_creates(tmp_path: Path) -> None:
    site = open_site("a", {"type": "local", "path": "missing"}, base_dir=tmp_path)
    assert not (tmp_path / "missing").exists()
    with pytest.raises(SiteUnavailable, match="is missing"):
        site.put("b1", [b"x"])
    assert not (tmp_path / "missing").exists()


def test_local_fsync_flag(tmp_path: Path) -> None:
    backend = {"type": "local", "path": "s", "fsync": False}
    site = open_site("a", backend, base_dir=tmp_path, create=True)
    assert site.put("b1", [b"x"]) == 1


def test_memory() -> None:
    site = open_site("m", {"type": "memory"}, base_dir=Path())
    assert isinstance(site, MemorySite)
    assert site.site_id == "m"


@pytest.mark.parametrize("kind", ["ftp", None, 3, "LOCAL"])
def test_unknown_type_names_it_and_lists_known_ones(kind: object) -> None:
    with pytest.raises(ConfigError) as info:
        open_site("x", {"type": kind}, base_dir=Path())
    assert repr(kind) in info.value.message
    assert "local, memory" in (info.value.hint or "")
    assert info.value.context["key"] == "sites.x.backend.type"


@pytest.mark.parametrize(
    ("backend", "key"),
    [
        ({"type": "local"}, "sites.x.backend.path"),
        ({"type": "local", "path": ""}, "sites.x.backend.path"),
        ({"type": "local", "path": 5}, "sites.x.backend.path"),
        ({"type": "local", "path": "a\x00b"}, "sites.x.backend.path"),
        ({"type": "local", "path": "p", "fsync": "yes"}, "sites.x.backend.fsync"),
        ({"type": "local", "path": "p", "bucket": "b"}, "sites.x.backend.bucket"),
        ({"type": "memory", "path": "p"}, "sites.x.backend.path"),
    ],
)
def test_bad_backend_tables(backend: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_site("x", backend, base_dir=Path())
    assert info.value.context["key"] == key
    assert info.value.hint
