"""A deployment on three local-folder sites in a temporary folder, for engine tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import domicile
from domicile.crypto import Keyring
from domicile.engine import Domicile
from domicile.sites import LocalSite
from domicile.sites.layout import MARKER
from tests.conftest import deployment_catalog

CONFIG = """
[deployment]
name = "test"
segment_size_mib = 1
{catalog}

[sites.fr]
country = "FR"
operator = "ovh-sas"
provider = "ovhcloud"
backend = {{ type = "local", path = "sites/fr" }}

[sites.de]
country = "DE"
operator = "hetzner-online"
provider = "hetzner"
backend = {{ type = "local", path = "sites/de" }}

[sites.us]
template = "alibaba:us-west-1"
backend = {{ type = "local", path = "sites/us" }}
{extra}

[policies.eu-only]
allow = ["EU"]
deny_subject_to = ["CN"]
copies = 2
distinct = "provider"

[buckets.docs]
policy = "eu-only"
"""


def make_deployment(root: Path, extra: str = "", catalog: str | None = None) -> Path:
    """Write a three-site deployment under ``root``; return its config path. ``catalog``
    is its catalog URL (default: a SQLite file beside it)."""
    for site in ("fr", "de", "us"):
        LocalSite.create(site, root / "sites" / site)
    Keyring.create(root / "keyring.txt")
    path = root / "domicile.toml"
    line = f'catalog = "{catalog}"' if catalog else ""
    path.write_text(CONFIG.format(extra=extra, catalog=line))
    return path


@pytest.fixture
def config_path(tmp_path: Path, catalog_kind: str, request: pytest.FixtureRequest) -> Path:
    return make_deployment(tmp_path, catalog=deployment_catalog(catalog_kind, request))


@pytest.fixture
def engine(config_path: Path) -> Iterator[Domicile]:
    with domicile.open(config_path) as d:
        yield d


def drop_catalog(root: Path) -> None:
    """Delete the SQLite catalog under ``root`` (its WAL and shared-memory files too), as
    a lost catalog disk would: what is left is the sites' blobs and manifests."""
    for file in root.glob("catalog.db*"):
        file.unlink()


def put_until_on(
    engine: Domicile, bucket: str, keys: list[str], site: str, body: Callable[[], bytes]
) -> None:
    """Placement spreads by random version ids, so a handful of objects misses a given
    site a few times in a hundred; a test that needs a copy there puts ``keys[0]`` again
    (a fresh ``body()``) until one of ``keys`` has one."""
    for _ in range(200):
        if any(c.site_id == site for k in keys for c in engine.where(bucket, k)):
            return
        engine.put(bucket, keys[0], body())
    raise AssertionError(f"no placement chose {site} in 200 tries")


def blob_files(root: Path, site: str) -> list[Path]:
    """Every blob file a local site holds (temp files excluded)."""
    base = root / "sites" / site
    return sorted(
        p
        for p in base.rglob("*")
        if p.is_file()
        and ".tmp" not in p.parts
        and p.name != MARKER
        and not p.name.startswith(("ckpt-", "alog-", "tlog-", "bkey-"))  # evidence, keys
    )


def segment_files(engine: Domicile, root: Path, site: str) -> list[Path]:
    """The files of the objects' data (their segments' blobs) on a local site; a small
    object's one blob holds its manifest too (inline)."""
    catalog = engine.context.catalog
    ids = {
        s.blob_id for v in catalog.versions_on_site(site) for s in catalog.segments(v.version_id)
    }
    return [p for p in blob_files(root, site) if p.name in ids]


def first_reader(engine: Domicile, bucket: str, key: str) -> str:
    """The site a read of bucket/key tries first (healthy, then lowest probed latency)."""
    return engine.context.health.read_order([c.site_id for c in engine.where(bucket, key)])[0]
