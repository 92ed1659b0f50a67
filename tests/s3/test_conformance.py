"""S3Site passes the shared Site conformance suite on both real servers (Swift, SeaweedFS)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from testbed.servers import Server

from domicile.sites import Site
from domicile.sites.s3 import S3Site

from ..sites.conformance import SiteConformance
from .conftest import Bucket, site_maker


def _atomic_condition(site: Site) -> bool:
    """Swift honours ``If-None-Match: *`` against a stored object but not between racing
    PUTs (each replica checks before writing, without a lock: all six racers win, see
    tests/s3/test_put_once.py); SeaweedFS decides them atomically."""
    return "swift" not in site.site_id


class TestS3Site(SiteConformance):
    @pytest.fixture
    def site(self, make_site: Callable[..., S3Site]) -> Site:
        return make_site()

    def exclusive_under_race(self, site: Site) -> bool:
        return _atomic_condition(site)


class TestS3SiteUnderPrefix(SiteConformance):
    """The same, each test under its own key prefix of one shared bucket, beside other
    sites' blobs and another tool's objects (which the site must neither list nor touch)."""

    @pytest.fixture
    def site(self, s3_server: Server, shared_buckets: dict[str, Bucket]) -> Iterator[Site]:
        shared = shared_buckets[s3_server.name]
        prefix = f"tenant-{uuid.uuid4().hex[:12]}/domicile"
        for key in ("readme.txt", "domicile/sub/not-a-blob", "domicile/UPPER", "domicile-b0"):
            shared.client.put_object(Bucket=shared.name, Key=f"{prefix[:-9]}/{key}", Body=b"x")
        with site_maker(shared) as make:
            yield make(prefix=prefix)

    def exclusive_under_race(self, site: Site) -> bool:
        return _atomic_condition(site)
