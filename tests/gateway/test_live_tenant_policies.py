"""Tenants limited to some policies (``[tenants.<name>] policies``), through a live
gateway: CreateBucket with another policy is AccessDenied, naming the allowed ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.gateway.conftest import LIVE_POLICIES
from tests.gateway.live import ACCESS_KEY, OTHER_KEY, OTHER_SECRET, SECRET, Live, run_gateway

TENANTS = f"""
[tenants.acme]
keys = [{{ access_key = "{ACCESS_KEY}", secret = "{SECRET}" }}]
policies = ["fr-only"]

[tenants.globex]
keys = [{{ access_key = "{OTHER_KEY}", secret = "{OTHER_SECRET}" }}]
"""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    root: Path = tmp_path_factory.mktemp("gw-tenant-policies")
    with run_gateway(root, extra=LIVE_POLICIES, extra_sites=("ch",), tenants=TENANTS) as running:
        yield running


def test_a_policy_outside_the_tenants_list_is_access_denied(live: Any) -> None:
    with pytest.raises(ClientError) as exc:
        live.client().create_bucket(
            Bucket="acme-eu", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
        )
    err = exc.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (
        "AccessDenied",
        403,
    )
    assert "fr-only" in err["Error"]["Message"] and "eu-only" in err["Error"]["Message"]
    assert "acme-eu" not in {b.name for b in live.engine.list_buckets()}


def test_an_allowed_policy_and_the_only_one_as_default(live: Any) -> None:
    s3 = live.client()
    s3.create_bucket(Bucket="acme-fr", CreateBucketConfiguration={"LocationConstraint": "fr-only"})
    s3.create_bucket(Bucket="acme-default")  # the tenant's only policy
    assert live.engine.bucket("acme-fr").policy == "fr-only"
    assert live.engine.bucket("acme-default").policy == "fr-only"


def test_a_tenant_without_a_list_may_use_every_policy(live: Any) -> None:
    s3 = live.client(OTHER_KEY, OTHER_SECRET)
    s3.create_bucket(
        Bucket="globex-eu", CreateBucketConfiguration={"LocationConstraint": "eu-only"}
    )
    assert live.engine.bucket("globex-eu").policy == "eu-only"
