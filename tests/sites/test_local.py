"""LocalSite runs the conformance suite, plus its own guarantees: the folder, the layout,
containment, permissions, full disks and torn reads."""

from __future__ import annotations

import os
import shutil
import stat
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from domicile.errors import (
    BlobNotFound,
    ConfigError,
    InvalidName,
    SiteCorrupt,
    SiteFull,
    SiteUnavailable,
)
from domicile.sites import FaultySite, LocalSite, Site, new_blob_id
from domicile.sites.layout import MARKER, MARKER_TEXT, TEMP, fan_of

from .conformance import MiB, SiteConformance, payload, read


class TestLocalSite(SiteConformance):
    @pytest.fixture
    def site(self, tmp_path: Path) -> Site:
        return LocalSite.create("local-a", tmp_path / "site")


class TestLocalSiteNoFsync(SiteConformance):
    @pytest.fixture
    def site(self, tmp_path: Path) -> Site:
        return LocalSite.create("local-b", tmp_path / "site", fsync=False)


@pytest.fixture
def local(tmp_path: Path) -> LocalSite:
    return LocalSite.create("local-a", tmp_path / "site")


def temp_files(site: LocalSite) -> list[str]:
    return sorted(p.name for p in (site.root / TEMP).iterdir())


# --- the site folder -----------------------------------------------------------------------


def test_vanished_folder_is_unavailable_and_not_recreated(local: LocalSite) -> None:
    local.put("b1", [b"data"])
    shutil.rmtree(local.root)
    calls: list[Callable[[], object]] = [
        lambda: local.put("b2", [b"x"]),
        lambda: read(local, "b1"),
        lambda: local.head("b1"),
        lambda: local.delete("b1"),
        lambda: list(local.list()),
        local.sweep_temp,
    ]
    for call in calls:
        with pytest.raises(SiteUnavailable) as info:
            call()
        err = info.value
        assert err.retryable
        assert err.context["site"] == "local-a"
        assert str(local.root) in err.message
        assert "is missing" in err.message
        assert "mount or recreate the folder" in (err.hint or "")
        assert "suspended" in (err.hint or "")
    assert not local.root.exists()


def test_folder_without_marker_is_refused(tmp_path: Path) -> None:
    mount_point = tmp_path / "disk"
    mount_point.mkdir()  # what an unmounted disk looks like: an empty folder
    site = LocalSite("local-a", mount_point)
    with pytest.raises(SiteUnavailable, match=r"no \.domicile-site marker"):
        site.put("b1", [b"data"])
    with pytest.raises(SiteUnavailable):
        site.head("b1")
    assert list(mount_point.iterdir()) == []


def test_create_is_idempotent_and_makes_parents(tmp_path: Path) -> None:
    root = tmp_path / "a" / "b" / "site"
    site = LocalSite.create("s", root)
    site.put("keep", [b"1"])
    again = LocalSite.create("s", root)
    assert read(again, "keep") == b"1"
    assert (root / MARKER).read_bytes() == MARKER_TEXT


def test_create_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty") as info:
        LocalSite.create("s", tmp_path)
    assert info.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_root_may_be_a_link_to_the_real_folder(tmp_path: Path) -> None:
    real = LocalSite.create("s", tmp_path / "real")
    (tmp_path / "link").symlink_to(real.root)
    site = LocalSite("s", tmp_path / "link")
    site.put("b1", [b"via link"])
    assert read(real, "b1") == b"via link"


# --- layout and permissions ----------------------------------------------------------------


def test_disk_holds_only_ids_and_blob_bytes(local: LocalSite) -> None:
    blobs = {new_blob_id(): os.urandom(n) for n in (0, 10, 70_000)}
    blobs["m-manifest-1"] = b"ciphertext"
    for blob_id, data in blobs.items():
        local.put(blob_id, [data])
    seen = {}
    for folder, dirs, files in os.walk(local.root):
        rel = Path(folder).relative_to(local.root)
        for name in files:
            if rel == Path() and name == MARKER:
                continue
            assert rel == Path(fan_of(name)), f"unexpected file {rel / name}"
            seen[name] = (Path(folder) / name).read_bytes()
        for name in dirs:
            assert (rel == Path() and name == TEMP) or len(name) == 2, name
    assert seen == blobs  # exactly the blobs, byte for byte: no header, name or metadata
    assert temp_files(local) == []
    for path in local.root.rglob("*"):
        assert "local-a" not in path.name
    assert (local.root / MARKER).read_bytes() == MARKER_TEXT


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o077])
def test_files_0600_folders_0700(tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        site = LocalSite.create("s", tmp_path / "site")
        site.put("b1", [b"x"])
    finally:
        os.umask(old)
    for path in [site.root, *site.root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_list_ignores_foreign_entries(local: LocalSite) -> None:
    local.put("real", [b"1"])
    (local.root / "README").write_text("not a blob")
    wrong_fan = next(f"{n:02x}" for n in range(256) if f"{n:02x}" != fan_of("stray"))
    (local.root / wrong_fan).mkdir(exist_ok=True)
    (local.root / wrong_fan / "stray").write_bytes(b"misplaced")
    (local.root / fan_of("real") / "Bad Name").write_bytes(b"x")
    (local.root / TEMP / "upload-in-progress").write_bytes(b"partial")
    assert [i.blob_id for i in local.list()] == ["real"]


# --- containment ---------------------------------------------------------------------------


def test_planted_folder_link_is_refused(local: LocalSite, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"secret outside")
    (local.root / fan_of("victim")).symlink_to(outside)
    with pytest.raises(SiteCorrupt, match="outside the site folder"):
        local.put("victim", [b"overwrite"])
    for call in (lambda: read(local, "victim"), lambda: local.head("victim")):
        with pytest.raises(SiteCorrupt):
            call()
    with pytest.raises(SiteCorrupt):
        local.delete("victim")
    assert list(local.list()) == []
    assert [p.name for p in outside.iterdir()] == ["victim"]
    assert (outside / "victim").read_bytes() == b"secret outside"
    assert temp_files(local) == []


def test_planted_file_link_is_never_followed(local: LocalSite, tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret outside")
    local.put("other", [b"x"])  # makes sure fan folders exist for some ids
    fan_dir = local.root / fan_of("victim")
    fan_dir.mkdir(exist_ok=True)
    (fan_dir / "victim").symlink_to(secret)
    with pytest.raises(SiteCorrupt, match="not a regular file"):
        read(local, "victim")
    with pytest.raises(SiteCorrupt):
        local.head("victim")
    assert [i.blob_id for i in local.list()] == ["other"]
    local.put("victim", [b"replaces the link itself"])
    assert secret.read_bytes() == b"secret outside"
    assert read(local, "victim") == b"replaces the link itself"
    (fan_dir / "victim").unlink()
    (fan_dir / "victim").symlink_to(secret)
    local.delete("victim")
    assert secret.read_bytes() == b"secret outside"
    assert not (fan_dir / "victim").is_symlink()


def test_planted_temp_link_is_refused(local: LocalSite, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (local.root / TEMP).rmdir()
    (local.root / TEMP).symlink_to(outside)
    with pytest.raises(SiteCorrupt):
        local.put("b1", [b"x"])
    assert list(outside.iterdir()) == []


def test_sweep_never_follows_a_planted_temp_link(local: LocalSite, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    old = outside / "precious"
    old.write_bytes(b"not a temp file")
    os.utime(old, (0, 0))
    (local.root / TEMP).rmdir()
    (local.root / TEMP).symlink_to(outside)
    with pytest.raises(SiteCorrupt):
        local.sweep_temp(0)
    assert old.read_bytes() == b"not a temp file"


def test_directory_in_place_of_a_blob_is_corrupt(local: LocalSite) -> None:
    (local.root / fan_of("odd")).mkdir()
    (local.root / fan_of("odd") / "odd").mkdir()
    with pytest.raises(SiteCorrupt):
        local.head("odd")


# --- full disks, dying uploads, torn reads --------------------------------------------------


def test_full_disk_via_faulty_site(local: LocalSite) -> None:
    site = FaultySite(local)
    site.put("old", [b"o" * 1000])
    site.fill_after(4000)
    site.put("fits", [b"f" * 3000])
    with pytest.raises(SiteFull) as info:
        site.put("old", [b"n" * 600, b"n" * 600])
    assert info.value.context["site"] == "local-a"
    assert read(local, "old") == b"o" * 1000
    with pytest.raises(SiteFull):
        site.put("new", [b"n" * 1001])
    with pytest.raises(BlobNotFound):
        local.head("new")
    assert temp_files(local) == []
    site.delete("fits")
    assert site.put("new", [b"n" * 1001]) == 1001


def test_full_disk_for_real(small_fs: Path) -> None:
    site = LocalSite.create("tiny", small_fs / "site")
    site.put("keep", [payload(100_000)])
    with pytest.raises(SiteFull) as info:
        site.put("huge", (payload(64 * 1024, seed=i) for i in range(32)))  # 2 MiB > 1 MiB
    err = info.value
    assert "tiny" in err.message
    assert "ENOSPC" in err.message
    assert "free space" in (err.hint or "")
    assert not err.retryable
    assert temp_files(site) == []
    with pytest.raises(BlobNotFound):
        site.head("huge")
    with pytest.raises(SiteFull):
        site.put("keep", [payload(2 * MiB)])
    assert read(site, "keep") == payload(100_000)
    assert site.put("small", [b"s" * 200_000]) == 200_000  # the space was given back
    assert [i.blob_id for i in site.list()] == ["keep", "small"]


def test_upload_dying_midway_leaves_nothing(local: LocalSite) -> None:
    site = FaultySite(local)
    site.die_after(1_500_000)
    with pytest.raises(SiteUnavailable, match="died after"):
        site.put("torn", (payload(500_000, seed=i) for i in range(6)))
    with pytest.raises(BlobNotFound):
        local.head("torn")
    assert temp_files(local) == []
    assert site.put("torn", [b"second try"]) == 10


def test_file_truncated_while_read_is_corrupt(local: LocalSite) -> None:
    local.put("shrinks", [payload(3 * MiB)])
    stream = local.get("shrinks")
    assert len(next(stream)) == MiB
    os.truncate(local.root / fan_of("shrinks") / "shrinks", MiB + 10)
    with pytest.raises(SiteCorrupt, match="short of its size") as info:
        list(stream)
    assert info.value.context["blob"] == "shrinks"


def test_blob_gone_between_head_and_open_is_not_found(local: LocalSite) -> None:
    local.put("racy", [b"1"])
    stream = local.get("racy")
    local.delete("racy")
    with pytest.raises(BlobNotFound):
        list(stream)


def test_get_reads_one_mib_pieces(local: LocalSite) -> None:
    local.put("big", [payload(2 * MiB + 1)])
    assert [len(p) for p in local.get("big")] == [MiB, MiB, 1]


# --- temp files -------------------------------------------------------------------------------


def test_sweep_temp_removes_only_stale_files(local: LocalSite) -> None:
    stale, fresh = local.root / TEMP / "stale", local.root / TEMP / "fresh"
    stale.write_bytes(b"crashed upload")
    fresh.write_bytes(b"upload in progress")
    hours_ago = time.time() - 7200
    os.utime(stale, (hours_ago, hours_ago))
    assert [t.name for t in local.sweep_temp(3600)] == ["stale"]
    assert temp_files(local) == ["fresh"]
    assert [t.name for t in local.sweep_temp(0)] == ["fresh"]
    assert temp_files(local) == []


def test_missing_temp_folder_is_recreated_inside_a_site(local: LocalSite) -> None:
    (local.root / TEMP).rmdir()
    assert local.sweep_temp() == []
    local.put("b1", [b"x"])
    assert read(local, "b1") == b"x"


@pytest.mark.parametrize("bad", ["../x", "a\x00b", "é" * 1000], ids=repr)
def test_names_are_checked_before_the_folder(tmp_path: Path, bad: str) -> None:
    site = LocalSite("s", tmp_path / "no-such-folder")
    for call in (
        lambda: site.put(bad, [b"x"]),
        lambda: read(site, bad),
        lambda: site.head(bad),
        lambda: site.delete(bad),
        lambda: list(site.list(bad)),
    ):
        with pytest.raises(InvalidName):
            call()
    assert not (tmp_path / "no-such-folder").exists()


def test_a_link_that_stays_inside_the_root_is_allowed(local: LocalSite) -> None:
    inside = local.root / "ff-elsewhere"
    inside.mkdir()
    (local.root / fan_of("linked")).symlink_to(inside)
    local.put("linked", [b"inside"])
    assert read(local, "linked") == b"inside"
    assert (inside / "linked").read_bytes() == b"inside"
