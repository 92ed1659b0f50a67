"""The protocol's helpers, the errno table and the package's public API."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import domicile.sites as sites
from domicile.errors import (
    InvalidName,
    InvalidRange,
    SiteAccessDenied,
    SiteFull,
    SiteUnavailable,
)
from domicile.sites.base import check_blob_id, check_prefix, check_range, chunk_views, new_blob_id
from domicile.sites.oserrors import site_error_from_os


def test_public_api() -> None:
    assert sorted(sites.__all__) == [
        "BlobInfo",
        "FaultySite",
        "Leftover",
        "LocalSite",
        "LocksBlobs",
        "MemorySite",
        "ReadOnlySite",
        "RetryingSite",
        "Site",
        "SweepsTemp",
        "check_blob_id",
        "new_blob_id",
        "open_site",
    ]
    for name in sites.__all__:
        assert getattr(sites, name) is not None


def test_new_blob_ids_are_random_and_valid() -> None:
    ids = {new_blob_id() for _ in range(1000)}
    assert len(ids) == 1000
    for blob_id in ids:
        assert check_blob_id(blob_id) == blob_id
        assert blob_id.startswith("b")
        assert len(blob_id) == 33
    assert new_blob_id("m").startswith("m")
    with pytest.raises(InvalidName):
        new_blob_id("Bad/")


def test_invalid_name_error_does_not_echo_a_huge_id() -> None:
    with pytest.raises(InvalidName) as info:
        check_blob_id("X" * 2000)
    assert "a-z, 0-9" in (info.value.hint or "")
    assert len(info.value.message) < 100


def test_check_prefix() -> None:
    assert check_prefix("") == ""
    assert check_prefix("-") == "-"
    with pytest.raises(InvalidName):
        check_prefix("../")


def test_check_range() -> None:
    check_range(0, None)
    check_range(5, 5)
    with pytest.raises(InvalidRange):
        check_range(-1, None)
    with pytest.raises(InvalidRange) as info:
        check_range(4, 3, site="s")
    assert info.value.context == {"site": "s"}


def test_chunk_views() -> None:
    assert [bytes(v) for v in chunk_views([b"a", bytearray(b"b"), memoryview(b"c")])] == [  # type: ignore[list-item]
        b"a",
        b"b",
        b"c",
    ]
    assert [bytes(v) for v in chunk_views(b"whole")] == [b"whole"]  # type: ignore[arg-type]
    wide = memoryview(bytearray(8)).cast("I")
    assert [v.nbytes for v in chunk_views([wide])] == [8]  # type: ignore[list-item]
    with pytest.raises(TypeError, match="bytes-like, not int"):
        list(chunk_views([1]))  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("code", "cls", "hint_part"),
    [
        (errno.ENOSPC, SiteFull, "free space"),
        (errno.EDQUOT, SiteFull, "free space"),
        (errno.EACCES, SiteAccessDenied, "read and write"),
        (errno.EROFS, SiteAccessDenied, "read-write"),
        (errno.EIO, SiteUnavailable, "mount or recreate"),
        (errno.ENOENT, SiteUnavailable, "mount or recreate"),
    ],
)
def test_errno_table(code: int, cls: type, hint_part: str) -> None:
    err = site_error_from_os(
        OSError(code, "boom"),
        site="s1",
        operation="put",
        path=Path("/srv/s1/.tmp/x"),
        root=Path("/srv/s1"),
        blob="b1",
    )
    assert type(err) is cls
    assert err.context == {
        "site": "s1",
        "operation": "put",
        "blob": "b1",
        "path": "/srv/s1/.tmp/x",
    }
    assert errno.errorcode[code] in err.message
    assert "s1" in err.message
    assert hint_part in (err.hint or "")
    assert err.retryable == (cls is SiteUnavailable)
