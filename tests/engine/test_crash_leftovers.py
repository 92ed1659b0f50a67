"""What writers killed mid-write leave on local sites, and the sweep that removes it:
never a live writer's temp file, whatever the grace period."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import domicile
from domicile.errors import ObjectNotFound
from domicile.sites import LocalSite
from domicile.sites.layout import TEMP
from tests.engine.conftest import make_deployment

MiB = 1024 * 1024

# A large PUT through the library whose body stalls after 3.5 MiB (1 MiB segments): the
# fourth segment's temp files are open on both sites when the parent kills the process.
STALLED_PUT = """
import sys, time, domicile
def body():
    block = bytes(range(256)) * 256  # 64 KiB
    for _ in range(56):
        yield block
    print("stalled", flush=True)
    time.sleep(600)
with domicile.open(sys.argv[1]) as engine:
    engine.put("docs", "big", body())
"""

# A slow writer straight on a local site: writes 64 KiB pieces until the file GO exists.
SLOW_WRITER = """
import sys, time
from pathlib import Path
from domicile.sites import LocalSite
site, go = LocalSite("w", Path(sys.argv[1])), Path(sys.argv[2])
def chunks():
    block = b"w" * 65536
    yield block
    print("writing", flush=True)
    while not go.exists():
        time.sleep(0.02)
    yield block
print(site.put("bslow", chunks()), flush=True)
"""


def temp_files(root: Path) -> dict[str, list[Path]]:
    return {site: sorted((root / "sites" / site / TEMP).iterdir()) for site in ("fr", "de", "us")}


def wait_until(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return make_deployment(tmp_path)


def test_kill_9_during_a_large_put_leaves_temp_files_that_the_sweep_removes(
    config: Path, tmp_path: Path
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", STALLED_PUT, str(config)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "stalled"
        wait_until(
            lambda: any(p.stat().st_size > 0 for ps in temp_files(tmp_path).values() for p in ps)
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    left = {site: files for site, files in temp_files(tmp_path).items() if files}
    assert set(left) == {"fr", "de"}  # the policy's two sites, never the refused one
    sizes = {p.name: p.stat().st_size for files in left.values() for p in files}
    with domicile.open(config) as engine:
        kept = engine.sweep()  # the default grace (24 h): too young to be judged
        assert kept.leftovers == 0 and temp_files(tmp_path) == {**left, "us": []}
        dry = engine.sweep(grace=0, dry_run=True)
        assert dry.leftovers == len(sizes) and temp_files(tmp_path) == {**left, "us": []}
        report = engine.sweep(grace=0)
        assert report.leftovers == len(sizes)
        by_site = {s.site_id: s for s in report.sites}
        for site, files in left.items():
            assert sorted(by_site[site].leftovers) == sorted(p.name for p in files)
            assert by_site[site].leftover_bytes == sum(sizes[p.name] for p in files)
        assert by_site["us"].leftovers == []
        assert temp_files(tmp_path) == {"fr": [], "de": [], "us": []}
        # the segments finished before the kill are orphans: swept in the same run
        assert by_site["fr"].removed and by_site["de"].removed
        with pytest.raises(ObjectNotFound):
            engine.head("docs", "big")
        assert engine.sweep(grace=0).leftovers == 0


@pytest.fixture
def slow_writer(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    root = tmp_path / "slow"
    LocalSite.create("w", root)
    go = tmp_path / "go"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_WRITER, str(root), str(go)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
        yield proc, root, go
    finally:
        go.touch()
        proc.wait(timeout=30)
        assert proc.stdout is not None
        proc.stdout.close()


def test_a_live_writers_temp_file_is_never_swept(
    slow_writer: tuple[subprocess.Popen[str], Path, Path],
) -> None:
    proc, root, go = slow_writer
    site = LocalSite("w", root)
    [tmp] = list((root / TEMP).iterdir())
    wait_until(lambda: tmp.stat().st_size == 65536)
    assert site.sweep_temp(24 * 3600) == []  # the default grace: written a moment ago
    os.utime(tmp, (1, 1))  # a writer stalled for decades still holds its file's lock
    assert site.sweep_temp(0, dry_run=True) == []
    assert site.sweep_temp(0) == []
    assert tmp.exists()
    go.touch()
    assert proc.wait(timeout=30) == 0
    assert proc.stdout is not None and proc.stdout.readline().strip() == str(2 * 65536)
    assert site.head("bslow").size == 2 * 65536  # the writer finished, its blob is whole
    assert list((root / TEMP).iterdir()) == []


def test_a_killed_writers_temp_file_is_swept_at_once_with_grace_0(
    slow_writer: tuple[subprocess.Popen[str], Path, Path],
) -> None:
    proc, root, _ = slow_writer
    [tmp] = list((root / TEMP).iterdir())
    wait_until(lambda: tmp.stat().st_size == 65536)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    site = LocalSite("w", root)
    assert site.sweep_temp(3600) == []  # younger than the grace period: kept
    [gone] = site.sweep_temp(0)
    assert (gone.name, gone.size) == (tmp.name, 65536)
    assert not tmp.exists()


def test_a_writer_whose_fresh_temp_file_was_swept_before_its_lock_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window between creating a temp file and locking it: a sweep with grace 0 that
    takes the file then costs the writer a new temp file, never its blob."""
    site = LocalSite.create("w", tmp_path / "w")
    real_flock = fcntl.flock
    swept: list[str] = []

    def flock_after_a_sweep(fd: int, op: int) -> None:
        if not swept and op == fcntl.LOCK_EX:
            swept.extend(t.name for t in LocalSite("w", tmp_path / "w").sweep_temp(-60))
        real_flock(fd, op)

    monkeypatch.setattr("domicile.sites.local.fcntl.flock", flock_after_a_sweep)
    assert site.put("bx", [b"payload"]) == len(b"payload")
    assert len(swept) == 1
    assert b"".join(site.get("bx")) == b"payload"
    assert list((tmp_path / "w" / TEMP).iterdir()) == []


def test_sites_without_writer_scratch_report_none(tmp_path: Path) -> None:
    from domicile.sites import MemorySite, RetryingSite, SweepsTemp

    assert not isinstance(MemorySite("m"), SweepsTemp)
    assert RetryingSite(MemorySite("m")).sweep_temp(0) == []
    local = LocalSite.create("l", tmp_path / "l")
    (tmp_path / "l" / TEMP / "dead").write_bytes(b"x")
    os.utime(tmp_path / "l" / TEMP / "dead", (1, 1))
    assert [t.name for t in RetryingSite(local).sweep_temp(60)] == ["dead"]


def test_a_writer_gives_up_when_every_fresh_temp_file_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domicile.errors import SiteUnavailable
    from domicile.sites.local import TEMP_ATTEMPTS

    site = LocalSite.create("w", tmp_path / "w")
    real_flock = fcntl.flock
    taken: list[str] = []

    def flock_after_a_sweep(fd: int, op: int) -> None:
        if op == fcntl.LOCK_EX:
            taken.extend(t.name for t in LocalSite("w", tmp_path / "w").sweep_temp(-60))
        real_flock(fd, op)

    monkeypatch.setattr("domicile.sites.local.fcntl.flock", flock_after_a_sweep)
    with pytest.raises(SiteUnavailable, match="vanished"):
        site.put("bx", [b"payload"])
    assert len(taken) == TEMP_ATTEMPTS
    assert list((tmp_path / "w" / TEMP).iterdir()) == []


def test_a_site_refusing_the_leftover_sweep_still_has_its_orphans_swept(
    config: Path, tmp_path: Path
) -> None:
    """E.g. S3 credentials that may not list multipart uploads: the error is reported and
    the orphan sweep of that site goes on."""
    from domicile.errors import SiteAccessDenied
    from domicile.sites import Leftover, RetryingSite

    class NoUploadListing(RetryingSite):
        def sweep_temp(
            self, older_than: float = 3600.0, *, dry_run: bool = False
        ) -> list[Leftover]:
            raise SiteAccessDenied("ListMultipartUploads refused", site=self.site_id)

    with domicile.open(config) as engine:
        sites = engine.context.sites
        sites["fr"].put("b" + "0" * 32, [b"orphan of a crashed write"])
        [orphan] = list((tmp_path / "sites" / "fr").rglob("b" + "0" * 32))
        os.utime(orphan, (1, 1))
        sites["fr"] = NoUploadListing(sites["fr"])
        report = engine.sweep(grace=3600)
        [fr] = [s for s in report.sites if s.site_id == "fr"]
        assert fr.removed == ["b" + "0" * 32] and not orphan.exists()
        assert fr.error is not None and "SiteAccessDenied" in fr.error
