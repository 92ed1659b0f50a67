"""Bucket data identities in the catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from domicile.catalog import BucketKey, SqlCatalog
from domicile.errors import CatalogConflict


def _key(version: int, kind: str = "x25519", sites: tuple[str, ...] = ("de", "fr")) -> BucketKey:
    return BucketKey("docs", version, kind, f"age1r{version}", b"\x00wrapped\xff" * 20, sites)


def test_versions_are_kept_in_order_and_one_version_is_taken_once(catalog: SqlCatalog) -> None:
    assert catalog.bucket_keys("docs") == []
    catalog.add_bucket_key(_key(2, "mlkem768x25519", ()))
    catalog.add_bucket_key(_key(1))
    with pytest.raises(CatalogConflict):
        catalog.add_bucket_key(_key(1, sites=("us",)))
    found = catalog.bucket_keys("docs")
    assert [(k.version, k.kind, k.sites, k.wrapped) for k in found] == [
        (1, "x25519", ("de", "fr"), b"\x00wrapped\xff" * 20),
        (2, "mlkem768x25519", (), b"\x00wrapped\xff" * 20),
    ]
    assert found[0].created_at > 0
    assert catalog.bucket_keys("other") == []
    with pytest.raises(ValueError, match="unknown bucket key kind"):
        catalog.add_bucket_key(_key(3, "rsa"))


def test_one_version_or_every_version_is_forgotten(catalog: SqlCatalog) -> None:
    for version in (1, 2, 3):
        catalog.add_bucket_key(_key(version))
    catalog.forget_bucket_key("docs", 2)
    assert [k.version for k in catalog.bucket_keys("docs")] == [1, 3]
    assert catalog.forget_bucket_keys("docs") == 2
    assert catalog.bucket_keys("docs") == []
