"""A seeded deployment for the residency report: three buckets of two tenants under two
policies, six sites in five countries, then a handover that turns some copies into
violations, a site set draining, one copy lost and one bucket verified."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import domicile
from domicile.crypto import Keyring
from domicile.engine import set_site_status
from domicile.sites import LocalSite
from tests.engine.conftest import blob_files, put_until_on

SITES = ("fra", "gra", "fsn", "waw", "sv", "sgp")

WORLD = """
[deployment]
name = "acme-eu"
segment_size_mib = 1

[entities.acme-de]
name = "ACME Cloud GmbH"
country = "DE"

[entities.acme-cn]
name = "ACME Beijing Operations Co., Ltd."
country = "CN"

[sites.fra]
country = "DE"
operator = "acme-de"
provider = "acme"
backend = { type = "local", path = "sites/fra" }

[sites.gra]
template = "ovhcloud:gra"
backend = { type = "local", path = "sites/gra" }

[sites.fsn]
template = "hetzner:fsn1"
backend = { type = "local", path = "sites/fsn" }

[sites.waw]
template = "scaleway:pl-waw"
backend = { type = "local", path = "sites/waw" }

[sites.sv]
template = "alibaba:us-west-1"
backend = { type = "local", path = "sites/sv" }

[sites.sgp]
template = "alibaba:ap-southeast-1"
backend = { type = "local", path = "sites/sgp" }

[policies.sovereign]
allow = ["EU"]
deny_subject_to = ["CN", "US"]
copies = 2
distinct = "provider"

[policies.global]
allow = ["EU", "US", "SG"]
copies = 2
distinct = "country"

[buckets.records]
policy = "sovereign"
tenant = "bank"

[buckets.ledger]
policy = "sovereign"
tenant = "bank"

[buckets.minutes]
policy = "global"
tenant = "board"
"""

#: Objects per bucket: (key, size).
OBJECTS = {
    "records": [(f"r/{i:02d}", 10_000 + 997 * i) for i in range(14)],
    "ledger": [(f"l/{i:02d}", 70_000 + 13 * i) for i in range(6)],
    "minutes": [(f"m/{i:02d}", 3_000 + 31 * i) for i in range(10)],
}


def seed(root: Path) -> Path:
    """Write, fill and then disturb the deployment; return its config path."""
    for site in SITES:
        LocalSite.create(site, root / "sites" / site)
    Keyring.create(root / "keyring.txt")
    path = root / "domicile.toml"
    path.write_text(WORLD)
    with domicile.open(path) as engine:
        for bucket, objects in OBJECTS.items():
            for key, size in objects:
                engine.put(bucket, key, os.urandom(size))
        size = OBJECTS["minutes"][0][1]  # the reports need a copy in Singapore
        keys = [k for k, _ in OBJECTS["minutes"]]
        put_until_on(engine, "minutes", keys, "sgp", lambda: os.urandom(size))
        for bucket in ("records", "ledger"):  # each needs a copy on fra: its shortfalls
            first = OBJECTS[bucket][0][1]
            keys = [k for k, _ in OBJECTS[bucket]]
            put_until_on(engine, bucket, keys, "fra", lambda n=first: os.urandom(n))
    # The Frankfurt operator is handed to a partner under Chinese law: its sovereign copies
    # become violations (the global policy does not mind). Warsaw starts draining.
    path.write_text(path.read_text().replace('operator = "acme-de"', 'operator = "acme-cn"'))
    set_site_status(path, "waw", "draining")
    with domicile.open(path) as engine:
        lost = _one_copy_of(engine, "minutes")
        for blob in blob_files(root, lost[1]):
            if blob.name == lost[0]:
                blob.unlink()
        engine.verify(bucket="minutes")
    return path


def _one_copy_of(engine: domicile.Domicile, bucket: str) -> tuple[str, str]:
    """(blob id, site) of the first segment of some copy in ``bucket``."""
    catalog = engine.context.catalog
    version = next(iter(catalog.iter_versions(bucket)))
    placement = catalog.placements(version.version_id)[0]
    return catalog.segments(version.version_id)[0].blob_id, placement.site_id


def buckets_of(tenant: str | None) -> Iterable[str]:
    tenants = {"records": "bank", "ledger": "bank", "minutes": "board"}
    return [b for b, t in tenants.items() if tenant is None or t == tenant]
