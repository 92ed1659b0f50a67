"""The commands that walk the whole deployment hold no more memory for more objects
(issue #22; bench/bench_scale.py measures the same at 10,000 and 100,000).

One deployment is filled through the library's ``put`` (every version, copy and audit
record a real one), measured, filled further and measured again, with the pages the walks
read (audit pages and history segments; catalog pages are 500) shrunk below the smaller
size, so that the peaks compare whole pages. Each command's peak of
Python allocations (tracemalloc) must not grow by more than :data:`SLACK` between the two
sizes: the old whole-chain ``audit verify`` grew ~3 KiB per record, ``report`` ~3 KiB and
``rebuild-catalog`` ~2.8 KiB per object, i.e. 11+ MiB over the objects added here.
"""

from __future__ import annotations

import gc
import io
import shutil
import subprocess
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import domicile
from domicile.report import report_json, write_json
from tests.engine.conftest import drop_catalog

SMALL, LARGE = 1_000, 5_000
MiB = 1024 * 1024
SLACK = 3 * MiB

CONFIG = """
[deployment]
checkpoint_every = 500
[sites.fr]
country = "FR"
operator = "ovh-sas"
provider = "ovhcloud"
backend = { type = "local", path = "sites/fr", fsync = false }
[sites.de]
country = "DE"
operator = "hetzner-online"
provider = "hetzner"
backend = { type = "local", path = "sites/de", fsync = false }
[policies.two]
allow = ["EU"]
copies = 2
[buckets.docs]
policy = "two"
"""


def deployment(root: Path) -> Path:
    from domicile.crypto import Keyring
    from domicile.sites import LocalSite

    for site in ("fr", "de"):
        LocalSite.create(site, root / "sites" / site)
    Keyring.create(root / "keyring.txt")
    path = root / "domicile.toml"
    path.write_text(CONFIG)
    return path


def fill(path: Path, start: int, stop: int) -> None:
    with domicile.open(path) as engine, ThreadPoolExecutor(4) as pool:
        for _ in pool.map(
            lambda i: engine.put("docs", f"k/{i:06d}", b"%d" % i), range(start, stop)
        ):
            pass


def peak(work: Callable[[], object]) -> int:
    """The peak of Python allocations while ``work`` runs."""
    gc.collect()
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    with domicile.open(path) as engine:
        out["audit verify"] = peak(lambda: _ok(engine.audit.verify()))
        out["report"] = peak(lambda: _report(engine))
    with rebuilt(path) as copy:
        out["rebuild-catalog"] = peak(lambda: _rebuild(copy))
    return out


def _rebuild(path: Path) -> None:
    """The whole command: open, rebuild, close (which signs the head and builds the
    transparency tree of the restored history from scratch)."""
    with domicile.open(path) as engine:
        report = engine.rebuild_catalog()
    assert report.versions and not report.problems, report.problems


def _ok(report: object) -> None:
    assert getattr(report, "ok", False), report


def _report(engine: domicile.Domicile) -> None:
    report = engine.report()
    assert report.objects and report.compliant
    sink = io.StringIO()
    write_json(report_json(report, engine.report_rows), sink)
    sink.seek(0)
    sink.truncate()


class rebuilt:
    """The deployment without its catalog, its sites hard-linked (what the rebuild signs and
    writes stays in the copy)."""

    def __init__(self, path: Path) -> None:
        self.root = path.parent.with_name(path.parent.name + "-rebuild")
        self.config = self.root / path.name
        self.path = path

    def __enter__(self) -> Path:
        shutil.rmtree(self.root, ignore_errors=True)
        subprocess.run(["cp", "-al", str(self.path.parent), str(self.root)], check=True)
        drop_catalog(self.root)
        return self.config

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


#: Every page and segment that a walk holds whole, shrunk below SMALL: both sizes then hold
#: whole pages, and what grows is what a page does not bound.
PAGES = (
    ("domicile.engine.auditlog", "_PAGE"),
    ("domicile.engine.auditseal", "_PAGE"),
    ("domicile.engine.tlog", "_PAGE"),
    ("domicile.engine.audithistory", "SEGMENT_RECORDS"),
)


@pytest.fixture
def grown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dict[str, int], dict[str, int]]]:
    for module, name in PAGES:
        monkeypatch.setattr(f"{module}.{name}", 400)
    root = tmp_path / "deployment"
    root.mkdir()
    path = deployment(root)
    fill(path, 0, SMALL)
    small = measure(path)
    fill(path, SMALL, LARGE)
    large = measure(path)
    yield small, large


def test_walking_commands_hold_no_more_memory_for_more_objects(
    grown: tuple[dict[str, int], dict[str, int]],
) -> None:
    small, large = grown
    grew = {name: (large[name] - small[name]) / MiB for name in small}
    shown = ", ".join(
        f"{n}: {small[n] / MiB:.1f} -> {large[n] / MiB:.1f} MiB" for n in sorted(small)
    )
    print(f"\npeak Python allocations, {SMALL:,} -> {LARGE:,} objects: {shown}")
    assert all(g < SLACK / MiB for g in grew.values()), shown
